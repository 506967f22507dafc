"""Table export: formula injection neutralised, real number and date cells, frozen header."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from workstation.errors import UserError
from workstation.exporters.table import Column, write_table

COLS = [Column("id", "int"), Column("text"), Column("amount", "money"), Column("date", "date")]
ROWS = [
    (1, '=HYPERLINK("http://x")', Decimal("12.30"), dt.date(2026, 10, 1)),
    (2, "+1+1", Decimal("-0.05"), dt.date(2026, 10, 2)),
    (3, "@SUM(A1)", Decimal("1000"), None),
    (4, "\tcmd", Decimal("0"), None),
    (5, "normal - text", Decimal("1"), None),
]


def test_xlsx(tmp_path: Path) -> None:
    out = tmp_path / "t.xlsx"
    assert write_table(out, COLS, ROWS) == 5
    ws = load_workbook(out).active
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:D6"
    assert [c.value for c in ws[1]] == ["id", "text", "amount", "date"]
    assert ws["B2"].value.startswith("'=") and ws["B3"].value == "'+1+1"
    assert ws["B4"].value.startswith("'@") and ws["B5"].value.startswith("'\t")
    assert ws["B6"].value == "normal - text"
    assert ws["C2"].value == pytest.approx(12.3) and ws["C2"].number_format == "#,##0.00"
    assert ws["D2"].is_date
    # styled cells are reused row after row: each row keeps its own value and format
    assert [ws[f"C{r}"].value for r in range(2, 7)] == [12.3, -0.05, 1000, 0, 1]
    assert ws["C6"].number_format == "#,##0.00" and ws["D4"].value is None


def test_csv(tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    write_table(out, COLS, ROWS)
    rows = list(csv.reader(out.open(encoding="utf-8-sig")))
    assert rows[1] == ["1", '\'=HYPERLINK("http://x")', "12.30", "2026-10-01"]
    assert rows[2][2] == "-0.05"  # numbers are not neutralised


def test_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="must end in"):
        write_table(tmp_path / "t.txt", COLS, ROWS)
