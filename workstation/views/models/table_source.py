"""The data-source protocol of the lazy SQL table (columns, sort, paging hooks) and cell values.

Plain Python (no Qt): a source adapts a service's queries; `views.models.sql_table.SqlTableModel`
shows it, `views.models.table_export.export_source` writes it to a file.

The protocol (`TableSource`)
----------------------------
A source is any object with::

    columns: Sequence[SourceColumn]
        What the table shows (header, kind, sort key; see `SourceColumn`).
    count(session, filters) -> int
        Rows the filters select.
    fetch(session, filters, sort: SortSpec | None, after_key, limit: int) -> (rows, next_key)
        Up to `limit` rows after `after_key` (None: from the first row) in `sort` order (None:
        the source's default order); `next_key` continues after the last row, None at the end.
        Rows are dicts or objects (values are read with `row[key]` or `getattr(row, key)`).
    row_id(row) -> Hashable
        A stable identity, so a view keeps the user's place across reloads.

and optionally::

    key_at(session, filters, sort, offset: int) -> after_key
        The `after_key` whose `fetch` starts at row `offset` (offset 0: None), e.g. the keyset
        key of row `offset - 1` found with OFFSET on the narrow sort-key query. Without it a far
        jump walks forward in big keyset steps from the nearest known page.
    prepare(session, filters) -> filters
        Called on each (re)load before `count`; returns the filters of this snapshot, e.g. with
        the "now" that urgency and countdowns are computed at pinned for every page.
    row_state(row) -> str | None
        "overdue", "due_today", "warning", "muted" or None: drawn with accessible colours.
    position_of(session, filters, sort, row_id) -> int | None
        Where a row now is (lets a reload re-select a row that moved far away).

`filters` is opaque to the model (whatever the source understands: `QueueFilters`,
`ExceptionFilters`, ...). `SortSpec.key` is a column's `sort_key`. The Exceptions and Matches
pages plug `services.reconcile.table_queries` in this way (`views.exceptions.reconcile_source`)::

    class ExceptionSource:
        columns = (SourceColumn("booked_on", "Booked", "date", sort_key="booked_on"), ...)
        def count(self, session, filters): return queries.count(session, filters)
        def fetch(self, session, filters, sort, after_key, limit):
            s = queries.Sort(sort.key, sort.descending) if sort else None
            page = queries.fetch_page(session, filters, s, after_key, limit)
            return page.rows, page.next_key
        def row_id(self, row): return row["id"]
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from ...money import format_minor, from_minor
from .cell_text import plain_text

KINDS = ("text", "int", "money", "date", "datetime", "percent")


@dataclass(frozen=True)
class SourceColumn:
    """One column of a source.

    Attributes:
        key: dict key or attribute of a row.
        header: column title.
        kind: text, int, money (integer minor units), date, datetime or percent (a fraction).
        sort_key: what the source sorts by when the header is clicked; None: not sortable.
        currency_key: money columns: the row key holding the ISO 4217 code.
        align: left, right or center (default: right for numbers, else left).
        tooltip: header tooltip.
        width: initial width in pixels.
        text: custom display text `text(row) -> str` (e.g. "10.4 fraud").
    """

    key: str
    header: str
    kind: str = "text"
    sort_key: str | None = None
    currency_key: str = "currency"
    align: str | None = None
    tooltip: str | None = None
    width: int | None = None
    text: Callable[[Any], str] | None = None

    @property
    def sortable(self) -> bool:
        return self.sort_key is not None

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "money", "percent")


@dataclass(frozen=True)
class SortSpec:
    """Sort by a column's `sort_key`; ties are the source's business (usually id)."""

    key: str
    descending: bool = False


class TableSource(Protocol):
    """The required part of a data source (see the module docstring for the optional hooks)."""

    columns: Sequence[SourceColumn]

    def count(self, session: Any, filters: Any) -> int: ...

    def fetch(
        self, session: Any, filters: Any, sort: SortSpec | None, after_key: Any, limit: int
    ) -> tuple[Sequence[Any], Any]: ...

    def row_id(self, row: Any) -> Hashable: ...


def value_of(row: Any, key: str) -> Any:
    """A row's value for `key` (dict key or attribute)."""
    if isinstance(row, Mapping):
        return row.get(key)
    return getattr(row, key, None)


def missing(value: Any) -> bool:
    """None or NaN."""
    if value is None:
        return True
    return isinstance(value, float) and value != value  # NaN


def format_cell(column: SourceColumn, row: Any) -> str:
    """Display text of one cell."""
    if column.text is not None:
        return column.text(row)
    value = value_of(row, column.key)
    if missing(value):
        return ""
    kind = column.kind
    if kind == "money":
        currency = value_of(row, column.currency_key)
        return format_minor(int(value), str(currency) if currency else None)
    if kind == "percent":
        return f"{float(value) * 100:.1f} %"
    return plain_text(kind, value)


def export_value(column: SourceColumn, row: Any) -> Any:
    """Cell value for a spreadsheet: exact Decimal for money, real numbers and dates."""
    if column.text is not None:
        return column.text(row)
    value = value_of(row, column.key)
    if missing(value):
        return None
    if column.kind == "money":
        currency = value_of(row, column.currency_key)
        return from_minor(int(value), str(currency) if currency else "XXX")
    if column.kind == "int":
        return int(value)
    if column.kind == "percent":
        return Decimal(str(value))
    return value
