"""Decision workbooks for the Excel round trip: a queue with a drop-down decision column.

The data sheet holds the queue's columns (the first is the row id), then `decision` (a list
drop-down of the allowed decisions) and `note` (free text), which are the only unlocked cells,
then `row_version` (hidden and locked): a fingerprint of the row's decision-relevant state at
export time, compared on re-import to find rows someone else changed since. The sheet is
protected without a password (filtering and column widths stay allowed) so that a stray
keystroke does not change an id. A hidden `_roundtrip` sheet holds what the export was (queue,
time, user, filters) and the drop-down's list; a "Read me" sheet says how to fill it in.

Written with openpyxl in write-only mode (streams 100k rows in flat memory); cells are
formula-injection safe like every table export.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from .table import Column, _cell, _number_format, safe_text

Progress = Callable[[int, int, str], None]

ID_HEADER = "id"
DECISION_HEADER = "decision"
NOTE_HEADER = "note"
VERSION_HEADER = "row_version"
META_SHEET = "_roundtrip"
README_SHEET = "Read me"
FORMAT = "workstation-roundtrip/1"
MAX_CHOICES = 5000


@dataclass(frozen=True)
class DecisionSheet:
    """What a decision workbook holds besides its rows.

    Attributes:
        title: the data sheet's name (also shown in the Read me).
        columns: the visible queue columns; the first must be the id column (`id`).
        choices: the decision drop-down's values.
        meta: key/value pairs for the hidden `_roundtrip` sheet (queue, exported_at, ...).
        instructions: lines for the Read me sheet.
    """

    title: str
    columns: Sequence[Column]
    choices: Sequence[str]
    meta: Mapping[str, str] = field(default_factory=dict)
    instructions: Sequence[str] = ()


def write_decision_workbook(
    path: Path,
    sheet: DecisionSheet,
    rows: Iterable[tuple[Sequence[Any], str]],
    *,
    total: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Write `rows` ((visible values, row version) pairs) as a decision workbook at `path`.

    Returns:
        the number of rows written.

    Raises:
        UserError: the file name does not end in .xlsx, or the folder is missing or unwritable.
    """
    if path.suffix.lower() != ".xlsx":
        raise UserError("a decision workbook must be saved as .xlsx", file=str(path))
    if not path.parent.is_dir():
        raise UserError("folder does not exist", file=str(path.parent))
    if not sheet.columns or sheet.columns[0].header != ID_HEADER:
        raise ValueError(f"the first column must be {ID_HEADER!r}")
    if len(sheet.choices) > MAX_CHOICES:
        raise ValueError("too many decision choices for a drop-down")
    tmp = path.with_name(path.name + ".part")
    try:
        n = _write(tmp, sheet, rows, total, progress)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write the workbook: {exc.strerror}", file=str(path)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


