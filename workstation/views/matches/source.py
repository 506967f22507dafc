"""Data source of the matches table for the lazy table model (pure Python, no Qt)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ...services.reconcile import table_queries
from ...services.reconcile.table_queries import MatchFilters
from ..models.sql_table import SortSpec, SourceColumn


def _words(value: Any) -> str:
    return "" if value is None else str(value).replace("_", " ")


def _writeoff(row: dict[str, Any]) -> str:
    return _words(row.get("writeoff_reason"))


COLUMNS = (
    SourceColumn(
        "id", "Match", sort_key="id", width=70, align="right", text=lambda r: str(int(r["id"]))
    ),
    SourceColumn("status", "Status", width=84),
    SourceColumn("rule", "Rule", sort_key="rule", width=170),
    SourceColumn(
        "confidence", "Conf.", "int", sort_key="confidence", width=52, tooltip="Confidence 0-100"
    ),
    SourceColumn("members", "Lines", "int", width=50, tooltip="Records in the match"),
    SourceColumn("difference_minor", "Difference", "money", sort_key="difference_minor", width=96),
    SourceColumn("currency", "Cur.", width=44, tooltip="Currency"),
    SourceColumn("writeoff_reason", "Written off", width=86, text=_writeoff),
    SourceColumn("created_at", "Created", "datetime", sort_key="created_at", width=128),
    SourceColumn("created_by", "By", width=72),
    SourceColumn("confirmed_by", "Confirmed by", width=90),
    SourceColumn("note", "Note", width=200),
)
DEFAULT_HIDDEN = ("confirmed_by",)


class MatchSource:
    """Matches (auto, confirmed, suggested; rejected on request) as a `TableSource`."""

    columns = COLUMNS

    @staticmethod
    def _filters(filters: Any) -> MatchFilters:
        return filters if isinstance(filters, MatchFilters) else MatchFilters()

    @staticmethod
    def _sort(sort: SortSpec | None) -> table_queries.Sort | None:
        return table_queries.Sort(sort.key, sort.descending) if sort is not None else None

    def count(self, session: Session, filters: Any) -> int:
        return table_queries.count(session, self._filters(filters))

    def fetch(
        self, session: Session, filters: Any, sort: SortSpec | None, after_key: Any, limit: int
    ) -> tuple[list[dict[str, Any]], Any]:
        page = table_queries.fetch_page(
            session, self._filters(filters), self._sort(sort), after_key, limit
        )
        return page.rows, page.next_key

    def key_at(self, session: Session, filters: Any, sort: SortSpec | None, offset: int) -> Any:
        return table_queries.key_at(session, self._filters(filters), self._sort(sort), offset)

    def position_of(
        self, session: Session, filters: Any, sort: SortSpec | None, row_id: Any
    ) -> int | None:
        return table_queries.position_of(
            session, self._filters(filters), self._sort(sort), int(row_id)
        )

    def row_id(self, row: dict[str, Any]) -> int:
        return int(row["id"])

    def row_state(self, row: dict[str, Any]) -> str | None:
        status = row.get("status")
        if status == "rejected":
            return "muted"
        if status == "suggested":
            return "warning"
        return None
