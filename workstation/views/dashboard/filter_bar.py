"""The dashboard's period picker (months with data or a custom range) and account/PSP filters."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from ...services.analytics import catalogue
from ...services.analytics.dashboard import Choices

CUSTOM = "custom"
ALL = ""


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(day: QDate) -> dt.date:
    return dt.date(day.year(), day.month(), day.day())


class FilterBar(QWidget):
    """Emits `changed()` when the period or a filter changes (the page recomputes)."""

    changed = Signal()
    refresh_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("dashboard_filters")
        self.month = QComboBox()
        self.month.setObjectName("dashboard_month")
        self.month.setToolTip("The month to show (months with data, newest first)")
        self.month.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.date_from = QDateEdit()
        self.date_from.setObjectName("dashboard_from")
        self.date_to = QDateEdit()
        self.date_to.setObjectName("dashboard_to")
        for edit, tip in ((self.date_from, "First day"), (self.date_to, "Last day (inclusive)")):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setToolTip(tip)
            edit.editingFinished.connect(self._custom_edited)
        self.range_dash = QLabel("–")
        self.account = QComboBox()
        self.account.setObjectName("dashboard_account")
        self.account.setToolTip("Only the lines of this account (bank, PSP or order source)")
        self.psp = QComboBox()
        self.psp.setObjectName("dashboard_psp")
        self.psp.setToolTip("Only this PSP's lines and disputes")
        for box in (self.account, self.psp):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            box.setMinimumContentsLength(10)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("dashboard_refresh")
        self.refresh_button.setToolTip("Recompute the numbers (F5)")
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.refresh_requested)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(QLabel("Period"))
        layout.addWidget(self.month)
        layout.addWidget(self.date_from)
        layout.addWidget(self.range_dash)
        layout.addWidget(self.date_to)
        layout.addSpacing(12)
        layout.addWidget(QLabel("Account"))
        layout.addWidget(self.account)
        layout.addSpacing(6)
        layout.addWidget(QLabel("PSP"))
        layout.addWidget(self.psp)
        layout.addStretch(1)
        layout.addWidget(self.refresh_button)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

        self.month.currentIndexChanged.connect(self._month_changed)
        self.account.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.psp.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self._fill_months([], None)
        self._fill(self.account, "All accounts", [])
        self._fill(self.psp, "All PSPs", [])
        self._show_custom(False)

    # -- choices ---------------------------------------------------------------------------------
    def set_choices(self, choices: Choices, period: tuple[dt.date, dt.date]) -> None:
        """Offer the months and filters of `choices`; show `period` (no `changed` signal)."""
        self._fill_months(choices.months, period)
        self._fill(self.account, "All accounts", choices.sources)
        self._fill(self.psp, "All PSPs", choices.psps)

    def _fill(self, box: QComboBox, everything: str, values: list[str]) -> None:
        current = box.currentData()
        box.blockSignals(True)
        box.clear()
        box.addItem(everything, ALL)
        for v in values:
            box.addItem(v, v)
        i = box.findData(current) if current else 0
        box.setCurrentIndex(max(0, i))
        box.blockSignals(False)

    def _fill_months(self, months: list[dt.date], period: tuple[dt.date, dt.date] | None) -> None:
        self.month.blockSignals(True)
        self.month.clear()
        for m in months:
            self.month.addItem(f"{m:%B %Y}", m.isoformat())
        self.month.addItem("Custom range…", CUSTOM)
        if period is not None:
            self._set_range(*period)
            lo, hi = period
            whole = lo.day == 1 and hi == catalogue.month_end(lo)
            i = self.month.findData(lo.isoformat()) if whole else -1
            self.month.setCurrentIndex(i if i >= 0 else self.month.count() - 1)
            self._show_custom(i < 0)
        else:
            self.month.setCurrentIndex(self.month.count() - 1)
            self._show_custom(True)
        self.month.blockSignals(False)

    def _set_range(self, lo: dt.date, hi: dt.date) -> None:
        for edit, day in ((self.date_from, lo), (self.date_to, hi)):
            edit.blockSignals(True)
            edit.setDate(_qdate(day))
            edit.blockSignals(False)

    def _show_custom(self, on: bool) -> None:
        for w in (self.date_from, self.range_dash, self.date_to):
            w.setVisible(on)

    # -- reading ---------------------------------------------------------------------------------
    def period(self) -> tuple[dt.date, dt.date]:
        lo, hi = _pydate(self.date_from.date()), _pydate(self.date_to.date())
        return (lo, hi) if lo <= hi else (hi, lo)

    def sources(self) -> tuple[str, ...]:
        v = self.account.currentData()
        return (v,) if v else ()

    def psps(self) -> tuple[str, ...]:
        v = self.psp.currentData()
        return (v,) if v else ()

    def select_month(self, month: dt.date) -> bool:
        """Pick the month starting `month` if offered (emits `changed`)."""
        i = self.month.findData(catalogue.month_start(month).isoformat())
        if i < 0:
            return False
        self.month.setCurrentIndex(i)
        return True

    def set_custom_range(self, lo: dt.date, hi: dt.date) -> None:
        """Show a custom period (emits `changed`)."""
        self.month.blockSignals(True)
        self.month.setCurrentIndex(self.month.count() - 1)
        self.month.blockSignals(False)
        self._show_custom(True)
        self._set_range(lo, hi)
        self.changed.emit()

    # -- events ----------------------------------------------------------------------------------
    def _month_changed(self, _index: int) -> None:
        data = self.month.currentData()
        if data == CUSTOM:
            self._show_custom(True)
            self.date_from.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self._show_custom(False)
        start = dt.date.fromisoformat(str(data))
        self._set_range(start, catalogue.month_end(start))
        self.changed.emit()

    def _custom_edited(self) -> None:
        if self.month.currentData() == CUSTOM:
            self.changed.emit()