def _write(
    path: Path,
    sheet: DecisionSheet,
    rows: Iterable[tuple[Sequence[Any], str]],
    total: int | None,
    progress: Progress | None,
) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet.title[:31])
    columns = list(sheet.columns)
    n_vis = len(columns)
    dec_col, note_col, ver_col = n_vis + 1, n_vis + 2, n_vis + 3
    dec_letter, note_letter = get_column_letter(dec_col), get_column_letter(note_col)
    ver_letter = get_column_letter(ver_col)
    ws.freeze_panes = "B2"
    for i, col in enumerate(columns, start=1):
        width = col.width or max(10, min(48, len(col.header) + 4))
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.column_dimensions[dec_letter].width = 30
    ws.column_dimensions[note_letter].width = 40
    ws.column_dimensions[ver_letter].width = 20
    ws.column_dimensions[ver_letter].hidden = True

    head_font = Font(bold=True, color="FFFFFF")
    head_fill = PatternFill("solid", fgColor="2F5597")
    edit_head_fill = PatternFill("solid", fgColor="548235")
    edit_fill = PatternFill("solid", fgColor="FFF9E5")
    unlocked = Protection(locked=False)

    def head(text: str, fill: PatternFill) -> Any:
        cell = WriteOnlyCell(ws, value=safe_text(text))
        cell.font = head_font
        cell.fill = fill
        cell.alignment = Alignment(vertical="center")
        return cell

    ws.append(
        [head(c.header, head_fill) for c in columns]
        + [
            head(DECISION_HEADER, edit_head_fill),
            head(NOTE_HEADER, edit_head_fill),
            head(VERSION_HEADER, head_fill),
        ]
    )

    # Styles are resolved once into openpyxl's StyleArray and copied onto each cell: setting
    # `cell.protection` / `number_format` per cell hashes the style objects every time, which
    # is most of the write time on a big queue.
    proto: Any = WriteOnlyCell(ws, value=None)
    proto.protection = unlocked
    proto.fill = edit_fill
    edit_style = proto._style
    number_styles: dict[str, Any] = {}
    for code in {f for f in map(_number_format, columns) if f is not None}:
        proto = WriteOnlyCell(ws, value=None)
        proto.number_format = code
        number_styles[code] = proto._style

    def styled(value: Any, style: Any) -> Any:
        cell: Any = WriteOnlyCell(ws, value=value)
        cell._style = copy(style)
        return cell

    formats = [_number_format(c) for c in columns]
    n = 0
    for values, version in rows:
        out: list[Any] = []
        for value, fmt in zip(values, formats, strict=True):
            v = _cell(value)
            if fmt is not None and v is not None and not isinstance(v, str):
                out.append(styled(v, number_styles[fmt]))
            else:
                out.append(v)
        out += [styled(None, edit_style), styled(None, edit_style), safe_text(str(version))]
        ws.append(out)
        n += 1
        if progress is not None and n % 5000 == 0:
            progress(n, total or 0, f"{n:,} rows")

    last_row = max(2, n + 1)
    ws.auto_filter.ref = f"A1:{ver_letter}{n + 1}"
    choices = list(sheet.choices)
    dv = DataValidation(
        type="list",
        formula1=f"'{META_SHEET}'!$D$2:$D${len(choices) + 1}",
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop",
        errorTitle="Unknown decision",
        error="Pick a decision from the list (or leave the cell empty).",
        showInputMessage=True,
        promptTitle="Decision",
        prompt="Pick from the list; leave empty to keep the row as it is.",
    )
    dv.add(f"{dec_letter}2:{dec_letter}{last_row}")
    ws.data_validations.append(dv)
    prot = ws.protection
    prot.sheet = True
    prot.autoFilter = False  # False = allowed on a protected sheet
    prot.formatColumns = False
    prot.formatRows = False
    prot.sort = False

    readme = wb.create_sheet(title=README_SHEET)
    readme.column_dimensions["A"].width = 110
    readme.append([WriteOnlyCell(readme, value=safe_text(sheet.title))])
    for line in sheet.instructions:
        readme.append([safe_text(line)])
    readme.append([])
    readme.append(["Decisions you can pick:"])
    for choice in choices:
        readme.append([safe_text(f"  {choice}")])

    meta = wb.create_sheet(title=META_SHEET)
    meta.sheet_state = "hidden"
    pairs = [("format", FORMAT), ("sheet", ws.title), *sheet.meta.items()]
    meta.append(["key", "value", None, "decisions"])
    for i in range(max(len(pairs), len(choices))):
        pair = pairs[i] if i < len(pairs) else None
        listed = choices[i] if i < len(choices) else None
        meta.append(
            [
                None if pair is None else safe_text(str(pair[0])),
                None if pair is None else safe_text(str(pair[1])),
                None,
                None if listed is None else safe_text(listed),
            ]
        )
    wb.save(path)
    return n


__all__ = [
    "DECISION_HEADER",
    "FORMAT",
    "ID_HEADER",
    "META_SHEET",
    "NOTE_HEADER",
    "README_SHEET",
    "VERSION_HEADER",
    "DecisionSheet",
    "write_decision_workbook",
]
