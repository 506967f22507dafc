"""Excel round trip: export a queue with a decision column, re-import it as a plan, apply it.

1. `export_roundtrip(session, "exceptions" | "disputes", path, filters)` writes the filtered queue
   (`services.reconcile.table_queries` exceptions, or the `dispute_queue` in urgency order) through
   `exporters.roundtrip`: the visible columns, a `decision` drop-down, a `note` column and a
   hidden `row_version` per row.
2. A manager fills in decisions offline. Exceptions (one per record, acting on its case):
   `resolve:<reason>` (reason from `cases.RESOLUTIONS`), `assign:<login>`, `unassign`,
   `pending`, `reopen`. Disputes: `accept`, `fight`, `assign:<login>`, `unassign`. A note alone
   is added to the case's notes / timeline.
3. `plan_roundtrip(session, path)` reads it back and says, row by row, what will change (from ->
   to), which rows changed in the database since the export (their row version differs: a
   conflict, skipped unless forced), which decisions are invalid (sheet row and column named)
   and which ids are unknown. Nothing is written.
4. `apply_roundtrip(session, plan, actor)` re-checks every row against the database as it is
   now and applies the clean ones through the services the app uses (`cases.*`,
   `dispute_queue.assign`, `disputes.decide`, notes), with one audit event per change
   (action `roundtrip.apply`, detail `source: excel-roundtrip`) besides the services' own.

The row version is a hash of the row's decision-relevant state (exceptions: match state, case,
status, assignee, resolution, reopen count; disputes: status, stage, assignee, deadline,
submission, latest decision), so a note or a priority refresh by someone else is not a conflict
but an assignment or a resolution is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import UserError
from ...exporters.roundtrip import (
    DECISION_HEADER,
    FORMAT,
    ID_HEADER,
    META_SHEET,
    NOTE_HEADER,
    VERSION_HEADER,
    DecisionSheet,
    write_decision_workbook,
)
from ...exporters.table import Column
from ...models import CaseNote, Dispute, DisputeEvent, ExceptionCase, Record, User, utcnow
from ...money import from_minor
from ..common import audit
from ..disputes import intake as disputes
from ..disputes import queue as dispute_queue
from ..disputes.queue import QueueFilters
from ..reconcile import cases, table_queries
from ..reconcile.table_queries import ExceptionFilters

Progress = Callable[[int, int, str], None]

QUEUES = ("exceptions", "disputes")
SOURCE = "excel-roundtrip"
AUDIT_ACTION = "roundtrip.apply"
_CHUNK = 500
_PAGE = 2000

# --------------------------------------------------------------------------- row state


@dataclass(frozen=True)
class ExceptionState:
    """What a decision on an exceptions row depends on."""

    id: int  # record id
    label: str  # external id
    match_state: str
    case_id: int | None
    status: str | None
    assignee: str | None
    resolution: str | None
    reopen_count: int

    @property
    def target_id(self) -> int | None:
        return self.case_id

    def version(self) -> str:
        return _digest(
            "exceptions",
            self.id,
            self.match_state,
            self.case_id,
            self.status,
            self.assignee,
            self.resolution,
            self.reopen_count,
        )

    def describe(self) -> str:
        if self.case_id is None:
            return f"no case ({self.match_state})"
        if self.status == "resolved":
            return f"resolved ({self.resolution})"
        who = f"assigned to {self.assignee}" if self.assignee else "unassigned"
        return who if self.status in ("open", "assigned") else f"{self.status}, {who}"


@dataclass(frozen=True)
class DisputeState:
    """What a decision on a disputes row depends on."""

    id: int
    label: str  # the PSP's dispute id
    status: str
    stage: str
    assignee: str | None
    due_by: str | None
    locked: bool
    decision: str | None  # latest accept/fight decision
    decision_event: int | None

    @property
    def target_id(self) -> int:
        return self.id

    def version(self) -> str:
        return _digest(
            "disputes",
            self.id,
            self.status,
            self.stage,
            self.assignee,
            self.due_by,
            self.locked,
            self.decision_event,
        )

    def describe(self) -> str:
        parts = [self.status.replace("_", " ")]
        if self.locked:
            parts.append("submitted")
        elif self.decision and self.status == "needs_response":
            parts.append(self.decision)
        if self.status in ("needs_response", "under_review"):
            parts.append(f"assigned to {self.assignee}" if self.assignee else "unassigned")
        return ", ".join(parts)


State = ExceptionState | DisputeState


def _digest(*parts: Any) -> str:
    text = "|".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    ordered = sorted({int(i) for i in ids})
    for i in range(0, len(ordered), _CHUNK):
        yield ordered[i : i + _CHUNK]


def exception_states(session: Session, record_ids: Sequence[int]) -> dict[int, ExceptionState]:
    """Current decision-relevant state of exceptions rows (records) by record id."""
    out: dict[int, ExceptionState] = {}
    for chunk in _chunks(record_ids):
        q = (
            select(
                Record.id,
                Record.external_id,
                Record.match_state,
                ExceptionCase.id,
                ExceptionCase.status,
                User.login,
                ExceptionCase.resolution,
                ExceptionCase.reopen_count,
            )
            .select_from(Record)
            .outerjoin(ExceptionCase, ExceptionCase.record_id == Record.id)
            .outerjoin(User, User.id == ExceptionCase.assignee_id)
            .where(Record.id.in_(chunk))
        )
        for rid, ext, state, cid, status, login, resolution, reopens in session.execute(q):
            out[int(rid)] = ExceptionState(
                id=int(rid),
                label=str(ext or ""),
                match_state=str(state),
                case_id=None if cid is None else int(cid),
                status=status,
                assignee=login,
                resolution=resolution,
                reopen_count=int(reopens or 0),
            )
    return out


def dispute_states(session: Session, dispute_ids: Sequence[int]) -> dict[int, DisputeState]:
    """Current decision-relevant state of disputes rows by dispute id."""
    out: dict[int, DisputeState] = {}
    for chunk in _chunks(dispute_ids):
        decided = disputes.last_decisions(session, chunk)
        q = (
            select(
                Dispute.id,
                Dispute.psp_dispute_id,
                Dispute.status,
                Dispute.stage,
                User.login,
                Dispute.due_by,
                Dispute.evidence_locked,
            )
            .outerjoin(User, User.id == Dispute.assignee_id)
            .where(Dispute.id.in_(chunk))
        )
        for did, ref, status, stage, login, due_by, locked in session.execute(q):
            event, decision = decided.get(int(did), (None, None))
            out[int(did)] = DisputeState(
                id=int(did),
                label=str(ref),
                status=str(status),
                stage=str(stage),
                assignee=login,
                due_by=None if due_by is None else due_by.astimezone(dt.UTC).isoformat(),
                locked=bool(locked),
                decision=decision,
                decision_event=event,
            )
    return out


def existing_notes(session: Session, queue: str, states: dict[int, Any]) -> dict[int, set[str]]:
    """Note texts already on the rows' cases, by row id (re-applying a file adds no duplicate)."""
    out: dict[int, set[str]] = {}
    if queue == "exceptions":
        by_case = {st.case_id: rid for rid, st in states.items() if st.case_id is not None}
        for chunk in _chunks(list(by_case)):
            q = select(CaseNote.case_id, CaseNote.text).where(CaseNote.case_id.in_(chunk))
            for cid, text in session.execute(q):
                out.setdefault(by_case[int(cid)], set()).add(str(text).strip())
    else:
        for chunk in _chunks(list(states)):
            events = select(DisputeEvent.dispute_id, DisputeEvent.detail).where(
                DisputeEvent.dispute_id.in_(chunk), DisputeEvent.kind == "note"
            )
            for did, detail in session.execute(events):
                info: dict[str, Any] = dict(detail or {})
                out.setdefault(int(did), set()).add(str(info.get("text", "")).strip())
    return out


