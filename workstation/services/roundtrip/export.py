"""Exporting a queue for decisions: the filtered exceptions or disputes queue as a workbook.

The workbook (`exporters.roundtrip`) has the visible columns, a `decision` drop-down, a `note`
column and a hidden `row_version` per row; the exceptions come from
`services.reconcile.table_queries`, the disputes from the `dispute_queue` in urgency order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ...exporters.roundtrip import ID_HEADER, DecisionSheet, write_decision_workbook
from ...exporters.table import Column
from ...models import utcnow
from ...money import from_minor
from ..disputes import queue as dispute_queue
from ..disputes.queue import QueueFilters
from ..reconcile import table_queries
from ..reconcile.table_filters import ExceptionFilters
from .decision_grammar import check_queue, decision_choices
from .row_state import dispute_states, exception_states

Progress = Callable[[int, int, str], None]

_PAGE = 2000


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
    check_queue(queue)
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
