"""Evidence: type by content, refusals with clear messages, dedupe, drafts and the submit lock."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from dispute_cases import open_case
from sqlalchemy import func, select

from workstation import config
from workstation.db import Database
from workstation.errors import UserError
from workstation.models import DisputeEvent, Evidence, EvidenceBlob
from workstation.services.disputes.evidence import (
    add_evidence,
    add_evidence_file,
    preview,
    remove_evidence,
    save_draft,
    set_evidence_kind,
)
from workstation.services.disputes.evidence_content import XLSX, safe_file_name, text_of
from workstation.services.disputes.package import mark_submitted

from .conftest import make_image, make_pdf


def new_case(db: Database, pid: str = "EV-1") -> int:
    with db.session() as s:
        return open_case(s, pid)


def test_every_accepted_type_detected_by_content(
    any_db: Database, files: dict[str, bytes], tmp_path: Path
) -> None:
    did = new_case(any_db)
    with any_db.session() as s:
        kinds = {}
        for name, data in files.items():
            path = tmp_path / name
            path.write_bytes(data)
            ev = add_evidence_file(s, did, path, kind="customer_communication", actor="t")
            kinds[ev.file_name] = ev.media_type
        # No extension: the type comes from the content and the name gets the right suffix.
        ev = add_evidence(s, did, make_image("JPEG", (50, 40)), "scan", actor="t")
        kinds[ev.file_name] = ev.media_type
    assert kinds == {
        "receipt.pdf": "application/pdf",
        "photo.png": "image/png",
        "label.jpg": "image/jpeg",
        "notes.txt": "text/plain",
        "mail.eml": "message/rfc822",
        "log.csv": "text/csv",
        "access.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "scan.jpg": "image/jpeg",
    }


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("invoice.pdf", b"MZ\x90\x00\x03" + b"\x00" * 200, "content is a Windows program"),
        ("invoice.pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "content is a Linux program"),
        ("photo.png", make_pdf(1), "named like a PNG image but its content is PDF"),
        ("receipt.jpg", b"GIF89a\x01\x00\x01\x00" + b"\x00" * 50, "content is a GIF image"),
        ("notes.txt", b"\x00\x01\x02\x03binary" * 40, "named like a text but its content"),
        ("mail.eml", b"just a line of text, no headers\n", "has no e-mail headers"),
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "the PDF is damaged"),
        ("tool.exe", b"MZ" + b"\x00" * 100, "tool.exe is a Windows program"),
    ],
)
def test_wrong_content_refused(db: Database, name: str, data: bytes, message: str) -> None:
    did = new_case(db)
    with db.session() as s, pytest.raises(UserError) as err:
        add_evidence(s, did, data, name, actor="t")
    assert message in str(err.value)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0


def test_zip_behind_pdf_and_docx_refused(db: Database) -> None:
    did = new_case(db)
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("payload.exe", b"MZ")
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<Types><Override ContentType="application/vnd.openxmlformats-officedocument.'
            'wordprocessingml.document.main+xml"/></Types>',
        )
    with db.session() as s:
        with pytest.raises(UserError, match="named like a PDF but its content is a ZIP archive"):
            add_evidence(s, did, plain.getvalue(), "contract.pdf", actor="t")
        with pytest.raises(UserError, match="Word document"):
            add_evidence(s, did, docx.getvalue(), "sheet.xlsx", actor="t")


def test_oversize_refused(db: Database, tmp_path: Path) -> None:
    did = new_case(db)
    with db.session() as s:
        config.put(s, "evidence.max_file_bytes", 10_000)
    big = make_pdf(1, "x" * 50) + b"%" + b"0" * 20_000
    path = tmp_path / "big.pdf"
    path.write_bytes(big)
    with db.session() as s, pytest.raises(UserError) as err:
        add_evidence_file(s, did, path, actor="t")
    assert str(err.value) == (
        f"big.pdf is {round(len(big) / 1024)} KB; the largest evidence file accepted is 10 KB "
        "(setting evidence.max_file_bytes)"
    )
    with db.session() as s, pytest.raises(UserError, match="largest evidence file accepted"):
        add_evidence(s, did, big, "big.pdf", actor="t")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../../etc/passwd.txt", "points outside its folder"),
        ("..\\..\\boot.ini.txt", "points outside its folder"),
        ("/etc/passwd.txt", "is an absolute path"),
        ("C:\\Windows\\win.ini.txt", "is an absolute path"),
        ("\\\\server\\share\\x.txt", "is an absolute path"),
        ("docs/receipt.txt", "contains a folder path"),
        ("", "the file name is empty"),
    ],
)
def test_zip_slip_names_refused(db: Database, name: str, message: str) -> None:
    did = new_case(db)
    with db.session() as s, pytest.raises(UserError) as err:
        add_evidence(s, did, b"hello\n", name, actor="t")
    assert message in str(err.value)


def test_names_cleaned() -> None:
    assert safe_file_name('in<v>oi:ce?|*".pdf') == "in_v_oi_ce____.pdf"
    assert safe_file_name("  .hidden.txt ") == "hidden.txt"
    assert safe_file_name("CON.txt") == "_CON.txt"
    assert safe_file_name("a\x07b.txt") == "a_b.txt"
    assert len(safe_file_name("x" * 300 + ".pdf")) == 120


def test_blob_dedupe_and_remove(db: Database) -> None:
    first, second = new_case(db, "EV-1"), new_case(db, "EV-2")
    pdf = make_pdf(1)
    with db.session() as s:
        a = add_evidence(s, first, pdf, "r.pdf", kind="receipt", actor="t")
        add_evidence(s, second, pdf, "same.pdf", kind="receipt", actor="t")
        assert s.scalar(select(func.count()).select_from(EvidenceBlob)) == 1
        with pytest.raises(UserError, match=r"already attached to this case as r\.pdf"):
            add_evidence(s, first, pdf, "again.pdf", actor="t")
        with pytest.raises(UserError, match="unknown evidence kind"):
            add_evidence(s, first, make_pdf(2), "x.pdf", kind="selfie", actor="t")
        set_evidence_kind(s, a.id, "proof_of_delivery", "t")
        remove_evidence(s, a.id, "t")
        assert s.scalar(select(func.count()).select_from(EvidenceBlob)) == 1  # still used
        (other,) = s.scalars(select(Evidence))
        remove_evidence(s, other.id, "t")
        assert s.scalar(select(func.count()).select_from(EvidenceBlob)) == 0


def test_draft_masks_and_coalesces(db: Database) -> None:
    did = new_case(db)
    with db.session() as s:
        r1 = save_draft(s, did, "rebuttal", "Paid with 4111 1111 1111 1111", "t")
        assert r1.text == "Paid with 411111******1111" and r1.masked == 1
        save_draft(s, did, "rebuttal", "Paid with 411111******1111, delivered", "t")
        save_draft(s, did, "rebuttal", "Paid with 411111******1111, delivered", "t")  # same
        save_draft(s, did, "product_description", "Widget", "t")
        kinds = [
            (e.kind, (e.detail or {}).get("field"))
            for e in s.scalars(select(DisputeEvent).order_by(DisputeEvent.id))
        ]
        with pytest.raises(UserError, match="unknown text field"):
            save_draft(s, did, "notes", "x", "t")
    assert kinds == [
        ("created", None),
        ("text_saved", "rebuttal"),  # two saves of the rebuttal: one timeline entry
        ("text_saved", "product_description"),
    ]


def test_submit_locks_evidence(db: Database) -> None:
    did = new_case(db)
    with db.session() as s:
        ev = add_evidence(s, did, make_pdf(1), "r.pdf", kind="receipt", actor="t")
        with pytest.raises(UserError, match="not confirmed"):
            mark_submitted(s, did, "t", confirm=False)
        d = mark_submitted(s, did, "t")
        assert d.evidence_locked and d.status == "under_review"
        for action in (
            lambda: add_evidence(s, did, make_pdf(3), "late.pdf", actor="t"),
            lambda: remove_evidence(s, ev.id, "t"),
            lambda: set_evidence_kind(s, ev.id, "uncategorized", "t"),
            lambda: save_draft(s, did, "rebuttal", "more", "t"),
        ):
            with pytest.raises(UserError, match="its evidence is locked"):
                action()
        with pytest.raises(UserError, match="already submitted"):
            mark_submitted(s, did, "t")
        event = s.scalar(select(DisputeEvent).where(DisputeEvent.kind == "submitted"))
        assert event is not None and event.detail["evidence"] == 1


def test_text_of_masks_and_reads_eml_xlsx(files: dict[str, bytes]) -> None:
    text, n = text_of(files["notes.txt"], "text/plain")
    assert "411111******1111" in text and n == 1
    mail, _ = text_of(files["mail.eml"], "message/rfc822")
    assert mail.startswith("From: Jane Doe <jane@example.com>") and "parcel arrived" in mail
    sheet, _ = text_of(files["access.xlsx"], XLSX)
    assert "203.0.113.7 | download" in sheet


def test_previews(db: Database, files: dict[str, bytes]) -> None:
    did = new_case(db)
    with db.session() as s:
        pdf = add_evidence(s, did, files["receipt.pdf"], "receipt.pdf", actor="t")
        png = add_evidence(s, did, files["photo.png"], "photo.png", actor="t")
        txt = add_evidence(s, did, files["notes.txt"], "notes.txt", actor="t")
        p1, p2, p3 = (preview(s, e.id) for e in (pdf, png, txt))
    assert (p1.kind, p1.pages, p1.data) == ("pdf", 2, files["receipt.pdf"])
    assert (p2.kind, p2.media_type) == ("image", "image/png")
    assert p3.kind == "text" and p3.text is not None and "411111******1111" in p3.text