def _states(session: Session, queue: str, ids: Sequence[int]) -> dict[int, Any]:
    if queue == "exceptions":
        return exception_states(session, ids)
    return dispute_states(session, ids)


# --------------------------------------------------------------------------- decisions


def active_logins(session: Session) -> list[str]:
    return sorted(str(x) for x in session.scalars(select(User.login).where(User.active.is_(True))))


def decision_choices(session: Session, queue: str) -> list[str]:
    """The drop-down values for a queue (assign choices name every active user)."""
    _check_queue(queue)
    assign = [f"assign:{login}" for login in active_logins(session)]
    if queue == "exceptions":
        return [
            *(f"resolve:{r}" for r in cases.RESOLUTIONS),
            *assign,
            "unassign",
            "pending",
            "reopen",
        ]
    return ["accept", "fight", *assign, "unassign"]


def _check_queue(queue: str) -> None:
    if queue not in QUEUES:
        raise UserError(f"unknown queue {queue!r}; use {' or '.join(QUEUES)}")


def _grammar(queue: str) -> str:
    if queue == "exceptions":
        return "resolve:<reason>, assign:<login>, unassign, pending or reopen"
    return "accept, fight, assign:<login> or unassign"


def parse_decision(queue: str, text: str, logins: Sequence[str]) -> tuple[str, str | None]:
    """(action, argument) of a decision cell, e.g. "resolve:no_action" -> ("resolve", ...).

    Raises:
        ValueError: with a message naming what is allowed.
    """
    raw = text.strip()
    word, _, arg = raw.partition(":")
    word, arg = word.strip().lower(), arg.strip()
    simple = ("unassign", "pending", "reopen") if queue == "exceptions" else ("accept", "fight")
    if queue == "disputes":
        simple = (*simple, "unassign")
    if word in simple and not arg:
        return word, None
    if word == "assign":
        if not arg:
            raise ValueError("assign needs a login, e.g. assign:alice")
        if arg not in logins:
            near = [lo for lo in logins if lo.lower() == arg.lower()]
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(f"no active user {arg!r}{hint}")
        return "assign", arg
    if word == "resolve" and queue == "exceptions":
        reason = arg.lower().replace(" ", "_")
        if reason not in cases.RESOLUTIONS:
            raise ValueError(
                f"unknown resolution {arg!r}; use one of {', '.join(cases.RESOLUTIONS)}"
                if arg
                else f"resolve needs a reason, e.g. resolve:{cases.RESOLUTIONS[2]}"
            )
        return "resolve", reason
    raise ValueError(f"unknown decision {raw!r}; use {_grammar(queue)}")


