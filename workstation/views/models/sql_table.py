"""Lazy table model for very large SQL results: keyset pages fetched as rows are painted.

The model holds no table. It asks a small, Qt-free *data source* (the `TableSource` protocol of
`views.models.table_source`) for the row count and for pages of rows, keeps a bounded LRU cache of
pages, and turns a header click into a new query (never a `QSortFilterProxyModel`). Sequential
pages continue with the keyset key the previous page returned (constant cost anywhere in the
table); a far jump (dragging the scroll bar) asks the source for the key at that offset once, then
continues by keyset again.

Fetching runs on the GUI thread (a page is a fraction of a millisecond on an index); the session
comes from the `sessions` factory (a context manager, e.g. `ctx.session`) once per page. A source
whose default order is computed rather than indexed can serve pages by id from a key list it reads
in the background (see `views.disputes.source`).

Using it in a page (`views.queue` does all of this for a queue page)::

    model = SqlTableModel(ExceptionSource(), ctx.session, filters=ExceptionFilters(), parent=self)
    model.watch(ctx.data_changed, [RECORDS, CASES])   # reload (keeping the place) on changes
    configure_view(table, model)                       # views.queue.table_view: row heights
    KeepPlace(table, model)                            # views.queue.keep_place: same ids again
    model.set_filters(...); model.sort(column, order)  # new SQL queries
    model.data(index, ID_ROLE) / ROW_ROLE / VALUE_ROLE # the row's id, the row, the raw value
    export_source(session, ExceptionSource(), model.active_filters, model.sort_spec, path)
                                                       # views.models.table_export, any thread
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont
from sqlalchemy.exc import SQLAlchemyError

from ...errors import UserError
from .table_source import SortSpec, SourceColumn, TableSource, format_cell, missing, value_of

log = logging.getLogger(__name__)

ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 1  # the row object
ID_ROLE = int(Qt.ItemDataRole.UserRole) + 2  # source.row_id(row)
VALUE_ROLE = int(Qt.ItemDataRole.UserRole)  # the raw cell value

# Roles as plain ints: `data()` runs for every role of every painted cell, so it compares ints.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)
_UNUSED = frozenset(
    int(r)
    for r in (
        Qt.ItemDataRole.DecorationRole,
        Qt.ItemDataRole.CheckStateRole,
        Qt.ItemDataRole.SizeHintRole,
        Qt.ItemDataRole.EditRole,
        Qt.ItemDataRole.StatusTipRole,
        Qt.ItemDataRole.WhatsThisRole,
    )
)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_CENTER = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter
_ALIGN = {"left": _LEFT, "right": _RIGHT, "center": _CENTER}

# (background, foreground) per row state; dark text on light tints keeps >= 7:1 contrast, and the
# state is also in the text (e.g. "overdue 2 d"), never in the colour alone.
STATE_COLOURS: dict[str, tuple[str | None, str | None]] = {
    "overdue": ("#fde2e1", "#7a1212"),
    "due_today": ("#fff0cc", "#5c3b00"),
    "warning": ("#fff7e6", "#5c3b00"),
    "muted": (None, "#5f6670"),
}
NEGATIVE = "#a11d1d"


class SqlTableModel(QAbstractTableModel):
    """A read-only table over a `TableSource`, fetching pages on demand.

    Args:
        source: the data source.
        sessions: a factory of Session context managers (`ctx.session`); one per page fetched.
        filters: initial filters (opaque; see the source).
        sort: initial sort (None: the source's default order).
        page_size: rows per page.
        max_pages: pages kept in the LRU cache (memory bound: max_pages * page_size rows).
    """

    reloaded = Signal()  # after every (re)load: count and filters are new
    fetch_failed = Signal(str)  # a page could not be read (locked database, lost connection)

    WALK_CHUNK = 10_000  # rows per step when walking to a far page without `key_at`

    def __init__(
        self,
        source: TableSource,
        sessions: Callable[[], contextlib.AbstractContextManager[Any]],
        *,
        filters: Any = None,
        sort: SortSpec | None = None,
        page_size: int = 200,
        max_pages: int = 64,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.source = source
        self.columns: list[SourceColumn] = list(source.columns)
        self._sessions = sessions
        self._filters = filters
        self._active = filters  # as prepared for the current snapshot
        self._sort = sort
        self.page_size = max(1, int(page_size))
        self.max_pages = max(2, int(max_pages))
        self._count = 0
        self._pages: OrderedDict[int, list[Any]] = OrderedDict()
        # Per page, each row's display texts and brushes, prepared on first paint.
        self._cells: dict[int, list[tuple[Any, ...] | None]] = {}
        self._last_row: int = -1
        self._last_prepared: tuple[Any, ...] | None = None
        self._aligns = tuple(
            _ALIGN.get(c.align or "") or (_RIGHT if c.numeric else _LEFT) for c in self.columns
        )
        self._align_values = tuple(a.value for a in self._aligns)  # ints: no enum conversion
        self._starts: dict[int, Any] = {0: None}
        self._brushes = {
            state: (
                QBrush(QColor(bg)) if bg else None,
                QBrush(QColor(fg)) if fg else None,
            )
            for state, (bg, fg) in STATE_COLOURS.items()
        }
        self._negative = QBrush(QColor(NEGATIVE))
        self._bold = QFont()
        self._bold.setBold(True)
        self.fetches = 0  # pages read from the source (tests, benchmarks)
        self._watch_kinds: frozenset[str] = frozenset()
        self._load()

    # -- ours ------------------------------------------------------------------------------------
    @property
    def filters(self) -> Any:
        return self._filters

    @property
    def active_filters(self) -> Any:
        """The filters of the current snapshot (after the source's `prepare`)."""
        return self._active

    @property
    def sort_spec(self) -> SortSpec | None:
        return self._sort

    def set_filters(self, filters: Any) -> None:
        """Show what `filters` select (a new query; the cache is dropped)."""
        self._reset(filters=filters)

    def set_sort(self, sort: SortSpec | None) -> None:
        if sort != self._sort:
            self._reset(sort=sort)

    def reload(self) -> None:
        """Count again and drop every cached page (after data changed)."""
        self._reset()

    _KEEP = object()

    def _reset(self, *, filters: Any = _KEEP, sort: Any = _KEEP) -> None:
        # The query changes inside the reset: views (KeepPlace) see the old one when warned.
        self.beginResetModel()
        try:
            if filters is not SqlTableModel._KEEP:
                self._filters = filters
            if sort is not SqlTableModel._KEEP:
                self._sort = sort
            self._load()
        finally:
            self.endResetModel()
        self.reloaded.emit()

    def watch(self, changed_signal: Any, kinds: Sequence[str]) -> None:
        """Reload when `changed_signal(kind)` (e.g. `ctx.data_changed`) names one of `kinds`."""
        self._watch_kinds = frozenset(kinds)
        changed_signal.connect(self._on_data_changed)

    def _on_data_changed(self, kind: str) -> None:
        if kind in self._watch_kinds:
            self.reload()

    def _load(self) -> None:
        self._pages.clear()
        self._cells.clear()
        self._last_row, self._last_prepared = -1, None
        self._starts = {0: None}
        try:
            with self._sessions() as session:
                prepare = getattr(self.source, "prepare", None)
                self._active = prepare(session, self._filters) if prepare else self._filters
                self._count = int(self.source.count(session, self._active))
        except (SQLAlchemyError, UserError) as exc:
            log.warning("table count failed: %s", exc)
            self._count = 0
            self.fetch_failed.emit(str(exc))

    def row_count(self) -> int:
        return self._count

    def cached_pages(self) -> int:
        return len(self._pages)

    def row(self, i: int) -> Any:
        """The row at position `i` (fetched if needed), or None."""
        if not 0 <= i < self._count:
            return None
        page = self._page(i // self.page_size)
        j = i % self.page_size
        return page[j] if j < len(page) else None

    def row_id_at(self, i: int) -> Hashable | None:
        row = self.row(i)
        return None if row is None else self.source.row_id(row)

    def cached_row(self, i: int) -> Any:
        """The row at `i` only if its page is in the cache (never queries)."""
        page = self._pages.get(i // self.page_size)
        j = i % self.page_size
        return page[j] if page is not None and j < len(page) else None

    def find_row(self, row_id: Hashable, near: int | None = None, radius_pages: int = 1) -> int:
        """Position of `row_id`: cached pages first, then pages around `near`, then the source's
        `position_of`; -1 when not found."""
        for p, rows in self._pages.items():
            for j, row in enumerate(rows):
                if self.source.row_id(row) == row_id:
                    return p * self.page_size + j
        if near is not None and self._count:
            centre = min(max(0, near), self._count - 1) // self.page_size
            last = (self._count - 1) // self.page_size
            for p in range(max(0, centre - radius_pages), min(last, centre + radius_pages) + 1):
                for j, row in enumerate(self._page(p)):
                    if self.source.row_id(row) == row_id:
                        return p * self.page_size + j
        position_of = getattr(self.source, "position_of", None)
        if position_of is not None:
            with self._sessions() as session:
                pos = position_of(session, self._active, self._sort, row_id)
            if pos is not None and 0 <= pos < self._count:
                return int(pos)
        return -1

    def _page(self, p: int) -> list[Any]:
        cached = self._pages.get(p)
        if cached is not None:
            self._pages.move_to_end(p)
            return cached
        try:
            with self._sessions() as session:
                key = self._start_key(session, p)
                rows, next_key = self.source.fetch(
                    session, self._active, self._sort, key, self.page_size
                )
        except (SQLAlchemyError, UserError) as exc:
            log.warning("table page %d failed: %s", p, exc)
            self.fetch_failed.emit(str(exc))
            return []
        self.fetches += 1
        rows = list(rows)
        if next_key is not None:
            self._starts[p + 1] = next_key
        self._pages[p] = rows
        self._cells[p] = [None] * len(rows)
        while len(self._pages) > self.max_pages:
            gone, _ = self._pages.popitem(last=False)
            self._cells.pop(gone, None)
        return rows

    def _prepared(self, r: int) -> tuple[Any, ...] | None:
        """(texts, background, foregrounds, bold) of row `r`, computed once per cached page."""
        if r == self._last_row:  # a delegate asks seven roles of a cell in a row
            return self._last_prepared
        p, j = divmod(r, self.page_size)
        cells = self._cells.get(p)
        if cells is None:
            self._page(p)
            cells = self._cells.get(p)
            if cells is None:
                return None
        else:
            self._pages.move_to_end(p)
        if j >= len(cells):
            return None
        prepared = cells[j]
        if prepared is None:
            prepared = cells[j] = self._prepare(self._pages[p][j])
        self._last_row, self._last_prepared = r, prepared
        return prepared

    def _prepare(self, row: Any) -> tuple[Any, ...]:
        texts = tuple(format_cell(c, row) for c in self.columns)
        state_of = getattr(self.source, "row_state", None)
        state = state_of(row) if state_of else None
        background, foreground = self._brushes.get(state or "", (None, None))
        colours = []
        for column in self.columns:
            brush = foreground
            if brush is None and column.kind == "money":
                value = value_of(row, column.key)
                if not missing(value) and int(value) < 0:
                    brush = self._negative
            colours.append(brush)
        return texts, background, tuple(colours), state == "overdue"

    def _start_key(self, session: Any, p: int) -> Any:
        if p in self._starts:
            return self._starts[p]
        offset = p * self.page_size
        key_at = getattr(self.source, "key_at", None)
        if key_at is not None:
            key = key_at(session, self._active, self._sort, offset)
            self._starts[p] = key
            return key
        # Walk forward from the nearest known page start in big keyset steps.
        q = max(k for k in self._starts if k < p)
        key = self._starts[q]
        chunk = max(self.page_size, self.WALK_CHUNK // self.page_size * self.page_size)
        while q < p:
            n = min((p - q) * self.page_size, chunk)
            _rows, key = self.source.fetch(session, self._active, self._sort, key, n)
            q += n // self.page_size
            if key is None:
                break
            self._starts[q] = key
        return key

    # -- Qt --------------------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return _FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY):
        r, c = index.row(), index.column()
        if not (0 <= r < self._count and 0 <= c < len(self._aligns)) or role in _UNUSED:
            return None  # an invalid index has row -1
        if role == _DISPLAY:
            prepared = self._prepared(r)
            return None if prepared is None else prepared[0][c]
        if role == _ALIGNMENT:
            return self._align_values[c]
        if role == _BACKGROUND:
            prepared = self._prepared(r)
            return None if prepared is None else prepared[1]
        if role == _FOREGROUND:
            prepared = self._prepared(r)
            return None if prepared is None else prepared[2][c]
        if role == _FONT:
            prepared = self._prepared(r)
            return self._bold if prepared is not None and prepared[3] and c == 0 else None
        if role == _TOOLTIP:
            prepared = self._prepared(r)
            text = "" if prepared is None else prepared[0][c]
            return text if len(text) > 40 else None
        if role == _ACCESSIBLE:
            prepared = self._prepared(r)
            return None if prepared is None else f"{self.columns[c].header}: {prepared[0][c]}"
        if role in (VALUE_ROLE, ROW_ROLE, ID_ROLE):
            row = self.row(r)
            if row is None:
                return None
            if role == ROW_ROLE:
                return row
            if role == ID_ROLE:
                return self.source.row_id(row)
            value = value_of(row, self.columns[c].key)
            return None if missing(value) else value
        return None

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self.columns):
                return None
            column = self.columns[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return column.header
            if role == Qt.ItemDataRole.ToolTipRole:
                tip = column.tooltip or ""
                return (tip + ("\n" if tip else "") + "Click to sort") if column.sortable else tip
            if role == Qt.ItemDataRole.TextAlignmentRole:
                align = _ALIGN.get(column.align or "")
                return align or (_RIGHT if column.numeric else _LEFT)
            return None
        return super().headerData(section, orientation, role)

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """A new SQL query in the order of `column` (-1: the source's default order)."""
        if column < 0 or column >= len(self.columns):
            self.set_sort(None)
            return
        key = self.columns[column].sort_key
        if key is None:
            return
        self.set_sort(SortSpec(key, order == Qt.SortOrder.DescendingOrder))
