"""A queue page: title, controls, and the queue beside its detail pane in a remembered splitter.

Each page declares its queue (`QueuePane` with a `QueueSpec`, a source and a filter bar) and its
detail widget, lays itself out with its own controls above the splitter (`lay_out`) and says
what the detail shows for the current row (`show_current`). The page keeps the splitter where
the user left it, exports the table as shown (`export_shown`), and offers `select_id`,
`current_row` and `sort_description` of its queue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLayout, QSplitter, QVBoxLayout, QWidget

from .. import messages
from ..pages.placeholder import page_header
from .export import ask_path, export_table, visible_columns
from .pane import QueuePane


class QueuePage(QWidget):
    """Header, the page's controls, and a splitter of the queue (left) and `detail` (right).

    Args:
        ctx: the AppContext.
        queue: the queue pane.
        detail: the pane beside the queue (None: added later with `add_detail`).
    """

    TITLE = ""
    SUBTITLE = ""
    MARGINS = (20, 16, 20, 10)
    STRETCH = (3, 2)  # splitter stretch of the queue and the detail pane
    SPLITTER_SIZES = (560, 640)  # until the user moves the splitter
    EXPORT_NOUN = "row(s)"
    EXPORT_FIXES_SUFFIX = True  # a file name without .xlsx or .csv gets .xlsx

    def __init__(self, ctx, queue: QueuePane, detail: QWidget | None, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.queue = queue
        # The queue's parts, as the page's (they never change).
        self.source = queue.source
        self.model = queue.model
        self.table = queue.table
        self.filter_bar = queue.filter_bar
        self.count_label = queue.count_label
        self.order_label = queue.order_label
        self.saved = queue.saved
        self.detail: QWidget | None = None
        key = queue.spec.key
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName(f"{key}_splitter")
        self.splitter.addWidget(queue)
        self.splitter.setStretchFactor(0, self.STRETCH[0])
        if detail is not None:
            self.add_detail(detail)
        self.splitter.setCollapsible(0, False)
        self.splitter.splitterMoved.connect(self.remember_splitter)
        queue.current_changed.connect(self.show_current)
        QTimer.singleShot(0, self.load_choices)

    # -- what pages declare ----------------------------------------------------------------------
    def lay_out(self, *controls: QWidget | QLayout | int) -> None:
        """Lay the page out: its header, `controls` (widgets, layouts or spacing in pixels) and
        the splitter, top to bottom (also the order Tab moves the focus in)."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(*self.MARGINS)
        layout.addWidget(page_header(self.TITLE, self.SUBTITLE))
        for item in controls:
            if isinstance(item, int):
                layout.addSpacing(item)
            elif isinstance(item, QLayout):
                layout.addLayout(item)
            else:
                layout.addWidget(item)
        layout.addWidget(self.splitter, 1)
        self.restore_splitter()

    def add_detail(self, detail: QWidget) -> None:
        """Put the detail pane beside the queue."""
        self.detail = detail
        self.splitter.addWidget(detail)
        self.splitter.setStretchFactor(1, self.STRETCH[1])

    def show_current(self, row: Any) -> None:
        """Show the queue's current row (None: no row) in the detail pane."""

    def load_choices(self) -> None:
        """Fill the filter bar's choices from the store (after the first screen is up)."""

    def shortcut(self, keys: str | list[str], slot, text: str) -> QAction:
        """A keyboard shortcut that works anywhere on the page."""
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(k) for k in (keys if isinstance(keys, list) else [keys])])
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # -- the queue -------------------------------------------------------------------------------
    def current_row(self) -> Any:
        return self.queue.current_row()

    def select_id(self, row_id) -> bool:
        return self.queue.select_id(row_id)

    def sort_description(self) -> str:
        return self.queue.sort_description()

    def set_filters(self, filters: Any) -> None:
        self.queue.set_filters(filters)

    def reload(self) -> None:
        self.queue.reload()

    def show_filters(self, make, errors: tuple[type[Exception], ...]) -> None:
        """Show the filters `make()` builds (a dashboard drill); its `errors` are shown."""
        try:
            filters = make()
        except errors as exc:
            messages.show_error(self, str(exc))
            return
        self.filter_bar.set_filters(filters)

    # -- the splitter ----------------------------------------------------------------------------
    def remember_splitter(self, *_args) -> None:
        QSettings().setValue(
            f"{self.queue.spec.settings_group}/splitter", self.splitter.saveState()
        )

    def restore_splitter(self) -> None:
        state = QSettings().value(f"{self.queue.spec.settings_group}/splitter")
        if state is not None:
            self.splitter.restoreState(state)
        else:
            self.splitter.setSizes(list(self.SPLITTER_SIZES))

    # -- export (a page offers File > Export with an `export_table` that calls `export_shown`) ----
    def export_source(self) -> Any:
        """A new source for the export (its worker thread uses it alone: the table's source
        belongs to the GUI thread)."""
        return type(self.source)()

    def export_shown(self, path: Path | str | None = None):
        """Write the table as shown (filters, order, visible columns) to .xlsx or .csv in the
        background (asks for the file when `path` is None); returns the task, or None."""
        spec = self.queue.spec
        if path is not None:
            target: Path | None = Path(path)
        else:
            target = ask_path(
                self,
                f"Export {spec.key}",
                f"{spec.key}.xlsx",
                fix_suffix=self.EXPORT_FIXES_SUFFIX,
            )
        if target is None:
            return None
        source = self.export_source()
        return export_table(
            self.ctx,
            make_source=lambda: source,
            columns=visible_columns(self.table),
            filters=self.model.active_filters,
            sort=self.model.sort_spec,
            path=target,
            title=spec.title,
            noun=self.EXPORT_NOUN,
        )