def evaluate(state: State, action: str, arg: str | None) -> tuple[str, str]:
    """What `action` would do to a row in `state`: ("change", after), ("same", why) or
    ("invalid", message)."""
    if isinstance(state, ExceptionState):
        return _evaluate_exception(state, action, arg)
    return _evaluate_dispute(state, action, arg)


def _evaluate_exception(s: ExceptionState, action: str, arg: str | None) -> tuple[str, str]:
    if action == "note":
        if s.case_id is None:
            return "invalid", f"record {s.id} has no exception case to note ({s.match_state})"
        return "change", s.describe()
    if s.case_id is None:
        return "invalid", f"record {s.id} has no exception case ({s.match_state})"
    resolved = s.status == "resolved"
    if action == "resolve":
        if resolved:
            if s.resolution == arg:
                return "same", "already resolved so"
            return (
                "invalid",
                f"case {s.case_id} is already resolved ({s.resolution}); reopen it first",
            )
        return "change", f"resolved ({arg})"
    if action == "reopen":
        if not resolved:
            return "same", "not resolved"
        return "change", f"assigned to {s.assignee}" if s.assignee else "unassigned"
    if resolved:
        return "invalid", f"case {s.case_id} is resolved ({s.resolution}); reopen it first"
    if action == "assign":
        if s.assignee == arg:
            return "same", "already assigned so"
        status = "assigned" if s.status == "open" else s.status
        return "change", _exc_text(status, arg)
    if action == "unassign":
        if s.assignee is None:
            return "same", "already unassigned"
        status = "open" if s.status == "assigned" else s.status
        return "change", _exc_text(status, None)
    if action == "pending":
        if s.status == "pending":
            return "same", "already pending"
        return "change", _exc_text("pending", s.assignee)
    return "invalid", f"unknown action {action!r}"


def _exc_text(status: str | None, assignee: str | None) -> str:
    who = f"assigned to {assignee}" if assignee else "unassigned"
    return who if status in ("open", "assigned") else f"{status}, {who}"


def _evaluate_dispute(s: DisputeState, action: str, arg: str | None) -> tuple[str, str]:
    if action == "note":
        return "change", s.describe()
    if action in ("accept", "fight"):
        if action == "accept" and s.status == "accepted":
            return "same", "already accepted"
        if s.status != "needs_response" or s.locked:
            state = "submitted" if s.locked else s.status.replace("_", " ")
            return (
                "invalid",
                f"dispute {s.label} is {state}; only cases needing a response can be accepted "
                "or fought",
            )
        if action == "fight" and s.decision == "fight":
            return "same", "already marked to fight"
        after = dataclasses.replace(
            s,
            status="accepted" if action == "accept" else s.status,
            decision=action,
        )
        return "change", after.describe()
    if action in ("assign", "unassign"):
        login = arg if action == "assign" else None
        if s.assignee == login:
            return "same", "already assigned so" if login else "already unassigned"
        after = dataclasses.replace(s, assignee=login)
        text = after.describe()
        if s.status not in ("needs_response", "under_review"):
            text += f", assigned to {login}" if login else ", unassigned"
        return "change", text
    return "invalid", f"unknown action {action!r}"


