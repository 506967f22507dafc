"""Management workbook (.xlsx): a Summary sheet, one sheet per KPI table and native Excel charts.

The caller passes plain data (`Workbook` of `Sheet`s with `table.Column`s, rows of Python values
and optional `ChartSpec`s); nothing here knows what a KPI is. Each sheet gets a styled frozen
header, an autofilter, column widths, real number / percent / date cells, and its chart drawn
from a small data block written to the right of the table, so the chart stays live if a manager
edits the numbers. Money cells are Decimal major units; their format follows the value's decimals
(JPY 0, EUR 2, BHD 3). Text is formula-injection safe (`table.safe_text`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import UserError
from .table import Column, safe_text

Progress = Callable[[int, int, str], None]

_HEAD_FILL = "2F5597"
_INVALID_TITLE = str.maketrans({c: " " for c in "[]:*?/\\"})


@dataclass
class ChartSpec:
    """A native chart next to a sheet's table.

    Attributes:
        kind: "line", "bar" (clustered columns) or "stacked" (stacked columns).
        categories: x values (dates or labels), one per point.
        series: (name, values) pairs; values are numbers (Decimal) or None.
        dashed: names of series drawn as dashed lines (thresholds).
        percent: the y axis shows percentages (values are fractions).
    """

    kind: str
    title: str
    categories: Sequence[Any]
    series: Sequence[tuple[str, Sequence[Any]]]
    y_title: str = ""
    x_title: str = ""
    percent: bool = False
    dashed: frozenset[str] = frozenset()
    number_format: str | None = None
    x_number_format: str | None = None  # for date categories, e.g. "mmm yyyy"


@dataclass
class Sheet:
    """One KPI table: columns, rows (Python values in column order) and an optional chart."""

    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    chart: ChartSpec | None = None
    note: str = ""


@dataclass
class SummaryLine:
    """A headline number on the Summary sheet."""

    label: str
    value: Any
    kind: str = "text"  # percent, money, count, days, text
    currency: str | None = None
    detail: str = ""


@dataclass
class Workbook:
    """The whole management workbook."""

    title: str
    subtitle: str
    summary: Sequence[SummaryLine]
    sheets: Sequence[Sheet]
    notes: Sequence[str] = field(default_factory=list)


def sheet_title(title: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name (<= 31 characters, none of []:*?/\\)."""
    base = title.translate(_INVALID_TITLE).strip()[:31] or "Sheet"
    name, i = base, 2
    while name.lower() in taken:
        suffix = f" ({i})"
        name = base[: 31 - len(suffix)] + suffix
        i += 1
    taken.add(name.lower())
    return name


def _number_format(kind: str, value: Any, decimals: int) -> str | None:
    if kind == "money":
        places = decimals
        if isinstance(value, Decimal):
            exp = value.as_tuple().exponent
            places = -exp if isinstance(exp, int) and exp < 0 else 0
        return "#,##0" + ("." + "0" * places if places else "")
    if kind == "int":
        return "#,##0"
    if kind == "percent":
        return "0." + "0" * max(decimals, 0) + "%" if decimals else "0%"
    if kind == "number":
        return "#,##0" + ("." + "0" * decimals if decimals else "")
    if kind == "date":
        return "yyyy-mm-dd"
    if kind == "datetime":
        return "yyyy-mm-dd hh:mm"
    return None


def _cell_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return value
    return safe_text(str(value))


def write_workbook(path: Path, book: Workbook, *, progress: Progress | None = None) -> int:
    """Write `book` to `path` (.xlsx); returns the number of sheets written.

    Raises:
        UserError: the name does not end in .xlsx, the folder is missing or not writable.
    """
    if path.suffix.lower() != ".xlsx":
        raise UserError("the workbook file name must end in .xlsx", file=str(path))
    if not path.parent.is_dir():
        raise UserError("folder does not exist", file=str(path.parent))
    from openpyxl import Workbook as XlWorkbook

    wb = XlWorkbook()
    taken: set[str] = set()
    summary = wb.active
    assert summary is not None
    summary.title = sheet_title("Summary", taken)
    _write_summary(summary, book)
    total = len(book.sheets)
    for i, sheet in enumerate(book.sheets):
        if progress is not None:
            progress(i, total, f"Writing {sheet.title}")
        ws = wb.create_sheet(sheet_title(sheet.title, taken))
        _write_sheet(ws, sheet)
    wb.properties.title = book.title
    wb.properties.creator = "Workstation"
    tmp = path.with_name(path.name + ".part")
    try:
        wb.save(tmp)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write the workbook: {exc.strerror}", file=str(path)) from exc
    if progress is not None:
        progress(total, total, "Workbook written")
    return total + 1


def _header_style(cell: Any) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    cell.font = Font(bold=True, color="FFFFFF")
    cell.fill = PatternFill("solid", fgColor=_HEAD_FILL)
    cell.alignment = Alignment(vertical="center", wrap_text=True)


