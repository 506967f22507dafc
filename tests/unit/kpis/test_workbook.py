"""The management workbook: sheets, formats, frozen headers, native charts, LibreOffice opens it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.chart import BarChart, LineChart

from workstation.cli import main
from workstation.db import Database
from workstation.errors import UserError
from workstation.exporters.table import Column
from workstation.exporters.workbook import ChartSpec, Sheet, Workbook, sheet_title, write_workbook
from workstation.services.analytics.catalogue import export_kpis

from .handmade import MARCH

SHEETS = [
    "Summary",
    "Match rate",
    "Unmatched ageing",
    "Settlement lag",
    "Fees",
    "Visa VAMP",
    "Mastercard ECP",
    "Disputes by category",
    "Disputes by network",
    "Disputes by PSP",
    "Due in 7 days",
    "Agent throughput",
]
NOW = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)


@pytest.fixture
def workbook(kpi_db: Database, tmp_path: Path) -> Path:
    out = tmp_path / "kpis.xlsx"
    steps: list[tuple[int, int, str]] = []
    with kpi_db.session() as s:
        report = export_kpis(s, out, *MARCH, lambda d, t, m: steps.append((d, t, m)), now=NOW)
    assert report.sheets == SHEETS and steps[-1][0] == steps[-1][1]
    return out


def _header(ws) -> list[str]:
    return [c.value for c in ws[1] if c.value is not None]


def test_sheets_formats_and_charts(workbook: Path) -> None:
    wb = load_workbook(workbook)
    assert wb.sheetnames == SHEETS
    for name in SHEETS[1:]:
        ws = wb[name]
        assert ws.freeze_panes == "A2", name
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), name
        assert ws["A1"].font.bold and ws.column_dimensions["A"].width >= 10
    mr = wb["Match rate"]
    head = _header(mr)
    assert head[:4] == ["Period start", "Source", "Source kind", "Currency"]
    shop = next(r for r in mr.iter_rows(min_row=2) if r[1].value == "Shop" and r[4].value == 1)
    assert shop[0].is_date and shop[0].number_format == "yyyy-mm-dd"
    assert shop[4].number_format == "#,##0"
    assert shop[7].number_format == "0.00%"
    assert shop[8].number_format == "#,##0.00"
    vamp = wb["Visa VAMP"]
    last = vamp.max_row - 2  # the note sits two rows below the table
    cells = {c.value: i for i, c in enumerate(vamp[1]) if c.value}
    march = next(
        r for r in vamp.iter_rows(min_row=2, max_row=last) if r[0].value == dt.datetime(2026, 3, 1)
    )
    assert march[cells["VAMP ratio"]].value == pytest.approx(1.0)
    assert march[cells["VAMP ratio"]].number_format == "0.000%"
    assert march[cells["Excessive threshold"]].value == pytest.approx(0.022)
    assert march[cells["Excessive threshold"]].number_format == "0.0%"
    assert march[cells["Disputed amount"]].value == pytest.approx(160.0)
    # native charts: lines for ratios (threshold series included), bars for win rate and fees,
    # stacked bars for ageing
    kinds = {name: [type(c) for c in wb[name]._charts] for name in SHEETS[1:]}
    assert kinds["Visa VAMP"] == [LineChart] and kinds["Mastercard ECP"] == [LineChart]
    assert kinds["Match rate"] == [LineChart]
    assert kinds["Disputes by category"] == [BarChart] and kinds["Fees"] == [BarChart]
    assert kinds["Unmatched ageing"] == [BarChart]
    assert wb["Unmatched ageing"]._charts[0].grouping == "stacked"
    assert len(wb["Visa VAMP"]._charts[0].series) == 2
    assert len(wb["Mastercard ECP"]._charts[0].series) == 3
    due = wb["Due in 7 days"]
    assert [r[0].value for r in due.iter_rows(min_row=2, max_row=3)] == ["d2", "d10"]
    assert due.cell(row=2, column=9).is_date and due.cell(row=2, column=9).number_format == (
        "yyyy-mm-dd hh:mm"
    )
    summary = wb["Summary"]
    values = {r[0].value: r[1] for r in summary.iter_rows(min_row=5) if r[0].value}
    assert values["Match rate"].value == pytest.approx(11 / 16)
    assert values["Match rate"].number_format == "0.00%"
    assert values["Open (unmatched) value"].value == pytest.approx(1430.0)
    assert values["Open (unmatched) value"].number_format == "#,##0.00"


def test_opens_in_libreoffice(workbook: Path, tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    profile = (tmp_path / "lo-profile").as_uri()
    proc = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(workbook),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    pdf = tmp_path / "kpis.pdf"
    assert proc.returncode == 0, proc.stderr
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "management KPIs" in text and "Visa VAMP ratio" in text  # a chart title rendered


def test_exporter_takes_plain_data(tmp_path: Path) -> None:
    out = tmp_path / "plain.xlsx"
    sheet = Sheet(
        "Fees: by [PSP]?",
        [Column("PSP"), Column("Gross", "money"), Column("Rate", "percent", decimals=3)],
        [["=cmd()", Decimal("1234.5"), Decimal("0.0125")], ["jpy", Decimal("1200"), None]],
        ChartSpec("bar", "Rate", ["a", "b"], [("Rate", [Decimal("0.0125"), None])], percent=True),
    )
    write_workbook(out, Workbook("T", "sub", [], [sheet]))
    ws = load_workbook(out).worksheets[1]
    assert ws.title == "Fees  by  PSP"  # characters Excel refuses are replaced
    assert ws["A2"].value == "'=cmd()"  # formula injection neutralised
    assert ws["B2"].number_format == "#,##0.0" and ws["B3"].number_format == "#,##0"
    assert ws["C2"].number_format == "0.000%"
    with pytest.raises(UserError):
        write_workbook(tmp_path / "x.csv", Workbook("T", "", [], []))
    assert sheet_title("x" * 40, {"x" * 31}) == "x" * 27 + " (2)"


def test_cli_export_kpis(
    kpi_db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.xlsx"
    args = ["--db", kpi_db.url, "export", "kpis", "--out", str(out), "--from", "2026-03-01"]
    assert main([*args, "--to", "2026-03-31", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["from"] == "2026-03-01" and payload["to"] == "2026-03-31"
    assert payload["sheets"] == SHEETS and out.is_file()
    assert main(["--db", kpi_db.url, "export", "kpis", "--out", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["from"], payload["to"]) == ("2026-03-01", "2026-03-31")  # latest month
    assert main([*args, "--to", "2026-02-01"]) == 1
    assert "before" in capsys.readouterr().err
    assert main(["--db", kpi_db.url, "export", "kpis", "--out", str(tmp_path / "k.csv")]) == 1