# --------------------------------------------------------------------------- export


@dataclass
class ExportReport:
    """What `export_roundtrip` wrote."""

    path: Path
    queue: str
    rows: int
    choices: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"out": str(self.path), "queue": self.queue, "rows": self.rows}


EXCEPTION_COLUMNS = [
    Column(ID_HEADER, "int", 10),
    Column("case", "int", 8),
    Column("state", width=11),
    Column("source", width=18),
    Column("kind", width=12),
    Column("external_id", width=26),
    Column("booked_on", "date", 12),
    Column("age_days", "int", 9),
    Column("amount", "money", 14),
    Column("currency", width=9),
    Column("counterparty", width=22),
    Column("description", width=36),
    Column("case_status", width=12),
    Column("assignee", width=14),
    Column("priority", "int", 9),
    Column("due_on", "date", 12),
]
DISPUTE_COLUMNS = [
    Column(ID_HEADER, "int", 8),
    Column("dispute_id", width=28),
    Column("psp", width=10),
    Column("network", width=11),
    Column("reason_code", width=11),
    Column("reason_category", width=20),
    Column("stage", width=14),
    Column("status", width=15),
    Column("amount", "money", 14),
    Column("currency", width=9),
    Column("due_by", "datetime", 17),
    Column("time_left", width=16),
    Column("assignee", width=14),
    Column("evidence", "int", 9),
    Column("decision_so_far", width=15),
]
INSTRUCTIONS = {
    "exceptions": [
        "Fill in the green 'decision' column (pick from the drop-down) and, if you like, a "
        "'note'. Leave a row's decision empty to keep it as it is.",
        "resolve:<reason> closes the record's exception case; assign:<login> gives it to a "
        "colleague; unassign takes it back; pending marks it as waiting; reopen reopens a "
        "resolved case. A note alone is added to the case's notes.",
        "Then in the app: File > Apply decisions from Excel… (or `workstation roundtrip apply "
        "FILE`). You see every change first; rows someone else changed since this export are "
        "skipped unless you force them.",
        "Do not edit the id or row_version columns. The sheet is protected without a password "
        "only against accidents.",
    ],
    "disputes": [
        "Fill in the green 'decision' column (pick from the drop-down) and, if you like, a "
        "'note'. Leave a row's decision empty to keep it as it is.",
        "accept closes the case as accepted (no representment); fight records that evidence "
        "will be submitted; assign:<login> gives the case to a colleague; unassign takes it "
        "back. A note alone is added to the case's timeline.",
        "Then in the app: File > Apply decisions from Excel… (or `workstation roundtrip apply "
        "FILE`). You see every change first; rows someone else changed since this export are "
        "skipped unless you force them.",
        "Do not edit the id or row_version columns. The sheet is protected without a password "
        "only against accidents.",
    ],
}


def _plain_filters(filters: Any) -> dict[str, Any]:
    if filters is None:
        return {}
    if isinstance(filters, ExceptionFilters):
        return filters.to_dict()
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(filters).items()
        if v not in (None, False, (), [])
    }


