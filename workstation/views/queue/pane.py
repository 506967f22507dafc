"""The queue side of a queue page: filter bar, lazy SQL table over a source, counts and order.

A page declares a `QueueSpec` (what the queue is called, what its rows are, which data changes
reload it), a `TableSource` and a `QueueFilterBar`; the pane builds the `SqlTableModel` and the
table, keeps the count and order labels current, offers the saved filters, and tells the page
which row is current (`current_changed`), also after a reload kept the user's place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..models.sql_table import SqlTableModel
from .filter_bar import QueueFilterBar
from .saved_filters import SavedFilters
from .table_view import LazyTableView, QueueTable


@dataclass(frozen=True)
class QueueSpec:
    """What a queue page declares about its queue.

    Attributes:
        key: the page's name ("exceptions"): the table is `<key>_table`, the splitter
            `<key>_splitter`, settings are under `<key>_page`, saved filters under `key`.
        noun: the count label's words for one row and for several ("match", "matches").
        default_order: the order label when no header sorts ("Oldest first").
        hidden: columns hidden until the user chooses otherwise.
        saved_filters: offer saved filters (at the end of the filter bar).
        watched: `ctx.data_changed` kinds that reload the table (once per burst).
        page_size: rows per page the model fetches.
    """

    key: str
    noun: tuple[str, str]
    default_order: str
    hidden: tuple[str, ...] = ()
    saved_filters: bool = False
    watched: tuple[str, ...] = ()
    page_size: int = 200

    @property
    def title(self) -> str:
        return self.key.capitalize()

    @property
    def settings_group(self) -> str:
        return f"{self.key}_page"


class QueuePane(QWidget):
    """Filter bar + lazy table + count and order labels of one queue.

    The pane's own layout holds the table only; the page places `filter_bar`, `count_label`,
    `order_label` (and the pane's other controls) above its splitter.

    Signals:
        current_changed(object): the current row (None without one): the cursor moved, or the
            table was reloaded (the row may be the same one with new values).
        data_reloaded(): the table was reloaded because watched data changed.
    """

    current_changed = Signal(object)
    data_reloaded = Signal()

    def __init__(
        self, ctx, spec: QueueSpec, source: Any, filter_bar: QueueFilterBar, parent=None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.spec = spec
        self.source = source
        self.filter_bar = filter_bar
        self._reload_due = False
        self.model = SqlTableModel(
            source,
            ctx.session,
            filters=self.query(filter_bar.filters()),
            page_size=spec.page_size,
            parent=self,
        )
        self.table = self.create_table()
        self.table.setObjectName(f"{spec.key}_table")
        self.count_label = QLabel()
        self.count_label.setObjectName("count_chip")
        self.order_label = QLabel()
        self.order_label.setObjectName("muted")
        self.saved: SavedFilters | None = None
        if spec.saved_filters:
            self.saved = SavedFilters(ctx, spec.key, lambda: self.model.filters)
            filter_bar.add_tail(self.saved)
            self.saved.loaded.connect(lambda f: self.filter_bar.set_filters(f))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)

        filter_bar.changed.connect(self.set_filters)
        self.model.reloaded.connect(self._reloaded)
        self.model.fetch_failed.connect(lambda text: ctx.notify(f"{spec.title}: {text}"))
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        if spec.watched:
            ctx.data_changed.connect(self._data_changed)
        self.update_labels()

    def create_table(self) -> LazyTableView:
        """The table view (a `QueueTable` unless the queue wants a plainer one)."""
        return QueueTable(self.model, self.spec.settings_group, hidden=self.spec.hidden)

    def query(self, filters: Any) -> Any:
        """What the source is asked with for the filter bar's `filters` (the same, by default)."""
        return filters

    # -- data ------------------------------------------------------------------------------------
    def set_filters(self, filters: Any) -> None:
        self.model.set_filters(self.query(filters))

    def reload(self) -> None:
        self.model.reload()

    def _data_changed(self, kind: str) -> None:
        # A burst of changes (an undo announces three kinds) reloads once, after it.
        if kind in self.spec.watched and not self._reload_due:
            self._reload_due = True
            QTimer.singleShot(0, self._reload_now)

    def _reload_now(self) -> None:
        self._reload_due = False
        self.model.reload()
        self.data_reloaded.emit()

    def _reloaded(self) -> None:
        self.update_labels()
        self._current_changed()

    def update_labels(self) -> None:
        n = self.model.rowCount()
        one, many = self.spec.noun
        self.count_label.setText(f"{n:,} {one if n == 1 else many}")
        self.order_label.setText(self.sort_description())

    # -- rows ------------------------------------------------------------------------------------
    def current_row(self) -> Any:
        """The row under the cursor, as the source returned it (None without one)."""
        return self.table.current_row()

    def select_id(self, row_id) -> bool:
        """Make the row with this id current; False when the table does not have it."""
        return self.table.select_id(row_id)

    def sort_description(self) -> str:
        """`By amount, descending`, or the queue's default order."""
        return self.table.sort_description(self.spec.default_order)

    def _current_changed(self, *_args) -> None:
        self.current_changed.emit(self.current_row())
