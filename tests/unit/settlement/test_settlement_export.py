"""`workstation export settlement` (the proof workbook) and `workstation export payouts`."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import redirect_stdout
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from workstation.cli import main
from workstation.db import Database
from workstation.errors import UserError
from workstation.exporters.settlement_workbook import write_settlement_workbook
from workstation.money import from_minor
from workstation.services.settlement.rollforward import SettlementProof, proof_lines, roll_forward

from .test_rollforward import OCT_1, OCT_31, demo_database

SHEETS = ["Roll-forward", "Bank receipts", "In transit", "Lines"]
INJECTION = '=HYPERLINK("http://evil.example","click")'
PAYOUT_HEADER = [
    "payout_id", "psp", "account", "currency", "status", "gross", "refunds", "fees", "disputes",
    "adjustments", "net", "lines", "bank_external_id", "bank_amount", "difference",
    "expected_on", "booked_on",
]  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The demo month with one charge description written as a formula."""
    db = demo_database(tmp_path_factory.mktemp("export"))
    with db.session() as s:
        s.execute(
            text(
                "UPDATE records SET description = :d WHERE id = (SELECT MIN(id) FROM records"
                " WHERE kind = 'charge' AND booked_on >= '2026-10-01')"
            ),
            {"d": INJECTION},
        )
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def exported(demo: Database, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("out") / "proof.xlsx"
    args = ["--db", demo.url, "export", "settlement", "--from", "2026-10-01", "--to", "2026-10-31"]
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main([*args, "--out", str(out), "--json"]) == 0
    return out, json.loads(buf.getvalue())


def _proof(db: Database) -> SettlementProof:
    with db.session() as s:
        return roll_forward(s, OCT_1, OCT_31)


def _money(value: object, currency: str = "EUR") -> Decimal:
    return Decimal(str(value)).quantize(from_minor(0, currency))


def test_cli_json_has_the_proof_totals(demo: Database, exported: tuple[Path, dict]) -> None:
    out, payload = exported
    proof = _proof(demo)
    assert out.is_file() and not out.with_name(out.name + ".part").exists()
    assert payload["closes"] is True and payload["from"] == "2026-10-01"
    assert payload["to"] == "2026-10-31" and payload["out"] == str(out)
    assert payload["lines"] == payload["lines_total"] > 700 and not payload["truncated"]
    by_account = {p["account"]: p for p in payload["psp"]}
    for b in proof.psp:
        row = by_account[b.account]
        assert row["difference_minor"] == 0 and row["closing_minor"] == b.closing.amount_minor
        assert row["paid_out_minor"] == b.movement("paid_out").amount_minor
    assert payload["in_transit"] == {"EUR": {"payouts": 2, "amount_minor": 73_540}}
    assert payload["banks"][0]["payouts_expected"] == 55


def test_workbook_figures_links_and_formats(demo: Database, exported: tuple[Path, dict]) -> None:
    out, _ = exported
    proof = _proof(demo)
    wb = load_workbook(out)
    assert wb.sheetnames == SHEETS
    rf, lines = wb["Roll-forward"], wb["Lines"]
    assert "2026-10-01 to 2026-10-31" in rf["A2"].value and "generated" in rf["A2"].value
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A6", ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
    assert wb["Lines"].page_setup.orientation == "landscape"
    # one block per PSP account: its figures equal the proof, each links to its lines
    rows = list(rf.iter_rows(min_row=6))
    links, starts = 0, {}
    for block in proof.psp:
        start = next(
            i for i, r in enumerate(rows) if r[0].value == f"{block.account} ({block.psp}) · EUR"
        )
        cells = {r[0].value: r for r in rows[start + 1 : start + 14]}
        for f in block.figures():
            row = cells[f.label]
            assert _money(row[2].value) == from_minor(f.amount_minor, "EUR"), f.label
            assert row[2].number_format.startswith("#,##0.00")
            link = row[2].hyperlink
            assert link is not None and link.location.startswith("'Lines'!A"), f.label
            starts[(block.psp, f.key)] = first = int(link.location.split("!A")[1])
            head = lines[first]
            if f.key == "closing":  # rolled forward: the account's section starts at its opening
                assert head[2].value == "Opening balance"
            else:
                assert head[0].value == block.account and head[2].value == f.label
                assert _money(head[6].value) == from_minor(f.amount_minor, "EUR")
            links += 1
        diff = cells["Difference (independent − rolled forward)"]
        assert diff[2].value == 0 and diff[4].value.startswith("✓")
    assert links == len(proof.psp) * 11
    assert any(r[0].value == "Prepared by (name)" for r in rows)
    assert any(r[0].value == "Reviewed by (name)" for r in rows)
    # the lines of the captured block add up to the captured figure
    stripe = next(b for b in proof.psp if b.psp == "stripe")
    captured = stripe.movement("captured")
    first = starts[("stripe", "captured")]
    block_rows = list(lines.iter_rows(min_row=first + 1, max_row=first + captured.count))
    assert all(r[2].value == captured.label for r in block_rows)
    total = sum(_money(r[6].value) for r in block_rows)
    assert total == from_minor(captured.amount_minor, "EUR")
    assert block_rows[0][3].is_date and block_rows[0][3].number_format == "yyyy-mm-dd"
    assert lines.column_dimensions["F"].width >= 40
    # formula injection: the description is text with a leading apostrophe, never a formula
    texts = [c for row in lines.iter_rows(min_row=6) for c in row if c.value == "'" + INJECTION]
    assert len(texts) == 2 and {c.data_type for c in texts} == {"s"}  # captured and fees
    assert not [
        c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"
    ]


def test_bank_receipts_and_in_transit_sheets(demo: Database, exported: tuple[Path, dict]) -> None:
    out, _ = exported
    proof = _proof(demo)
    wb = load_workbook(out)
    bank = wb["Bank receipts"]
    head = [c.value for c in bank[5]]
    assert head[:7] == [
        "Bank account", "Currency", "Payouts expected", "Expected", "Received by period end",
        "Difference", "Received after period end",
    ]  # fmt: skip
    (b,) = proof.banks
    row = bank[6]
    assert (row[0].value, row[1].value, row[2].value) == ("Main bank EUR", "EUR", 55)
    assert _money(row[3].value) == from_minor(b.expected.amount_minor, "EUR")
    assert _money(row[4].value) == from_minor(b.received.amount_minor, "EUR")
    assert _money(row[5].value) == from_minor(-73_540, "EUR")
    assert row[3].hyperlink.location.startswith("'Lines'!A")
    transit = wb["In transit"]
    listed = [
        r for r in transit.iter_rows(min_row=6) if r[3].value and str(r[3].value) != "Payout id"
    ]
    refs = {p.payout_ref for p in proof.in_transit}
    assert {r[3].value for r in listed if r[3].value in refs} == refs
    total = next(r for r in listed if r[0].value == "Total EUR")
    assert _money(total[4].value) == from_minor(73_540, "EUR") and total[3].value == "2 payout(s)"


def test_a_huge_lines_sheet_is_cut_with_a_note(demo: Database, tmp_path: Path) -> None:
    out = tmp_path / "cut.xlsx"
    with demo.session() as s:
        proof = roll_forward(s, OCT_1, OCT_31)
        report = write_settlement_workbook(proof, out, partial(proof_lines, s), limit=120)
    assert report.truncated and report.lines < 120 < report.lines_total
    wb = load_workbook(out)
    lines = wb["Lines"]
    assert lines.max_row <= 5 + 120 + 2
    assert "truncated" in wb["Roll-forward"]["A3"].value and "truncated" in lines["A3"].value
    unlinked = [
        r for r in wb["Roll-forward"].iter_rows(min_row=6)
        if isinstance(r[2].value, int | float) and r[2].hyperlink is None and r[3].value
    ]  # fmt: skip
    assert unlinked  # the figures whose lines were left out have no link
    with pytest.raises(UserError, match="xlsx"):
        write_settlement_workbook(proof, tmp_path / "x.csv", lambda ref: [])


def test_bad_dates_are_user_errors(
    demo: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--db", demo.url, "export", "settlement", "--out", str(tmp_path / "p.xlsx")]
    assert main([*base, "--from", "2026-13-01", "--to", "2026-10-31"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--from" in err and "Traceback" not in err
    assert main([*base, "--from", "2026-10-31", "--to", "2026-10-01"]) == 1
    assert "before" in capsys.readouterr().err
    assert not (tmp_path / "p.xlsx").exists()
    pay = ["--db", demo.url, "export", "payouts", "--out", str(tmp_path / "p.csv")]
    assert main([*pay, "--as-of", "yesterday"]) == 1
    assert "--as-of" in capsys.readouterr().err
    assert main([*pay, "--status", "lost"]) == 1
    assert "in_transit" in capsys.readouterr().err


def test_export_payouts_csv_and_xlsx(
    demo: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "payouts.csv"
    assert main(["--db", demo.url, "export", "payouts", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 62
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][: len(PAYOUT_HEADER)] == PAYOUT_HEADER
    assert len(rows) == 63 and {r[4] for r in rows[1:]} == {"paid"}
    args = [
        "--db",
        demo.url,
        "export",
        "payouts",
        "--status",
        "in_transit",
        "--as-of",
        "2026-10-15",
    ]
    assert main([*args, "--out", str(out)]) == 0
    assert "wrote 2 payout(s)" in capsys.readouterr().out
    with out.open(encoding="utf-8-sig") as fh:
        transit = list(csv.DictReader(fh))
    assert {r["expected_on"] for r in transit} == {"2026-10-16"}
    xlsx = tmp_path / "payouts.xlsx"
    args = ["--db", demo.url, "export", "payouts", "--psp", "stripe", "--from", "2026-10-01"]
    assert main([*args, "--to", "2026-10-31", "--out", str(xlsx)]) == 0
    ws = load_workbook(xlsx).active
    assert [c.value for c in ws[1]][: len(PAYOUT_HEADER)] == PAYOUT_HEADER
    assert ws.max_row - 1 == 29 and {r[1].value for r in ws.iter_rows(min_row=2)} == {"stripe"}


def test_renders_in_libreoffice(exported: tuple[Path, dict], tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    out, _ = exported
    profile = (tmp_path / "lo-profile").as_uri()
    proc = subprocess.run(
        [
            soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
            "--outdir", str(tmp_path), str(out),
        ],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    pdf = tmp_path / "proof.pdf"
    assert proc.returncode == 0, proc.stderr
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    first = reader.pages[0].extract_text()
    assert "roll-forward" in first and "closes to the cent" in first
    assert "###" not in first
    assert len(reader.pages) > 4  # all four sheets print
