"""Data source of the exceptions table for the lazy table model (pure Python, no Qt).

Adapts `services.reconcile.table_queries` (ExceptionFilters, keyset pages, `key_at`, `position_of`)
to the `TableSource` protocol of `views.models.table_source`. Counts come from the facet counts
(`services.reconcile.queue_counts`) when they are loaded and the filters allow it, else from SQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from ...services.reconcile import table_queries
from ...services.reconcile.queue_counts import Facets
from ...services.reconcile.table_queries import ExceptionFilters
from ..models.table_source import SourceColumn
from .reconcile_source import ReconcileSource

STATE_TEXT = {"unmatched": "unmatched", "suggested": "suggested", "matched": "matched"}
SOURCE_KINDS = (("ledger", "Orders"), ("psp", "PSP"), ("bank", "Bank"))


def words(value: Any) -> str:
    return "" if value is None else str(value).replace("_", " ")


def _id(key: str):
    """Display of an id column: digits only (no thousands separator)."""

    def text(row: dict[str, Any]) -> str:
        value = row.get(key)
        return "" if value is None else str(int(value))

    return text


def _age(row: dict[str, Any]) -> str:
    days = row.get("age_days")
    return "" if days is None else f"{int(days)} d"


COLUMNS = (
    SourceColumn("id", "Record", width=70, align="right", tooltip="Record id", text=_id("id")),
    SourceColumn("state", "State", width=84, text=lambda r: words(r.get("state"))),
    SourceColumn("booked_on", "Booked", "date", sort_key="booked_on", width=88),
    SourceColumn(
        "age_days", "Age", width=50, align="right", text=_age, tooltip="Days since booked"
    ),
    SourceColumn("amount_minor", "Amount", "money", sort_key="amount_minor", width=96),
    SourceColumn("currency", "Cur.", width=44, tooltip="Currency"),
    SourceColumn("source", "Source", width=120),
    SourceColumn("kind", "Kind", width=86, text=lambda r: words(r.get("kind"))),
    SourceColumn("external_id", "External id", width=150),
    SourceColumn("counterparty", "Counterparty", width=150),
    SourceColumn("case_status", "Case", width=72, text=lambda r: words(r.get("case_status"))),
    SourceColumn(
        "priority",
        "Prio",
        "int",
        sort_key="priority",
        width=48,
        tooltip="Priority 0-100 from the amount at risk and the age",
    ),
    SourceColumn("due_on", "Due", "date", sort_key="due_on", width=88),
    SourceColumn("assignee", "Assignee", width=84),
    SourceColumn(
        "match_id",
        "Match",
        width=62,
        align="right",
        tooltip="Suggested match",
        text=_id("match_id"),
    ),
    SourceColumn("description", "Description", width=220),
)
DEFAULT_HIDDEN = ("description",)


class ExceptionSource(ReconcileSource):
    """Every open record (unmatched or in a suggested match) as a `TableSource`.

    Args:
        today: the date ages are counted from (None: the real today, pinned per load).
    """

    columns = COLUMNS
    FILTERS = ExceptionFilters

    def __init__(self, today: dt.date | None = None) -> None:
        self.today = today
        self.facets: Facets | None = None
        self.sql_counts = 0  # counts that had to scan (tests, benchmarks)

    def prepare(self, session: Session, filters: Any) -> ExceptionFilters:
        f = self._filters(filters)
        return dataclasses.replace(f, today=f.today or self.today or dt.date.today())

    def count(self, session: Session, filters: Any) -> int:
        f = self._filters(filters)
        if self.facets is not None:
            n = self.facets.count(f)
            if n is not None:
                return n
        self.sql_counts += 1
        return table_queries.count(session, f)

    def row_state(self, row: dict[str, Any]) -> str | None:
        status = row.get("case_status")
        if status == "resolved":
            return "muted"
        due = row.get("due_on")
        if isinstance(due, dt.date) and status is not None:
            today = self.today or dt.date.today()
            if due < today:
                return "overdue"
            if due == today:
                return "due_today"
        return None