def export_roundtrip(
    session: Session,
    queue: str,
    path: Path,
    filters: ExceptionFilters | QueueFilters | None = None,
    *,
    actor: str,
    progress: Progress | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> ExportReport:
    """Write the filtered queue as a decision workbook (.xlsx) at `path`."""
    _check_queue(queue)
    now = now or utcnow()
    choices = decision_choices(session, queue)
    meta = {
        "queue": queue,
        "exported_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "exported_by": actor,
        "filters": json.dumps(_plain_filters(filters), default=str, sort_keys=True),
    }
    if queue == "exceptions":
        f = filters if isinstance(filters, ExceptionFilters) else ExceptionFilters()
        f = dataclasses.replace(f, today=f.today or today or dt.date.today())
        total = table_queries.count(session, f)
        rows: Iterator[tuple[list[Any], str]] = _exception_rows(session, f)
        title, columns = "Exceptions", EXCEPTION_COLUMNS
    else:
        qf = filters if isinstance(filters, QueueFilters) else QueueFilters()
        total = dispute_queue.count_disputes(session, qf, now=now)["total"]
        rows = _dispute_rows(session, qf, now)
        title, columns = "Disputes", DISPUTE_COLUMNS
    sheet = DecisionSheet(
        title=title,
        columns=columns,
        choices=choices,
        meta=meta,
        instructions=INSTRUCTIONS[queue],
    )
    n = write_decision_workbook(path, sheet, rows, total=total, progress=progress)
    return ExportReport(path=path, queue=queue, rows=n, choices=choices)


def _date(value: Any) -> dt.date | None:
    return None if value is None else table_queries.as_date(value)


def _exception_rows(session: Session, f: ExceptionFilters) -> Iterator[tuple[list[Any], str]]:
    for page in table_queries.iter_pages(session, f, page_size=_PAGE):
        states = exception_states(session, [int(r["id"]) for r in page])
        for r in page:
            rid = int(r["id"])
            yield (
                [
                    rid,
                    r.get("case_id"),
                    r.get("state"),
                    r.get("source"),
                    r.get("kind"),
                    r.get("external_id"),
                    _date(r.get("booked_on")),
                    r.get("age_days"),
                    from_minor(int(r["amount_minor"]), str(r["currency"])),
                    r.get("currency"),
                    r.get("counterparty"),
                    r.get("description"),
                    r.get("case_status"),
                    r.get("assignee"),
                    r.get("priority"),
                    _date(r.get("due_on")),
                ],
                states[rid].version(),
            )


def _dispute_rows(
    session: Session, f: QueueFilters, now: dt.datetime
) -> Iterator[tuple[list[Any], str]]:
    key: Any = None
    while True:
        page = dispute_queue.list_disputes(session, f, after_key=key, limit=_PAGE, now=now)
        states = dispute_states(session, [r.id for r in page.rows])
        for r in page.rows:
            st = states[r.id]
            yield (
                [
                    r.id,
                    r.psp_dispute_id,
                    r.psp,
                    r.network,
                    r.reason_code,
                    r.reason_category,
                    r.stage,
                    r.status,
                    from_minor(r.amount_minor, r.currency),
                    r.currency,
                    r.due_by,
                    r.countdown,
                    r.assignee,
                    r.evidence_count,
                    st.decision,
                ],
                st.version(),
            )
        if page.next_key is None:
            return
        key = page.next_key


# --------------------------------------------------------------------------- plan


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
        note = _text(cell(values, NOTE_HEADER))
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

    states = _states(session, queue, [w[1] for w in wanted])
    noted = existing_notes(
        session, queue, {w[1]: states[w[1]] for w in wanted if w[3] and w[1] in states}
    )
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
        verdict, text = evaluate(state, action, arg)
        if verdict == "same" and note:
            action, arg = "note", None
            verdict, text = evaluate(state, action, arg)
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


# --------------------------------------------------------------------------- apply


@dataclass
class ApplyReport:
    """What `apply_roundtrip` did."""

    applied: list[Change] = field(default_factory=list)
    conflicts: list[Change] = field(default_factory=list)  # skipped: changed meanwhile
    failed: list[tuple[Change, str]] = field(default_factory=list)
    unchanged: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "applied": [c.as_json() for c in self.applied],
            "conflicts": [c.as_json() for c in self.conflicts],
            "failed": [{**c.as_json(), "error": e} for c, e in self.failed],
            "unchanged": self.unchanged,
        }

    def describe(self) -> str:
        lines = [f"applied {len(self.applied):,} change(s)"]
        if self.conflicts:
            lines.append(f"skipped {len(self.conflicts):,} row(s) changed by someone else:")
            lines += [f"  row {c.row}: {c.conflict}" for c in self.conflicts]
        if self.failed:
            lines.append(f"could not apply {len(self.failed):,} row(s):")
            lines += [f"  row {c.row}: {e}" for c, e in self.failed]
        if self.unchanged:
            lines.append(f"{self.unchanged:,} row(s) were already so")
        return "\n".join(lines)


