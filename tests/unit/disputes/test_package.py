"""Representment package: PDF pages, bookmarks and cover text; ZIP manifest; pre-flight; submit."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from workstation import config
from workstation.db import Database
from workstation.errors import UserError
from workstation.exporters.package import ascii_name
from workstation.models import DisputeEvent
from workstation.services.disputes.evidence import add_evidence, save_draft
from workstation.services.disputes.intake import upsert_disputes
from workstation.services.disputes.package import (
    export_package,
    limits_for,
    mark_submitted,
    preflight,
)

from .conftest import make_image, make_pdf


def new_case(db: Database, network: str = "visa", code: str = "13.1", psp: str = "stripe") -> int:
    with db.session() as s:
        rep = upsert_disputes(
            s,
            [
                {
                    "psp": psp,
                    "psp_dispute_id": "dp_PKG0001",
                    "network": network,
                    "reason_code": code,
                    "stage": "chargeback",
                    "status": "needs_response",
                    "amount_minor": 12_345,
                    "currency": "USD",
                    "due_by": dt.datetime.now(dt.UTC) + dt.timedelta(days=6),
                    "charge_ref": "ch_PKG0001",
                    "order_ref": "ORD-PKG-1",
                }
            ],
            "t",
        )
        config.put(s, "merchant.name", "Widget Works GmbH")
        config.put(s, "merchant.address", "Hauptstrasse 1, 10115 Berlin")
        return rep.dispute_ids[0]


def outline_titles(reader: PdfReader) -> list[object]:
    def walk(items: list) -> list[object]:
        out: list[object] = []
        for it in items:
            if isinstance(it, list):
                out.append(walk(it))
            else:
                out.append(it.title)
        return out

    return walk(reader.outline)


def test_package_pdf_and_zip(db: Database, files: dict[str, bytes], tmp_path: Path) -> None:
    did = new_case(db)
    kinds = {
        "receipt.pdf": "receipt",
        "photo.png": "proof_of_delivery",
        "label.jpg": "shipping_documentation",
        "notes.txt": "uncategorized",
        "mail.eml": "customer_communication",
        "log.csv": "access_activity_log",
        "access.xlsx": "access_activity_log",
    }
    with db.session() as s:
        for name, kind in kinds.items():
            add_evidence(s, did, files[name], name, kind=kind, actor="t")
        save_draft(s, did, "rebuttal", "The parcel was delivered and signed for on 2 July.", "t")
        save_draft(s, did, "product_description", "Blue widget, two pieces", "t")
        result = export_package(s, did, tmp_path / "pkg.zip", actor="t")
    report = result.report
    assert report.ok, report.text()
    with zipfile.ZipFile(tmp_path / "pkg.zip") as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        pdf_bytes = zf.read("dp_PKG0001_representment.pdf")
        for entry in manifest["files"]:
            data = zf.read(entry["name"])
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            assert len(data) == entry["size"]
    assert names[0] == "dp_PKG0001_representment.pdf" and names[-1] == "manifest.json"
    assert [e["name"] for e in manifest["files"]] == [
        "originals/01_receipt.pdf",
        "originals/02_photo.png",
        "originals/03_label.jpg",
        "originals/04_notes.txt",
        "originals/05_mail.eml",
        "originals/06_log.csv",
        "originals/07_access.xlsx",
    ]
    # The text original is shipped with its card number masked (as it is stored).
    shipped = files["notes.txt"].replace(b"4111 1111 1111 1111", b"411111******1111")
    assert manifest["files"][3]["sha256"] == hashlib.sha256(shipped).hexdigest()
    assert manifest["pdf"]["sha256"] == hashlib.sha256(pdf_bytes).hexdigest()

    reader = PdfReader(io.BytesIO(pdf_bytes))
    # cover + summary + index, then 2 (receipt) + 1 per image + 1 per short text item
    assert len(reader.pages) == 3 + 2 + 2 + 4 == manifest["pdf"]["pages"] == report.pages
    assert [e["pdf_first_page"] for e in manifest["files"]] == [4, 6, 7, 8, 9, 10, 11]
    titles = outline_titles(reader)
    assert titles[:4] == ["Cover letter", "Transaction summary", "Evidence index", "Evidence"]
    assert titles[4] == [
        "1. Receipt / order confirmation - receipt.pdf",
        "2. Proof of delivery (carrier confirmation, signature) - photo.png",
        "3. Shipping documentation (label, tracking) - label.jpg",
        "4. Other - notes.txt",
        "5. Customer communication (emails, chat) - mail.eml",
        "6. Access / activity log (logins, downloads, IP, device) - log.csv",
        "7. Access / activity log (logins, downloads, IP, device) - access.xlsx",
    ]
    assert reader.get_destination_page_number(reader.outline[4][0]) == 3
    cover = reader.pages[0].extract_text()
    for expected in (
        "Widget Works GmbH",
        "Hauptstrasse 1, 10115 Berlin",
        "dp_PKG0001",
        "13.1",
        "Merchandise/Services Not Received",
        "123.45 USD",
        "The parcel was delivered and signed for on 2 July.",
        "Blue widget, two pieces",
    ):
        assert expected in cover, expected
    summary = reader.pages[1].extract_text()
    assert "ch_PKG0001" in summary and "ORD-PKG-1" in summary
    index = reader.pages[2].extract_text()
    assert "receipt.pdf" in index and "4-5" in index
    notes_page = reader.pages[7].extract_text()
    assert "411111******1111" in notes_page and "4111 1111 1111 1111" not in notes_page
    assert "parcel arrived today" in reader.pages[8].extract_text()
    with db.session() as s:
        built = s.scalar(select(DisputeEvent).where(DisputeEvent.kind == "package_built"))
        assert built is not None and built.detail["pages"] == 11


def test_preflight_failure_report_and_force(db: Database, tmp_path: Path) -> None:
    did = new_case(db, network="mc", code="4853")
    with db.session() as s:
        add_evidence(s, did, make_pdf(17), "statement.pdf", kind="receipt", actor="t")
        add_evidence(s, did, make_image("PNG"), "photo.png", kind="proof_of_delivery", actor="t")
        report = preflight(s, did)
    assert not report.ok and report.pages == 3 + 17 + 1
    assert report.limits.max_pages == 19 and "network mastercard" in report.limits.sources
    failed = {c.name: c for c in report.failures}
    assert failed["pages"].message == "21 pages; limit 19: remove 2"
    assert failed["pages"].severity == "error"
    # PNG originals are not accepted by Mastercard, but Stripe takes the one PDF: a warning.
    assert failed["file_type"].severity == "warning"
    assert failed["rebuttal"].severity == "warning"
    text = report.text()
    assert text.startswith("pre-flight FAILED: 21 pages") and "[FAIL] 21 pages; limit 19" in text
    out = tmp_path / "pkg.zip"
    with db.session() as s, pytest.raises(UserError, match="pre-flight failed: 21 pages"):
        export_package(s, did, out, actor="t")
    assert not out.exists()
    with db.session() as s:
        forced = export_package(s, did, out, actor="t", force=True)
    assert forced.forced and out.exists()


def test_limits_are_the_strictest() -> None:
    mc = limits_for("adyen", "Mastercard")
    assert (mc.max_pages, mc.max_file_bytes, mc.upload) == (19, 2097152, "files")
    assert mc.allowed_types == ["application/pdf", "image/jpeg"]
    plain = limits_for("somepsp", "Visa")
    assert plain.max_pages == 50 and plain.upload == "pdf"


def test_custom_cover_template_and_submit(db: Database, tmp_path: Path) -> None:
    did = new_case(db)
    with db.session() as s:
        config.put(s, "disputes.cover_letter", "To whom it may concern: $case_id / $unknown_thing")
        add_evidence(s, did, make_pdf(1), "r.pdf", kind="receipt", actor="t")
        result = export_package(s, did, tmp_path / "p.zip", actor="t")
        mark_submitted(s, did, "t")
        with pytest.raises(UserError, match="locked"):
            add_evidence(s, did, make_pdf(2), "more.pdf", actor="t")
        again = preflight(s, did)
    reader = PdfReader(io.BytesIO(result.report.pdf.data))
    assert "To whom it may concern: dp_PKG0001 / $unknown_thing" in reader.pages[0].extract_text()
    assert any(c.name == "submitted" for c in again.failures)


def test_ascii_names() -> None:
    assert ascii_name("Quittung März ü.pdf") == "Quittung_Marz_u.pdf"
    assert ascii_name("../x.pdf") == "x.pdf"
