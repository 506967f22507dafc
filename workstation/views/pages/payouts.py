"""Payouts page: every PSP payout with its components, its bank credit and the difference, and
the selected payout's components, bank line(s), lines and money trail below it.

The list is read whole in the background (about a thousand payouts a year) and sorted in memory;
a payout's lines are a lazy paged table. Keyboard: Up/Down move, Enter opens the detail, Esc goes
back to the list, Ctrl+F searches, Ctrl+T shows the payout's trail.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import shiboken6
from PySide6.QtCore import QItemSelectionModel, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import select

from ...models import Payout, Source
from ...services.settlement import payout_queries as pq
from ...services.settlement.payout_queries import PayoutFilter
from ..context import IMPORTS, MATCHES, RECORDS
from ..queue.export import ask_path
from ..settlement.payout_detail import PayoutDetail
from ..settlement.payout_list import PayoutFilterBar, PayoutListModel, totals_html
from .placeholder import page_header

WATCHED = (RECORDS, MATCHES, IMPORTS)
SETTINGS = "payouts_page"


class PayoutTable(QTableView):
    """The payouts list: whole rows, header sorts, Enter opens."""

    open_requested = Signal()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        ):
            self.open_requested.emit()
            return
        super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        if self.indexAt(event.position().toPoint()).isValid():
            self.open_requested.emit()
            return
        super().mouseDoubleClickEvent(event)


class PayoutsPage(QWidget):
    """Filter bar, the payouts list with per-currency totals (top), the payout (below).

    Signals:
        loaded(): the list was (re)loaded and shown.
    """

    TITLE = "Payouts"
    SUBTITLE = (
        "What each PSP payout is made of, which bank line paid it and what difference is left; "
        "set an as-of date to see what was still in transit then."
    )
    loaded = Signal()
    SPLITTER_SIZES = (330, 400)  # list, detail; until the user moves the splitter

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._seq = 0
        self._want: int | None = None  # the payout to select after the next load
        self._reload_due = False
        self.filter_bar = PayoutFilterBar()
        self.model = PayoutListModel(self)
        self.table = PayoutTable()
        self.table.setObjectName("payouts_table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long payout ids
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSortIndicatorShown(True)
        header.setSortIndicatorClearable(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        header.setSectionsClickable(True)
        header.sortIndicatorChanged.connect(self._sort_clicked)
        for i, column in enumerate(self.model.columns):
            self.table.setColumnWidth(i, column.width)
        self.count_label = QLabel()
        self.count_label.setObjectName("count_chip")
        self.order_label = QLabel()
        self.order_label.setObjectName("muted")
        self.order_label.setMinimumWidth(20)
        self.totals = QLabel()
        self.totals.setObjectName("payout_totals")
        self.totals.setTextFormat(Qt.TextFormat.RichText)
        self.totals.setWordWrap(True)
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail = PayoutDetail(ctx)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.table, 1)
        ll.addWidget(self.totals)
        # The list over the detail: both are wide tables (16 columns; a payout's lines).
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("payouts_splitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setCollapsible(0, False)
        self.splitter.splitterMoved.connect(self._remember_splitter)
        tools = QHBoxLayout()
        tools.addWidget(self.count_label)
        tools.addWidget(self.order_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 10)
        layout.addWidget(page_header(self.TITLE, self.SUBTITLE))
        layout.addWidget(self.filter_bar)
        layout.addLayout(tools)
        layout.addWidget(self.splitter, 1)
        self._restore_splitter()

        self.search_action = self._shortcut("Ctrl+F", self.focus_search, "Search payouts")
        self.back_action = self._shortcut("Esc", self.focus_table, "Back to the list")
        self.trail_action = self._shortcut("Ctrl+T", self.detail.show_trail, "Payout trail")
        self.filter_bar.changed.connect(lambda _f: self.reload())
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.open_requested.connect(self.open_detail)
        self.detail.payout_requested.connect(self.select_payout)
        ctx.data_changed.connect(self._data_changed)
        self.update_labels()
        QTimer.singleShot(0, self.load_choices)
        self.reload()

    # -- data ----------------------------------------------------------------------------------
    def filters(self) -> PayoutFilter:
        return self.filter_bar.filters()

    def load_choices(self) -> None:
        if not shiboken6.isValid(self):
            return
        with self.ctx.session() as s:
            pairs = s.execute(
                select(Payout.psp, Source.name)
                .join(Source, Source.id == Payout.source_id)
                .distinct()
            ).all()
        self.filter_bar.set_choices(
            sorted({str(p) for p, _a in pairs if p}), sorted({str(a) for _p, a in pairs})
        )

    def reload(self) -> None:
        """Read the list for the current filters in the background (the selection is kept)."""
        current = self.current_payout_id()
        if current is not None and self._want is None:
            self._want = current
        self._seq += 1
        seq = self._seq
        filters = self.filters()

        def op(session, progress):
            return pq.list_payouts(session, filters)

        def done(rows) -> None:
            if shiboken6.isValid(self) and seq == self._seq:
                self._show_rows(rows)

        self.ctx.tasks.run(op, done, label="Reading payouts", commit=False, cancellable=False)

    def _show_rows(self, rows) -> None:
        want = self._want
        self._want = None
        self.model.set_rows(rows)
        r = self.model.position_of(want)
        if r < 0 and self.model.rowCount():
            r = 0
        if r >= 0:
            self._select_row(r)
        else:
            self.detail.clear()
        self.update_labels()
        self.loaded.emit()

    def _data_changed(self, kind: str) -> None:
        if kind in WATCHED and not self._reload_due:
            self._reload_due = True
            QTimer.singleShot(0, self._reload_now)

    def _reload_now(self) -> None:
        self._reload_due = False
        if shiboken6.isValid(self):
            self.load_choices()  # an import may bring a new PSP account
            self.reload()

    def update_labels(self) -> None:
        n = self.model.rowCount()
        self.count_label.setText(f"{n:,} payout{'' if n == 1 else 's'}")
        self.order_label.setText(self.model.sort_description())
        self.totals.setText(totals_html(self.model.rows()))

    # -- rows ----------------------------------------------------------------------------------
    def current_payout(self):
        index = self.table.currentIndex()
        return self.model.row(index.row()) if index.isValid() else None

    def current_payout_id(self) -> int | None:
        p = self.current_payout()
        return None if p is None else p.id

    def _select_row(self, r: int) -> None:
        index = self.model.index(r, 0)
        self.table.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index)

    def select_payout(self, payout_id: int) -> bool:
        """Make this payout current; when the filters hide it, they are reset first (it is
        selected once the list is read again)."""
        r = self.model.position_of(int(payout_id))
        if r >= 0:
            self._select_row(r)
            return True
        self._want = int(payout_id)
        self.filter_bar.reset()
        return False

    def _current_changed(self, *_args) -> None:
        self.detail.show_payout(self.current_payout())

    def _sort_clicked(self, section: int, order: Qt.SortOrder) -> None:
        keep = self.current_payout_id()
        self.model.sort(section, order)
        r = self.model.position_of(keep)
        if r >= 0:
            self.table.scrollTo(self.model.index(r, 0))
        self.update_labels()

    # -- keys ----------------------------------------------------------------------------------
    def _shortcut(self, keys: str, slot, text: str) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def focus_search(self) -> None:
        self.filter_bar.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_bar.search.selectAll()

    def focus_table(self) -> None:
        self.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def open_detail(self) -> None:
        """Enter on the list: the detail's current tab gets the focus."""
        if self.current_payout() is None:
            return
        tab = self.detail.tabs.currentIndex()
        target = {
            self.detail.summary_index: self.detail.components_view,
            self.detail.lines_index: self.detail.lines_view,
            self.detail.trail_index: self.detail.trail_view.tree,
        }.get(tab, self.detail.components_view)
        target.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def page_shown(self) -> None:
        if not self.table.hasFocus() and self.isVisible():
            self.focus_table()

    # -- main window hooks -----------------------------------------------------------------------
    def apply_filters(self, data: dict) -> None:
        """Drill-down: payout_id (select it) or any PayoutFilter field."""
        pid = data.pop("payout_id", None)
        fields = {k: v for k, v in data.items() if k in PayoutFilter.__dataclass_fields__}
        for key in ("date_from", "date_to", "as_of"):
            if isinstance(fields.get(key), str):
                fields[key] = dt.date.fromisoformat(fields[key][:10])
        if fields:
            self.filter_bar.set_filters(PayoutFilter(**fields))
        if pid is not None:
            self.select_payout(int(pid))

    def export_table(self, path: Path | str | None = None):
        """The payouts the filters select (with their explanation) to .xlsx or .csv."""
        target = (
            Path(path) if path is not None else ask_path(self, "Export payouts", "payouts.xlsx")
        )
        if target is None:
            return None
        filters = self.filters()

        def op(session, progress):
            return pq.export_payouts(session, target, filters)

        def done(n) -> None:
            self.ctx.notify(f"{n:,} payouts written to {target.name}")

        return self.ctx.tasks.run(op, done, label="Exporting payouts", commit=False)

    # -- splitter --------------------------------------------------------------------------------
    def _remember_splitter(self, *_args) -> None:
        QSettings().setValue(f"{SETTINGS}/splitter", self.splitter.saveState())

    def _restore_splitter(self) -> None:
        state = QSettings().value(f"{SETTINGS}/splitter")
        if state is not None:
            self.splitter.restoreState(state)
        else:
            self.splitter.setSizes(list(self.SPLITTER_SIZES))
