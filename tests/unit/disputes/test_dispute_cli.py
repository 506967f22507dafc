"""CLI: dispute list/show/package/claim/submit, evidence add, export disputes; reason codes."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from workstation.cli import main
from workstation.db import Database
from workstation.models import ReasonCode
from workstation.services.disputes.reason_codes import ReasonTable, ensure_loaded, read_csv

from .conftest import STRIPE_CHARGE, STRIPE_ID, StoreRows, make_pdf, record


def run(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--db", url, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_cli_flow(
    capsys: pytest.CaptureFixture[str],
    url: str,
    tmp_path: Path,
    stripe_dispute: Path,
    adyen_chargeback: Path,
    store_rows: StoreRows,
) -> None:
    assert run(capsys, url, "init")[0] == 0
    code, out, _ = run(capsys, url, "import", str(stripe_dispute), str(adyen_chargeback), "--json")
    assert code == 0 and json.loads(out)["files"][0]["disputes"]["created"] == 1
    db = Database(url)
    store_rows(
        db,
        [
            record(
                1,
                "charge",
                1000,
                day=dt.date(2024, 7, 1),
                external_id="txn_c1",
                ref_charge=STRIPE_CHARGE,
                ref_order="ORD-1001",
            ),
        ],
    )
    db.dispose()

    code, out, _ = run(capsys, url, "dispute", "list", "--json")
    rows = json.loads(out)["disputes"]
    assert code == 0 and {r["psp_dispute_id"] for r in rows} == {STRIPE_ID, "9915555555555555"}
    code, out, _ = run(capsys, url, "dispute", "list", "--network", "Visa", "--psp", "adyen")
    assert code == 0 and "9915555555555555" in out and STRIPE_ID not in out

    pdf = tmp_path / "receipt.pdf"
    pdf.write_bytes(make_pdf(1))
    code, out, _ = run(capsys, url, "evidence", "add", STRIPE_ID, str(pdf), "--kind", "receipt")
    assert code == 0 and out.startswith("attached receipt.pdf (application/pdf, receipt)")
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"MZ" + b"\x00" * 300)
    code, _, err = run(capsys, url, "evidence", "add", STRIPE_ID, str(fake))
    assert code == 1 and err.startswith("error: fake.pdf is named like a PDF")
    code, _, err = run(capsys, url, "evidence", "add", "dp_nope", str(pdf))
    assert code == 1 and "no dispute 'dp_nope'" in err

    out_zip = tmp_path / "case.zip"
    code, out, _ = run(capsys, url, "dispute", "package", STRIPE_ID, "--out", str(out_zip))
    assert code == 0 and out_zip.exists() and f"wrote {out_zip}" in out

    code, out, _ = run(capsys, url, "dispute", "show", STRIPE_ID, "--json")
    shown = json.loads(out)
    assert shown["transaction"]["external_id"] == "txn_c1"
    assert [e["file_name"] for e in shown["evidence"]] == ["receipt.pdf"]

    csv_out, xlsx_out = tmp_path / "d.csv", tmp_path / "d.xlsx"
    assert run(capsys, url, "export", "disputes", "--out", str(csv_out))[0] == 0
    assert run(capsys, url, "export", "disputes", "--out", str(xlsx_out))[0] == 0
    with csv_out.open(encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == [
        "dispute_id",
        "status",
        "stage",
        "network",
        "reason_code",
        "amount",
        "currency",
        "due_by",
        "charge_external_id",
        "order_external_id",
        "evidence_count",
    ]
    stripe_row = next(r for r in table if r["dispute_id"] == STRIPE_ID)
    assert stripe_row["amount"] == "10.00" and stripe_row["evidence_count"] == "1"
    assert stripe_row["charge_external_id"] == "txn_c1"  # the linked record's id
    adyen_row = next(r for r in table if r["dispute_id"] == "9915555555555555")
    assert adyen_row["charge_external_id"] == "9913333333333333"  # the PSP's reference
    ws = load_workbook(xlsx_out, read_only=True).active
    assert ws is not None
    sheet = list(ws.iter_rows(values_only=True))
    assert sheet[0][0] == "dispute_id" and len(sheet) == 3

    code, out, _ = run(capsys, url, "dispute", "claim", "--json")
    assert code == 0 and json.loads(out)["claimed"] in {STRIPE_ID, "9915555555555555"}
    code, _, err = run(capsys, url, "dispute", "submit", STRIPE_ID)
    assert code == 1 and "--yes" in err
    code, out, _ = run(capsys, url, "dispute", "submit", STRIPE_ID, "--yes")
    assert code == 0 and "evidence locked" in out
    code, _, err = run(capsys, url, "evidence", "add", STRIPE_ID, str(tmp_path / "receipt.pdf"))
    assert code == 1 and "locked" in err


def test_reason_codes_are_editable_data(db: Database) -> None:
    shipped = read_csv()
    with db.session() as s:
        assert ensure_loaded(s) == len(shipped) == 94
        rc = s.scalar(
            select(ReasonCode).where(ReasonCode.network == "Visa", ReasonCode.code == "13.1")
        )
        assert rc is not None
        rc.title = "Not received (our wording)"
    with db.session() as s:
        assert ensure_loaded(s) == 0  # nothing missing; the edit stays
        table = ReasonTable(s)
        info = table.lookup("visa", "13.1")
        assert info is not None and info.title == "Not received (our wording)"
        assert ensure_loaded(s, overwrite=True) == len(shipped)
        reset = ReasonTable(s).lookup("VISA", "13.1")
        assert reset is not None and reset.title == "Merchandise/Services Not Received"
        mc = table.lookup("mc", "37")
        assert mc is not None and (mc.code, mc.category, mc.network_category) == (
            "4837",
            "fraud",
            "fraud",
        )
        disc = table.lookup("Discover", "4755")
        assert disc is not None and (disc.code, disc.category) == ("RG", "consumer_dispute")
        amex = table.lookup("american_express", "c08")
        assert amex is not None and amex.network_category == "card_member_dispute"
        assert amex.category == "consumer_dispute" and amex.response_days == 20
        vfmp = table.lookup("Visa", "10.5")
        assert vfmp is not None and not vfmp.defendable
        assert table.lookup("Visa", "99.9") is None
