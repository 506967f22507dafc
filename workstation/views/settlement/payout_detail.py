"""The selected payout: its components adding up to net, why the bank amount is what it is, its
bank line(s), its lines (paged: a payout may have 100k+) and its money trail."""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...errors import UserError
from ...money import format_minor
from ...services.settlement import payout_queries as pq
from ...services.settlement.payout_queries import PayoutRow
from ..models.sql_table import ROW_ROLE, SqlTableModel
from ..models.table import Column, RowsTableModel
from ..models.table_source import SourceColumn
from ..queue.table_view import LazyTableView
from .payout_list import STATUS_TEXT
from .trail_view import TrailView

COMPONENT_COLUMNS = (
    Column("label", "Component"),
    Column("amount_minor", "Amount", "money"),
)
BANK_COLUMNS = (
    Column("account", "Bank account"),
    Column("booked_on", "Booked", "date"),
    Column("amount_minor", "Amount", "money"),
    Column("currency", "Cur."),
    Column("external_id", "Bank ref"),
    Column("description", "Text"),
)


def _kind(row: Any) -> str:
    return str(row.kind).replace("_", " ")


LINE_COLUMNS = (
    SourceColumn("booked_on", "Booked", "date", width=84),
    SourceColumn("kind", "Kind", width=86, text=_kind),
    SourceColumn("external_id", "PSP id", width=190),
    SourceColumn("order_external_id", "Order", width=110, tooltip="The order its match pairs"),
    SourceColumn("amount_minor", "Amount", "money", width=80),
    SourceColumn("fee_minor", "Fee", "money", width=60),
    SourceColumn("net_minor", "Net", "money", width=80),
    SourceColumn("match_state", "State", width=80),
    SourceColumn("description", "Text", width=160),
)


class PayoutLineSource:
    """A payout's lines as a `TableSource` (filters: the payout id; keys: row offsets). The
    service pages by date with LIMIT/OFFSET, so a far jump is one page query."""

    columns = LINE_COLUMNS

    def count(self, session: Any, filters: Any) -> int:
        return 0 if filters is None else pq.payout_line_count(session, int(filters))

    def fetch(self, session: Any, filters: Any, sort: Any, after_key: Any, limit: int):
        if filters is None:
            return [], None
        offset = int(after_key or 0)
        rows = pq.payout_lines(session, int(filters), offset=offset, limit=limit)
        return rows, (offset + len(rows) if len(rows) == limit else None)

    def key_at(self, session: Any, filters: Any, sort: Any, offset: int) -> Any:
        return int(offset) or None

    def row_id(self, row: Any) -> int:
        return int(row.record_id)


class ComponentsModel(RowsTableModel):
    """The components; the `= Net` line in bold."""

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.FontRole and index.isValid():
            if str(self.row(index.row()).get("label")) == "= Net":
                font = QFont()
                font.setBold(True)
                return font
            return None
        return super().data(index, role)


def component_rows(p: PayoutRow) -> list[dict[str, Any]]:
    """Each component (zero ones left out, gross always), then the `= net` line (and what the
    PSP paid out when it differs)."""
    rows: list[dict[str, Any]] = [
        {"label": label.capitalize(), "amount_minor": int(v), "currency": p.currency}
        for label, v in p.components.items()
        if v or label == "gross"
    ]
    rows.append({"label": "= Net", "amount_minor": p.net_minor, "currency": p.currency})
    if p.payout_minor is not None and p.payout_minor != p.net_minor:
        rows.append(
            {"label": "PSP paid out", "amount_minor": p.payout_minor, "currency": p.currency}
        )
    return rows


def _small_table(name: str, model) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.horizontalHeader().setStretchLastSection(True)
    view.setWordWrap(False)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return view