def _write_summary(ws: Any, book: Workbook) -> None:
    from openpyxl.styles import Font

    ws["A1"] = safe_text(book.title)
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = safe_text(book.subtitle)
    ws["A2"].font = Font(italic=True, color="555555")
    head = ("Measure", "Value", "Currency", "Detail")
    for j, h in enumerate(head, start=1):
        c = ws.cell(row=4, column=j, value=h)
        _header_style(c)
    for i, line in enumerate(book.summary, start=5):
        ws.cell(row=i, column=1, value=safe_text(line.label))
        cell = ws.cell(row=i, column=2, value=_cell_value(line.value))
        kind = {"count": "int", "days": "number"}.get(line.kind, line.kind)
        fmt = _number_format(kind, line.value, 2 if line.kind == "percent" else 1)
        if fmt and line.value is not None and not isinstance(line.value, str):
            cell.number_format = fmt
        ws.cell(row=i, column=3, value=line.currency)
        ws.cell(row=i, column=4, value=safe_text(line.detail))
    row = 5 + len(book.summary) + 1
    for note in book.notes:
        ws.cell(row=row, column=1, value=safe_text(note)).font = Font(italic=True, color="555555")
        row += 1
    for col, width in zip("ABCD", (34, 16, 10, 70), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A5"


def _write_sheet(ws: Any, sheet: Sheet) -> None:
    from openpyxl.utils import get_column_letter

    cols = list(sheet.columns)
    for j, col in enumerate(cols, start=1):
        _header_style(ws.cell(row=1, column=j, value=safe_text(col.header)))
    widths = [max(10, min(40, len(c.header) + 3)) for c in cols]
    for i, row in enumerate(sheet.rows, start=2):
        for j, (value, col) in enumerate(zip(row, cols, strict=True), start=1):
            v = _cell_value(value)
            cell = ws.cell(row=i, column=j, value=v)
            if v is not None and not isinstance(v, str):
                fmt = _number_format(col.kind, value, col.decimals)
                if fmt:
                    cell.number_format = fmt
            shown = len(str(v)) + (4 if col.kind in ("money", "int") else 1) if v is not None else 0
            widths[j - 1] = max(widths[j - 1], min(48, shown))
    for j, col in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(j)].width = col.width or widths[j - 1]
    last_row = max(1, len(sheet.rows) + 1)
    ws.auto_filter.ref = f"A1:{get_column_letter(max(1, len(cols)))}{last_row}"
    ws.freeze_panes = "A2"
    if sheet.note:
        from openpyxl.styles import Font

        ws.cell(row=last_row + 2, column=1, value=safe_text(sheet.note)).font = Font(
            italic=True, color="555555"
        )
    if sheet.chart is not None and sheet.chart.categories and sheet.chart.series:
        _add_chart(ws, sheet.chart, first_col=len(cols) + 2)


def _add_chart(ws: Any, spec: ChartSpec, first_col: int) -> None:
    """Write the chart's data block at `first_col` and anchor the chart to its right."""
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.utils import get_column_letter

    n = len(spec.categories)
    _header_style(ws.cell(row=1, column=first_col, value=safe_text(spec.x_title or "category")))
    cat_is_date = all(isinstance(c, dt.date) for c in spec.categories)
    x_format = spec.x_number_format or "yyyy-mm-dd"
    for i, cat in enumerate(spec.categories, start=2):
        cell = ws.cell(row=i, column=first_col, value=_cell_value(cat))
        if cat_is_date:
            cell.number_format = x_format
    fmt = spec.number_format or ("0.00%" if spec.percent else "#,##0.00")
    for k, (name, values) in enumerate(spec.series, start=1):
        _header_style(ws.cell(row=1, column=first_col + k, value=safe_text(name)))
        for i, v in enumerate(values, start=2):
            cell = ws.cell(row=i, column=first_col + k, value=_cell_value(v))
            if v is not None:
                cell.number_format = fmt
        ws.column_dimensions[get_column_letter(first_col + k)].width = max(12, len(name) + 2)
    ws.column_dimensions[get_column_letter(first_col)].width = 14

    chart: Any
    if spec.kind == "line":
        chart = LineChart()
    else:
        chart = BarChart()
        chart.type = "col"
        if spec.kind == "stacked":
            chart.grouping = "stacked"
            chart.overlap = 100
        else:
            chart.grouping = "clustered"
    chart.title = spec.title
    chart.y_axis.title = spec.y_title or None
    chart.x_axis.title = spec.x_title or None
    chart.y_axis.number_format = "0.0%" if spec.percent else "#,##0"
    # openpyxl >= 3.1 marks axes as deleted unless told otherwise (Excel then hides them).
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    if cat_is_date:
        chart.x_axis.number_format = x_format
    chart.height = 9
    chart.width = 18
    data = Reference(
        ws, min_col=first_col + 1, max_col=first_col + len(spec.series), min_row=1, max_row=n + 1
    )
    cats = Reference(ws, min_col=first_col, min_row=2, max_row=n + 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(cats)
    if spec.kind == "line":
        for s, (name, _values) in zip(chart.series, spec.series, strict=True):
            s.smooth = False
            if name in spec.dashed:
                s.graphicalProperties.line.dashStyle = "dash"
                s.graphicalProperties.line.width = 15_000
            else:
                s.graphicalProperties.line.width = 25_000
    anchor = f"{get_column_letter(first_col + len(spec.series) + 2)}2"
    ws.add_chart(chart, anchor)


__all__ = ["ChartSpec", "Sheet", "SummaryLine", "Workbook", "sheet_title", "write_workbook"]
