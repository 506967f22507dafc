"""The payouts list: a sortable table model over `PayoutRow`s, its filter bar and the per-currency
totals of what the filters select.

A year of daily payouts of three PSPs is about a thousand rows, so the page reads the whole list
(in the background) and sorts it in memory; a payout's lines are paged (`payout_detail`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QWidget,
)

from ...money import format_minor
from ...services.settlement.payout_queries import STATES, PayoutFilter, PayoutRow

ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 1  # the PayoutRow
ID_ROLE = int(Qt.ItemDataRole.UserRole) + 2  # its id
VALUE_ROLE = int(Qt.ItemDataRole.UserRole)  # the raw value (sorting, tests)

STATUS_TEXT = {
    "open": "open",
    "in_transit": "in transit",
    "paid": "paid",
    "failed": "failed",
    "carried_forward": "carried forward",
}
# (background, foreground) of the status cell; the status is also in the text.
STATUS_COLOURS = {
    "open": ("#eef1f5", "#38404a"),
    "in_transit": ("#fff0cc", "#5c3b00"),
    "paid": ("#e3f4e8", "#1e5631"),
    "failed": ("#fde2e1", "#7a1212"),
    "carried_forward": ("#ece6f7", "#45306e"),
}
NEGATIVE = "#a11d1d"
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


@dataclass(frozen=True)
class PayoutColumn:
    key: str  # PayoutRow attribute
    header: str
    kind: str = "text"  # text, int, money, date
    width: int = 80
    tooltip: str | None = None
    currency_key: str = "currency"

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "money")


COLUMNS = (
    PayoutColumn("payout_ref", "Payout", width=138, tooltip="The PSP's payout id"),
    PayoutColumn("psp", "PSP", width=50),
    PayoutColumn("account", "Account", width=84),
    PayoutColumn("currency", "Cur.", width=40, tooltip="Currency"),
    PayoutColumn("status", "Status", width=80),
    PayoutColumn("gross_minor", "Gross", "money", width=76),
    PayoutColumn("refunds_minor", "Refunds", "money", width=72),
    PayoutColumn("fees_minor", "Fees", "money", width=64),
    PayoutColumn("disputes_minor", "Disputes", "money", width=70, tooltip="With dispute fees"),
    PayoutColumn(
        "adjustments_minor", "Adjust.", "money", width=62, tooltip="Adjustments and carried"
    ),
    PayoutColumn("net_minor", "Net", "money", width=80),
    PayoutColumn("lines", "Lines", "int", width=46),
    PayoutColumn(
        "bank_amount_minor",
        "Bank",
        "money",
        width=80,
        currency_key="bank_currency",
        tooltip="What the bank credited (the whole credit when several payouts share it)",
    ),
    PayoutColumn("difference_minor", "Diff.", "money", width=60, tooltip="Bank − payout"),
    PayoutColumn("paid_on", "Paid on", "date", width=78, tooltip="Payout date at the PSP"),
    PayoutColumn("bank_booked_on", "At bank", "date", width=84, tooltip="Bank line booked on"),
)
MONEY_TOTALS = (
    ("gross_minor", "gross"),
    ("refunds_minor", "refunds"),
    ("fees_minor", "fees"),
    ("disputes_minor", "disputes"),
    ("adjustments_minor", "adjustments"),
    ("net_minor", "net"),
)


def cell_text(column: PayoutColumn, row: PayoutRow) -> str:
    value = getattr(row, column.key)
    if value is None:
        return ""
    if column.key == "status":
        return STATUS_TEXT.get(str(value), str(value).replace("_", " "))
    if column.kind == "money":
        currency = getattr(row, column.currency_key, None) or row.currency
        return format_minor(int(value), currency)
    if column.kind == "int":
        return f"{int(value):,}"
    if column.kind == "date":
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    return str(value)


def _sort_key(column: PayoutColumn, row: PayoutRow) -> tuple[Any, ...]:
    value = getattr(row, column.key)
    # None last (ascending); ties in the list's own order via the row id.
    if value is None:
        return (1, 0, -row.id)
    if column.kind in ("money", "int"):
        return (0, int(value), -row.id)
    if column.kind == "date":
        return (0, value.toordinal() if isinstance(value, dt.date) else 0, -row.id)
    return (0, str(value).lower(), -row.id)


class PayoutListModel(QAbstractTableModel):
    """Payouts (as `list_payouts` returned them), sorted in memory by a header click."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.columns = list(COLUMNS)
        self._rows: list[PayoutRow] = []
        self._loaded: list[PayoutRow] = []  # in the service's order (newest first)
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._brushes = {
            k: (QBrush(QColor(bg)), QBrush(QColor(fg))) for k, (bg, fg) in STATUS_COLOURS.items()
        }
        self._negative = QBrush(QColor(NEGATIVE))

    # -- ours --------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[PayoutRow]) -> None:
        self.beginResetModel()
        self._loaded = list(rows)
        self._rows = self._sorted(self._loaded)
        self.endResetModel()

    def rows(self) -> list[PayoutRow]:
        return list(self._rows)

    def row(self, i: int) -> PayoutRow | None:
        return self._rows[i] if 0 <= i < len(self._rows) else None

    def position_of(self, payout_id: int | None) -> int:
        if payout_id is None:
            return -1
        for i, r in enumerate(self._rows):
            if r.id == payout_id:
                return i
        return -1

    def sort_description(self) -> str:
        if self._sort is None:
            return "Newest payout first"
        c, order = self._sort
        down = order == Qt.SortOrder.DescendingOrder
        return f"By {self.columns[c].header.lower()}, {'descending' if down else 'ascending'}"

    def _sorted(self, rows: list[PayoutRow]) -> list[PayoutRow]:
        if self._sort is None:
            return list(rows)
        c, order = self._sort
        column = self.columns[c]
        return sorted(
            rows,
            key=lambda r: _sort_key(column, r),
            reverse=order == Qt.SortOrder.DescendingOrder,
        )

    # -- Qt ----------------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        r, c = index.row(), index.column()
        if not index.isValid() or not (0 <= r < len(self._rows) and 0 <= c < len(self.columns)):
            return None
        row = self._rows[r]
        column = self.columns[c]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(column, row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column.numeric else _LEFT
        if role == Qt.ItemDataRole.BackgroundRole:
            if column.key == "status":
                return self._brushes.get(row.status, (None, None))[0]
            if column.key == "difference_minor" and row.difference_minor:
                return self._brushes["in_transit"][0]
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column.key == "status":
                return self._brushes.get(row.status, (None, None))[1]
            value = getattr(row, column.key)
            if column.kind == "money" and value is not None and int(value) < 0:
                return self._negative
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column.key in ("status", "payout_ref"):
                return row.explanation()
            return None
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{column.header}: {cell_text(column, row)}"
        if role == ROW_ROLE:
            return row
        if role == ID_ROLE:
            return row.id
        if role == VALUE_ROLE:
            return getattr(row, column.key)
        return None

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self.columns):
                return None
            column = self.columns[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return column.header
            if role == Qt.ItemDataRole.ToolTipRole:
                return column.tooltip
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return _RIGHT if column.numeric else _LEFT
            return None
        return super().headerData(section, orientation, role)

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        old = {id(r): i for i, r in enumerate(self._rows)}
        persistent = self.persistentIndexList()
        self._sort = None if not 0 <= column < len(self.columns) else (column, order)
        self._rows = self._sorted(self._loaded)
        new = {id(r): i for i, r in enumerate(self._rows)}
        position = {old_i: new[key] for key, old_i in old.items()}
        self.changePersistentIndexList(
            persistent,
            [self.index(position.get(p.row(), p.row()), p.column()) for p in persistent],
        )
        self.layoutChanged.emit()


# -- totals ---------------------------------------------------------------------------------


@dataclass
class CurrencyTotal:
    currency: str
    payouts: int = 0
    sums: dict[str, int] = field(default_factory=dict)
    bank_minor: int = 0
    difference_minor: int = 0
    in_transit_minor: int = 0


def totals_by_currency(rows: Sequence[PayoutRow]) -> dict[str, CurrencyTotal]:
    """Sums per payout currency (never across currencies). A bank credit several payouts share is
    counted once."""
    out: dict[str, CurrencyTotal] = {}
    seen_matches: set[int] = set()
    for r in rows:
        t = out.setdefault(r.currency, CurrencyTotal(r.currency))
        t.payouts += 1
        for key, _word in MONEY_TOTALS:
            t.sums[key] = t.sums.get(key, 0) + int(getattr(r, key) or 0)
        if r.status == "in_transit":
            t.in_transit_minor += r.expected_minor
        if r.match_id is not None and r.match_id not in seen_matches:
            seen_matches.add(r.match_id)
            if r.bank_amount_minor is not None and (r.bank_currency or r.currency) == r.currency:
                t.bank_minor += int(r.bank_amount_minor)
            t.difference_minor += int(r.difference_minor or 0)
    return out


def totals_html(rows: Sequence[PayoutRow]) -> str:
    """One line per currency: payouts, components, net, bank credits, difference, in transit."""
    lines = []
    for cur, t in sorted(totals_by_currency(rows).items()):
        parts = [f"<b>{escape(cur)}</b> {t.payouts:,} payout{'s' if t.payouts != 1 else ''}"]
        for key, word in MONEY_TOTALS:
            value = format_minor(t.sums.get(key, 0), cur)
            parts.append(f"<b>{value}</b> {word}" if key == "net_minor" else f"{value} {word}")
        parts.append(f"bank {format_minor(t.bank_minor, cur)}")
        parts.append(f"difference {format_minor(t.difference_minor, cur)}")
        if t.in_transit_minor:
            parts.append(f"in transit {format_minor(t.in_transit_minor, cur)}")
        lines.append(" · ".join(parts))
    return "<br>".join(lines) if lines else "No payouts for these filters."


# -- filter bar -----------------------------------------------------------------------------

NO_DATE = QDate(2000, 1, 1)  # the date edits' "no date" (shown as "—")


def _date_edit(name: str, tip: str) -> QDateEdit:
    edit = QDateEdit()
    edit.setObjectName(name)
    edit.setToolTip(tip + " (clear: go to the first day and one back, or press Reset)")
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setMinimumDate(NO_DATE)
    edit.setSpecialValueText("—")
    edit.setDate(NO_DATE)
    return edit


def _day(edit: QDateEdit) -> dt.date | None:
    d = edit.date()
    if d == NO_DATE or not d.isValid():
        return None
    return dt.date(d.year(), d.month(), d.day())


def _set_day(edit: QDateEdit, day: dt.date | None) -> None:
    edit.setDate(NO_DATE if day is None else QDate(day.year, day.month, day.day))


class PayoutFilterBar(QWidget):
    """PSP, account, status, paid from/to, difference ≠ 0, search and the as-of cut-off.

    `changed(PayoutFilter)` once per edit (a combo choice, a date, the toggle, Enter in the
    search box or the box cleared); `set_filters` emits once at the end.
    """

    changed = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._quiet = False
        self.psp = QComboBox()
        self.psp.setObjectName("payout_psp")
        self.psp.setToolTip("PSP")
        self.account = QComboBox()
        self.account.setObjectName("payout_account")
        self.account.setToolTip("PSP account")
        self.status = QComboBox()
        self.status.setObjectName("payout_status")
        self.status.setToolTip("Status (at the as-of date when one is set)")
        self.status.addItem("Any status", None)
        for s in STATES:
            self.status.addItem(STATUS_TEXT.get(s, s).capitalize(), s)
        self.date_from = _date_edit("payout_from", "Payout date from")
        self.date_to = _date_edit("payout_to", "Payout date to")
        self.as_of = _date_edit(
            "payout_as_of",
            "As of: status at the end of this day; a payout sent by then whose bank line came "
            "later shows as in transit",
        )
        self.difference = QCheckBox("Difference ≠ 0")
        self.difference.setObjectName("payout_difference")
        self.difference.setToolTip("Only payouts whose bank credit differs (or is only suggested)")
        self.search = QLineEdit()
        self.search.setObjectName("payout_search")
        self.search.setPlaceholderText("Payout id or bank ref (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(150)
        self.reset_button = QToolButton()
        self.reset_button.setText("Reset")
        self.reset_button.setToolTip("Clear all filters")
        self.set_choices([], [])

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        for w in (self.psp, self.account, self.status):
            layout.addWidget(w)
        layout.addWidget(QLabel("Paid"))
        layout.addWidget(self.date_from)
        layout.addWidget(QLabel("to"))
        layout.addWidget(self.date_to)
        layout.addWidget(QLabel("As of"))
        layout.addWidget(self.as_of)
        layout.addWidget(self.difference)
        layout.addWidget(self.search, 1)
        layout.addWidget(self.reset_button)

        for box in (self.psp, self.account, self.status):
            box.currentIndexChanged.connect(self._emit)
        for edit in (self.date_from, self.date_to, self.as_of):
            edit.dateChanged.connect(self._emit)
        self.difference.toggled.connect(self._emit)
        self.search.returnPressed.connect(self._emit)
        self.search.textChanged.connect(lambda t: self._emit() if not t else None)
        self.reset_button.clicked.connect(self.reset)

    def set_choices(self, psps: Sequence[str], accounts: Sequence[str]) -> None:
        """Fill the PSP and account combos (keeps the current choice when still offered)."""
        with self._quiet_signals():
            for box, everything, values in (
                (self.psp, "Any PSP", psps),
                (self.account, "Any account", accounts),
            ):
                keep = box.currentData()
                box.clear()
                box.addItem(everything, None)
                for v in values:
                    box.addItem(str(v), str(v))
                i = box.findData(keep)
                box.setCurrentIndex(max(0, i))

    def filters(self) -> PayoutFilter:
        return PayoutFilter(
            psp=self.psp.currentData(),
            account=self.account.currentData(),
            status=self.status.currentData(),
            date_from=_day(self.date_from),
            date_to=_day(self.date_to),
            difference_only=self.difference.isChecked(),
            search=self.search.text().strip() or None,
            as_of=_day(self.as_of),
        )

    def set_filters(self, f: PayoutFilter) -> None:
        with self._quiet_signals():
            for box, value in ((self.psp, f.psp), (self.account, f.account)):
                i = box.findData(value)
                if i < 0 and value is not None:
                    box.addItem(str(value), str(value))
                    i = box.count() - 1
                box.setCurrentIndex(max(0, i))
            self.status.setCurrentIndex(max(0, self.status.findData(f.status)))
            _set_day(self.date_from, f.date_from)
            _set_day(self.date_to, f.date_to)
            _set_day(self.as_of, f.as_of)
            self.difference.setChecked(bool(f.difference_only))
            self.search.setText(f.search or "")
        self._emit()

    def reset(self) -> None:
        self.set_filters(PayoutFilter())

    def _emit(self, *_args) -> None:
        if not self._quiet:
            self.changed.emit(self.filters())

    class _Quiet:
        def __init__(self, bar: PayoutFilterBar) -> None:
            self.bar = bar

        def __enter__(self) -> None:
            self.before = self.bar._quiet
            self.bar._quiet = True

        def __exit__(self, *exc: object) -> None:
            self.bar._quiet = self.before

    def _quiet_signals(self) -> PayoutFilterBar._Quiet:
        return PayoutFilterBar._Quiet(self)
