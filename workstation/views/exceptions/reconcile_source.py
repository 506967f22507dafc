"""Base of the reconcile tables' sources: `services.reconcile.table_queries` as a `TableSource`.

The Exceptions and Matches tables read the same keyset queries with their own filters class
(`ExceptionFilters`, `MatchFilters`); a subclass names that class, its columns and row states.
Pure Python, no Qt.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy.orm import Session

from ...services.reconcile import table_queries
from ..models.table_source import SortSpec


class ReconcileSource:
    """Keyset pages, far jumps (`key_at`) and positions from `table_queries`."""

    FILTERS: ClassVar[type] = table_queries.ExceptionFilters  # what filters default to

    def _filters(self, filters: Any) -> Any:
        return filters if isinstance(filters, self.FILTERS) else self.FILTERS()

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