def apply_roundtrip(
    session: Session,
    plan: RoundtripPlan,
    actor: str,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> ApplyReport:
    """Apply the plan's changes (and, with `force`, its conflicts) in the caller's transaction.

    Every row is checked again against the database as it is now: a row changed since the
    export is skipped unless forced; a decision no longer possible (say, the case was resolved
    meanwhile) is reported as failed; one already in effect is counted as unchanged.
    """
    report = ApplyReport()
    candidates = list(plan.changes) + (list(plan.conflicts) if force else [])
    report.conflicts = [] if force else list(plan.conflicts)
    states = _states(session, plan.queue, [c.id for c in candidates])
    noted = existing_notes(
        session, plan.queue, {c.id: states[c.id] for c in candidates if c.note and c.id in states}
    )
    todo: list[tuple[Change, bool]] = []
    for c in candidates:
        state = states.get(c.id)
        if state is None:
            report.failed.append((c, f"{c.id} no longer exists"))
            continue
        if c.note and c.note in noted.get(c.id, ()):
            c.note = ""
            if c.action == "note":
                report.unchanged += 1
                continue
        forced = state.version() != c.version
        if forced and not force:
            c.conflict = f"changed since the export; now {state.describe()}"
            report.conflicts.append(c)
            continue
        verdict, text = evaluate(state, c.action, c.argument)
        if verdict == "same":
            if not c.note:
                report.unchanged += 1
                continue
            c.action, c.argument = "note", None
            verdict, text = evaluate(state, "note", None)
        if verdict == "invalid":
            report.failed.append((c, text))
            continue
        c.before, c.after = state.describe(), text
        todo.append((c, forced))
    total = len(todo)
    if progress is not None:
        progress(0, total, "Applying decisions")
    if plan.queue == "exceptions":
        _apply_exceptions(session, [c for c, _ in todo], actor)
    else:
        _apply_disputes(session, [c for c, _ in todo], actor, progress)
    for c, forced in todo:
        audit.log(
            session,
            actor,
            AUDIT_ACTION,
            "exception_case" if plan.queue == "exceptions" else "dispute",
            c.target_id,
            {
                "source": SOURCE,
                "file": plan.path.name,
                "row": c.row,
                "record_id" if plan.queue == "exceptions" else "dispute_id": c.id,
                "decision": c.decision,
                "from": c.before,
                "to": c.after,
                "note": bool(c.note),
                "forced": forced,
            },
        )
        report.applied.append(c)
    session.flush()
    if progress is not None:
        progress(total, total, "Decisions applied")
    return report


def _groups(changes: Sequence[Change]) -> dict[tuple[str, str | None], list[Change]]:
    out: dict[tuple[str, str | None], list[Change]] = {}
    for c in changes:
        if c.action != "note":
            out.setdefault((c.action, c.argument), []).append(c)
    return out


def _apply_exceptions(session: Session, changes: Sequence[Change], actor: str) -> None:
    for (action, arg), group in _groups(changes).items():
        ids = [c.target_id for c in group]
        if action == "resolve":
            cases.resolve(session, ids, str(arg), actor=actor)
        elif action == "assign":
            cases.assign(session, ids, arg, actor=actor)
        elif action == "unassign":
            cases.assign(session, ids, None, actor=actor)
        elif action == "pending":
            cases.set_pending(session, ids, actor=actor)
        elif action == "reopen":
            cases.reopen(session, ids, actor=actor)
    for c in changes:
        if c.note:
            cases.add_note(session, c.target_id, c.note, actor=actor)


def _apply_disputes(
    session: Session, changes: Sequence[Change], actor: str, progress: Progress | None
) -> None:
    done = 0
    for (action, arg), group in _groups(changes).items():
        if action in ("assign", "unassign"):
            dispute_queue.assign(session, [c.target_id for c in group], arg, actor)
        else:
            for c in group:
                disputes.decide(session, c.target_id, action, actor)
                done += 1
                if progress is not None and done % 200 == 0:
                    progress(done, len(changes), "Applying decisions")
    for c in changes:
        if c.note:
            disputes.add_note(session, c.target_id, actor, c.note)


__all__ = [
    "AUDIT_ACTION",
    "QUEUES",
    "SOURCE",
    "ApplyReport",
    "Change",
    "DisputeState",
    "ExceptionState",
    "ExportReport",
    "RoundtripPlan",
    "RowProblem",
    "apply_roundtrip",
    "decision_choices",
    "dispute_states",
    "evaluate",
    "exception_states",
    "export_roundtrip",
    "parse_decision",
    "plan_roundtrip",
    "read_workbook",
]