class PayoutDetail(QWidget):
    """Right-hand pane of the Payouts page.

    Signals:
        loaded(int): a payout was shown.
        payout_requested(int): the trail opened a payout (the page selects it).
    """

    loaded = Signal(int)
    payout_requested = Signal(int)
    LINES_PAGE = 200  # lines per page read

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("payout_detail")
        self.ctx = ctx
        self.payout: PayoutRow | None = None
        self.title = QLabel()
        self.title.setObjectName("workspace_title")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)

        # summary: components, explanation, bank lines
        self.components = ComponentsModel(COMPONENT_COLUMNS, parent=self)
        self.components_view = _small_table("payout_components", self.components)
        self.explanation = QLabel()
        self.explanation.setObjectName("payout_explanation")
        self.explanation.setWordWrap(True)
        self.explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bank = RowsTableModel(BANK_COLUMNS, parent=self)
        self.bank_view = _small_table("payout_bank_lines", self.bank)
        self.bank_hint = QLabel()
        self.bank_hint.setObjectName("muted")
        self.bank_hint.setWordWrap(True)
        summary = QWidget()
        box_c = QGroupBox("Components")
        lc = QVBoxLayout(box_c)
        lc.addWidget(self.components_view)
        box_e = QGroupBox("Why the bank amount is what it is")
        le = QVBoxLayout(box_e)
        le.addWidget(self.explanation)
        box_b = QGroupBox("Bank line(s)")
        lb = QVBoxLayout(box_b)
        lb.addWidget(self.bank_view)
        lb.addWidget(self.bank_hint)
        box_c.setMaximumWidth(340)
        right = QVBoxLayout()
        right.addWidget(box_e)
        right.addWidget(box_b)
        right.addStretch(1)
        ls = QHBoxLayout(summary)
        ls.setContentsMargins(0, 6, 0, 0)
        ls.addWidget(box_c, 0, Qt.AlignmentFlag.AlignTop)
        ls.addLayout(right, 1)

        # lines: lazy, paged
        self.lines_source = PayoutLineSource()
        self.lines = SqlTableModel(
            self.lines_source, ctx.session, filters=None, page_size=self.LINES_PAGE, parent=self
        )
        self.lines_view = LazyTableView(self.lines)
        self.lines_view.setObjectName("payout_lines")
        self.lines_view.horizontalHeader().setSortIndicatorShown(False)
        self.lines_view.horizontalHeader().setSectionsClickable(False)
        self.lines_view.setToolTip("Double-click or Enter: the line's money trail")
        self.lines_view.viewport().installEventFilter(self)  # double-click: the line's trail
        self.lines_hint = QLabel()
        self.lines_hint.setObjectName("muted")
        lines = QWidget()
        ll = QVBoxLayout(lines)
        ll.setContentsMargins(0, 6, 0, 0)
        ll.addWidget(self.lines_hint)
        ll.addWidget(self.lines_view, 1)

        # trail
        self.trail_view = TrailView(ctx)
        self.trail_view.open_payout.connect(self._trail_payout)
        self.trail_view.open_record.connect(self.trail_view.show_record)
        self.trail_view.open_dispute.connect(self.trail_view.show_dispute)
        trail = QWidget()
        lt = QVBoxLayout(trail)
        lt.setContentsMargins(0, 6, 0, 0)
        lt.addWidget(self.trail_view)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("payout_tabs")
        self.tabs.setDocumentMode(True)
        self.summary_index = self.tabs.addTab(summary, "Summary")
        self.lines_index = self.tabs.addTab(lines, "Lines")
        self.trail_index = self.tabs.addTab(trail, "Trail")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.tabs, 1)
        self.lines_view.installEventFilter(self)
        self.clear()

    def sizeHint(self) -> QSize:
        return QSize(560, 600)

    def minimumSizeHint(self) -> QSize:
        return QSize(320, 240)

    @property
    def payout_id(self) -> int | None:
        return None if self.payout is None else self.payout.id

    def clear(self) -> None:
        self.payout = None
        self.title.setText("<b>No payout selected</b>")
        self.components.set_rows([])
        self.explanation.setText("Select a payout on the left to see what it is made of.")
        self.bank.set_rows([])
        self.bank_hint.setText("")
        self.lines.set_filters(None)
        self.lines_hint.setText("")
        self.trail_view.clear()

    def show_payout(self, p: PayoutRow | None) -> None:
        """Show a payout of the list (bank lines, line count and trail: a few indexed queries;
        the lines are paged as they are painted)."""
        if p is None:
            self.clear()
            return
        same = self.payout is not None and self.payout.id == p.id
        self.payout = p
        status = STATUS_TEXT.get(p.status, p.status)
        self.title.setText(
            f"<span style='font-size:13pt'><b>{escape(p.payout_ref)}</b> · {escape(status)}"
            f" · net {format_minor(p.net_minor, p.currency)} {escape(p.currency)}</span><br>"
            f"<span style='color:#5f6670'>{escape(p.account)} ({escape(str(p.psp or ''))})"
            f" · lines from {p.first_on or '—'} · paid {p.paid_on or '—'}"
            f" · expected at the bank {p.expected_on or '—'}</span>"
        )
        self.components.set_rows(component_rows(p))
        self.components_view.resizeColumnsToContents()
        self._fit_height(self.components_view, self.components.rowCount())
        self.explanation.setText(p.explanation())
        try:
            with self.ctx.session() as s:
                bank = [] if p.match_id is None else pq.bank_lines(s, p.match_id)
        except UserError as exc:
            bank = []
            self.ctx.notify(str(exc))
        self.bank.set_rows([vars(b) for b in bank])
        self.bank_view.resizeColumnsToContents()
        self._fit_height(self.bank_view, max(1, len(bank)))
        if not bank:
            self.bank_hint.setText(
                "No bank line settles this payout yet"
                + (f" (expected {p.expected_on})" if p.expected_on else "")
                + "."
            )
        elif p.status == "in_transit":
            self.bank_hint.setText(
                f"Booked after the as-of date: {bank[-1].booked_on}; in transit until then."
            )
        else:
            self.bank_hint.setText("")
        if not same:
            self.lines.set_filters(p.id)
            self.trail_view.show_payout(p.id)
        else:
            self.lines.reload()
        n = self.lines.rowCount()
        self.lines_hint.setText(
            f"{n:,} line{'s' if n != 1 else ''}, by date; pages are read as you scroll. "
            "Double-click a line (or Enter) for its money trail."
        )
        self.loaded.emit(p.id)

    @staticmethod
    def _fit_height(view: QTableView, rows: int) -> None:
        view.setFixedHeight(
            view.horizontalHeader().sizeHint().height()
            + view.verticalHeader().defaultSectionSize() * rows
            + 2 * view.frameWidth()
            + 2
        )
        view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

    # -- lines and trail -------------------------------------------------------------------------
    def open_line(self, r: int) -> None:
        """Show the trail of line `r` of the lines table on the Trail tab."""
        row = self.lines.data(self.lines.index(r, 0), ROW_ROLE)
        if row is None:
            return
        self.trail_view.show_record(int(row.record_id))
        self.tabs.setCurrentIndex(self.trail_index)

    def show_trail(self) -> None:
        """The payout's own trail on the Trail tab."""
        if self.payout is not None:
            self.trail_view.show_payout(self.payout.id)
        self.tabs.setCurrentIndex(self.trail_index)

    def _trail_payout(self, payout_id: int) -> None:
        if payout_id == self.payout_id:
            self.trail_view.show_payout(payout_id)
        else:
            self.payout_requested.emit(int(payout_id))

    def eventFilter(self, obj, event) -> bool:
        if (
            obj is self.lines_view.viewport()
            and event.type() == QEvent.Type.MouseButtonDblClick
            and event.button() == Qt.MouseButton.LeftButton
        ):
            index = self.lines_view.indexAt(event.position().toPoint())
            if index.isValid():
                self.open_line(index.row())
                return True
        if (
            obj is self.lines_view
            and event.type() == QEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and self.lines_view.currentIndex().isValid()
        ):
            self.open_line(self.lines_view.currentIndex().row())
            return True
        return super().eventFilter(obj, event)
