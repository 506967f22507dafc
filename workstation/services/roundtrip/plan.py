"""Planning a decision workbook: read it back and say, row by row, what applying it would do.

Each row is one of: a change (from -> to), a conflict (its row version differs: someone changed
the row since the export; skipped unless forced), an invalid decision (sheet row and column
named), an unknown id, a decision already in effect, or blank. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ...errors import UserError
from ...exporters.roundtrip import (
    DECISION_HEADER,
    FORMAT,
    ID_HEADER,
    META_SHEET,
    NOTE_HEADER,
    VERSION_HEADER,
)
from ..common.card_numbers import mask_text
from .decision_grammar import QUEUES, active_logins, evaluate_with_note, parse_decision
from .row_state import states_and_notes


@dataclass
class Change:
    """One row that will change (or, with `conflict`, that someone else changed meanwhile)."""

    row: int  # sheet row number (the header is row 1)
    id: int  # the sheet's id: record id (exceptions) or dispute id
    target_id: int  # case id or dispute id the service acts on
    label: str  # external id / the PSP's dispute id
    action: str  # resolve, assign, unassign, pending, reopen, accept, fight, note
    argument: str | None
    note: str
    before: str
    after: str
    version: str  # the row version in the sheet
    conflict: str | None = None  # why the row is held back (changed since the export)

    @property
    def decision(self) -> str:
        if self.action == "note":
            return "note"
        return f"{self.action}:{self.argument}" if self.argument else self.action

    def describe(self) -> str:
        text = f"{self.before} → {self.after}" if self.action != "note" else "note added"
        if self.note and self.action != "note":
            text += " + note"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "id": self.id,
            "target_id": self.target_id,
            "label": self.label,
            "decision": self.decision,
            "note": self.note or None,
            "from": self.before,
            "to": self.after,
            "conflict": self.conflict,
        }


@dataclass
class RowProblem:
    """A row that cannot be applied: bad decision or id, unknown id, duplicate."""

    row: int
    column: str  # header name
    letter: str  # spreadsheet column letter
    id: str | None
    message: str

    def describe(self) -> str:
        return f"row {self.row}, column {self.column} ({self.letter}): {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "cell": f"{self.letter}{self.row}",
            "id": self.id,
            "message": self.message,
        }


@dataclass
class RoundtripPlan:
    """What applying a decision workbook would do; nothing has been written."""

    path: Path
    queue: str
    exported_at: str
    exported_by: str
    rows: int  # data rows in the sheet
    changes: list[Change] = field(default_factory=list)
    conflicts: list[Change] = field(default_factory=list)
    invalid: list[RowProblem] = field(default_factory=list)
    unknown: list[RowProblem] = field(default_factory=list)
    unchanged: int = 0  # rows with a decision that is already in effect
    blank: int = 0  # rows without a decision or note

    @property
    def applicable(self) -> int:
        return len(self.changes)

    def as_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "queue": self.queue,
            "exported_at": self.exported_at,
            "exported_by": self.exported_by,
            "rows": self.rows,
            "changes": [c.as_json() for c in self.changes],
            "conflicts": [c.as_json() for c in self.conflicts],
            "invalid": [p.as_json() for p in self.invalid],
            "unknown": [p.as_json() for p in self.unknown],
            "unchanged": self.unchanged,
            "blank": self.blank,
        }

    def describe(self) -> str:
        what = "record" if self.queue == "exceptions" else "dispute"
        lines = [
            f"{self.path.name}: {self.queue} queue exported {self.exported_at} by "
            f"{self.exported_by}; {self.rows:,} rows, {self.blank:,} without a decision, "
            f"{self.unchanged:,} already so"
        ]
        sections: list[tuple[str, list[str]]] = [
            (
                "will change",
                [f"row {c.row}: {what} {c.id} ({c.label}): {c.describe()}" for c in self.changes],
            ),
            (
                "changed by someone else since the export (skipped unless forced)",
                [f"row {c.row}: {what} {c.id} ({c.label}): {c.conflict}" for c in self.conflicts],
            ),
            ("invalid", [p.describe() for p in self.invalid]),
            ("unknown ids", [p.describe() for p in self.unknown]),
        ]
        for title, items in sections:
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines += [f"  {x}" for x in items]
        return "\n".join(lines)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))


def read_workbook(path: Path) -> tuple[dict[str, str], list[str], list[list[Any]]]:
    """(meta, header, data rows) of a decision workbook.

    Raises:
        UserError: not a readable .xlsx, or not a workbook exported for decisions.
    """
    from python_calamine import CalamineWorkbook

    if not path.is_file():
        raise UserError("file not found", file=str(path))
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for broken files
        raise UserError(f"not a readable Excel workbook ({exc})", file=str(path)) from exc
    if META_SHEET not in wb.sheet_names:
        raise UserError(
            "this workbook was not exported for decisions (it has no _roundtrip sheet); export "
            "the queue with File > Export for decisions or `workstation export roundtrip`",
            file=str(path),
        )
    meta_rows = wb.get_sheet_by_name(META_SHEET).to_python(skip_empty_area=False)
    meta = {_text(r[0]): _text(r[1]) for r in meta_rows[1:] if len(r) > 1 and _text(r[0])}
    if meta.get("format") != FORMAT:
        raise UserError(
            f"unsupported decision workbook format {meta.get('format')!r} (expected {FORMAT})",
            file=str(path),
        )
    sheet = meta.get("sheet", "")
    if sheet not in wb.sheet_names:
        raise UserError(f"the sheet {sheet!r} is missing", file=str(path))
    data = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    if not data:
        raise UserError(f"the sheet {sheet!r} is empty", file=str(path))
    header = [_text(h) for h in data[0]]
    return meta, header, data[1:]


def plan_roundtrip(session: Session, path: Path) -> RoundtripPlan:
    """Read a filled-in decision workbook and say what applying it would do (writes nothing).

    Raises:
        UserError: the file is not a decision workbook or lacks its columns.
    """
    meta, header, data = read_workbook(path)
    queue = meta.get("queue", "")
    if queue not in QUEUES:
        raise UserError(f"unknown queue {queue!r} in the workbook", file=str(path))
    cols: dict[str, int] = {}
    for name in (ID_HEADER, DECISION_HEADER, NOTE_HEADER, VERSION_HEADER):
        if name not in header:
            raise UserError(f"the column {name!r} is missing", file=str(path), line=1)
        cols[name] = header.index(name)
    plan = RoundtripPlan(
        path=path,
        queue=queue,
        exported_at=meta.get("exported_at", "?"),
        exported_by=meta.get("exported_by", "?"),
        rows=0,
    )
    logins = active_logins(session)
    wanted: list[tuple[int, int, str, str, str, str | None]] = []  # row, id, ver, note, act, arg
    seen: dict[int, int] = {}

    def cell(values: list[Any], name: str) -> Any:
        i = cols[name]
        return values[i] if i < len(values) else None

    def problem(row: int, name: str, rid: str | None, message: str) -> RowProblem:
        return RowProblem(row, name, _letter(cols[name]), rid, message)

    for offset, values in enumerate(data):
        row = offset + 2
        raw_id = _text(cell(values, ID_HEADER))
        decision = _text(cell(values, DECISION_HEADER))
        note = mask_text(_text(cell(values, NOTE_HEADER)))[0]  # card numbers never stored
        version = _text(cell(values, VERSION_HEADER))
        if not raw_id and not decision and not note:
            continue
        plan.rows += 1
        if not decision and not note:
            plan.blank += 1
            continue
        try:
            rid = int(raw_id)
        except ValueError:
            plan.invalid.append(problem(row, ID_HEADER, raw_id or None, f"{raw_id!r} is not an id"))
            continue
        if rid in seen:
            plan.invalid.append(
                problem(
                    row,
                    ID_HEADER,
                    raw_id,
                    f"id {rid} is also on row {seen[rid]}; only the first is used",
                )
            )
            continue
        seen[rid] = row
        action, arg = "note", None
        if decision:
            try:
                action, arg = parse_decision(queue, decision, logins)
            except ValueError as exc:
                plan.invalid.append(problem(row, DECISION_HEADER, raw_id, str(exc)))
                continue
        wanted.append((row, rid, version, note, action, arg))

    states, noted = states_and_notes(session, queue, [(w[1], w[3]) for w in wanted])
    what = "record" if queue == "exceptions" else "dispute"
    for row, rid, version, note, action, arg in wanted:
        state = states.get(rid)
        if state is None:
            plan.unknown.append(problem(row, ID_HEADER, str(rid), f"no {what} {rid} here"))
            continue
        if note and note in noted.get(rid, ()):
            note = ""  # already on the case: applying the same file twice adds no duplicate
            if action == "note":
                plan.unchanged += 1
                continue
        action, arg, verdict, text = evaluate_with_note(state, action, arg, note)
        current = state.version()
        if verdict == "same":
            plan.unchanged += 1
            continue
        change = Change(
            row=row,
            id=rid,
            target_id=int(state.target_id or 0),
            label=state.label,
            action=action,
            argument=arg,
            note=note,
            before=state.describe(),
            after=text if verdict == "change" else "",
            version=version,
        )
        if current != version:
            change.conflict = f"changed since the export; now {state.describe()}" + (
                f"; cannot apply: {text}" if verdict == "invalid" else ""
            )
            plan.conflicts.append(change)
        elif verdict == "invalid":
            column = DECISION_HEADER if action != "note" else NOTE_HEADER
            plan.invalid.append(problem(row, column, str(rid), text))
        else:
            plan.changes.append(change)
    return plan
