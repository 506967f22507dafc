"""Filter bar of the exceptions table: source, account, currency, age, amount, state, case,
assignee and free text, as `ExceptionFilters` (applied in SQL by the table's source)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...errors import UserError
from ...money import format_minor, parse_minor
from ...services.reconcile.table_queries import AGE_BUCKETS, OPEN_STATES, ExceptionFilters
from .source import SOURCE_KINDS

ANY = None
ME = "\x00me"
UNASSIGNED = "\x00none"
# (text, key, value): combos hold the key (a string), the value is what the filter gets
STATE_CHOICES = (
    ("Open", "open", OPEN_STATES),
    ("Unmatched", "unmatched", ("unmatched",)),
    ("Suggested", "suggested", ("suggested",)),
)
CASE_CHOICES = (
    ("Any case", "any", ()),
    ("Not resolved", "unresolved", ("open", "assigned", "pending")),
    ("Open", "open", ("open",)),
    ("Assigned", "assigned", ("assigned",)),
    ("Pending", "pending", ("pending",)),
    ("Resolved", "resolved", ("resolved",)),
)


def _value(choices, key) -> tuple[str, ...]:
    return next((v for _, k, v in choices if k == key), ())


def _key(choices, value) -> str | None:
    return next((k for _, k, v in choices if set(v) == set(value)), None)


def combo(name: str, tip: str, items, width: int = 8) -> QComboBox:
    box = QComboBox()
    box.setObjectName(name)
    box.setToolTip(tip)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(width)
    box.setMinimumWidth(60)  # may shrink below its text in a narrow window
    for text, data in items:
        box.addItem(text, data)
    return box


def set_data(box: QComboBox, data) -> bool:
    """Select the item holding `data`; False (first item) when there is none."""
    i = box.findData(data)
    box.setCurrentIndex(max(0, i))
    return i >= 0


class ExceptionFilterBar(QWidget):
    """One compact row of filters; `changed` carries the new `ExceptionFilters`.

    Filters no widget shows (a booking-date range or several accounts from a dashboard drill,
    record kinds, the date ages count from) are kept and named in a chip with a clear button.
    """

    changed = Signal(object)

    def __init__(self, actor: str, parent=None) -> None:
        super().__init__(parent)
        self.actor = actor
        self._extra: dict[str, object] = {}
        self.state = combo("filter_state", "Match state", [(t, k) for t, k, _ in STATE_CHOICES], 8)
        self.source_kind = combo(
            "filter_source", "Source", [("All sources", ANY), *SOURCE_KINDS], 9
        )
        self.account = combo("filter_account", "Account", [("All accounts", ANY)], 11)
        self.currency = combo("filter_currency", "Currency", [("All currencies", ANY)], 10)
        self.age = combo(
            "filter_age",
            "Age since booking",
            [("Any age", ANY)] + [(f"{b} days", b) for b in AGE_BUCKETS],
            8,
        )
        self.case = combo("filter_case", "Case status", [(t, k) for t, k, _ in CASE_CHOICES], 9)
        self.assignee = combo(
            "filter_assignee",
            "Assignee",
            [("Anyone", ANY), ("Mine", ME), ("Unassigned", UNASSIGNED)],
            8,
        )
        self.amount_min = QLineEdit()
        self.amount_min.setObjectName("filter_amount_min")
        self.amount_min.setPlaceholderText("Amount ≥")
        self.amount_min.setToolTip("Smallest absolute amount (Enter applies)")
        self.amount_max = QLineEdit()
        self.amount_max.setObjectName("filter_amount_max")
        self.amount_max.setPlaceholderText("≤")
        self.amount_max.setToolTip("Largest absolute amount (Enter applies)")
        for edit in (self.amount_min, self.amount_max):
            edit.setMinimumWidth(48)
            edit.setMaximumWidth(84)
            edit.setClearButtonEnabled(True)
        self.search = QLineEdit()
        self.search.setObjectName("filter_search")
        self.search.setPlaceholderText("Reference, id, counterparty, text")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(80)
        self.extra_chip = QLabel()
        self.extra_chip.setObjectName("count_chip")
        self.extra_chip.setMinimumWidth(40)
        self.extra_clear = QToolButton()
        self.extra_clear.setText("✕")
        self.extra_clear.setToolTip("Remove this filter")
        self.extra_clear.clicked.connect(self.clear_extra)
        self.reset_button = QToolButton()
        self.reset_button.setText("Reset")
        self.reset_button.setToolTip("Clear all filters")
        self.reset_button.clicked.connect(self.reset)

        self.boxes = (
            self.state,
            self.source_kind,
            self.account,
            self.currency,
            self.age,
            self.case,
            self.assignee,
        )
        first = QHBoxLayout()
        first.setSpacing(6)
        for box in self.boxes[:5]:
            first.addWidget(box)
        first.addWidget(self.amount_min)
        first.addWidget(self.amount_max)
        first.addStretch(1)
        self.second = QHBoxLayout()
        self.second.setSpacing(6)
        self.second.addWidget(self.case)
        self.second.addWidget(self.assignee)
        self.second.addWidget(self.search, 1)
        self.second.addWidget(self.extra_chip)
        self.second.addWidget(self.extra_clear)
        self.second.addWidget(self.reset_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(first)
        layout.addLayout(self.second)
        for box in self.boxes:
            box.currentIndexChanged.connect(self._emit)
        for edit in (self.amount_min, self.amount_max, self.search):
            edit.returnPressed.connect(self._emit)
            edit.textChanged.connect(lambda text: None if text else self._emit())
        self._show_extra()

    def add_tail(self, widget: QWidget) -> None:
        """Put `widget` (e.g. the saved filters) at the end of the second row."""
        self.second.addSpacing(8)
        self.second.addWidget(widget)

    # -- choices -------------------------------------------------------------------------------
    def _refill(self, box: QComboBox, keep: int, items) -> None:
        current = box.currentData()
        box.blockSignals(True)
        while box.count() > keep:
            box.removeItem(keep)
        for text, data in items:
            box.addItem(text, data)
        set_data(box, current)
        box.blockSignals(False)

    def set_accounts(self, accounts: list[tuple[int, str]]) -> None:
        """(source id, name) of the accounts to offer."""
        self._refill(self.account, 1, [(name, int(i)) for i, name in accounts])

    def set_currencies(self, currencies: list[str]) -> None:
        self._refill(self.currency, 1, [(c, c) for c in currencies])

    def set_users(self, logins: list[str]) -> None:
        self._refill(self.assignee, 3, [(login, login) for login in logins if login])

    # -- filters -------------------------------------------------------------------------------
    def _amount(self, edit: QLineEdit) -> int | None:
        text = edit.text().strip()
        if not text:
            return None
        currency = self.currency.currentData() or "EUR"
        try:
            return abs(parse_minor(text, currency))
        except (UserError, ValueError, ArithmeticError):
            edit.setToolTip(f"Not an amount: {text}")
            return None

    def filters(self) -> ExceptionFilters:
        who = self.assignee.currentData()
        account = self.account.currentData()
        currency = self.currency.currentData()
        kind = self.source_kind.currentData()
        f = ExceptionFilters(
            states=_value(STATE_CHOICES, self.state.currentData()) or OPEN_STATES,
            source_kinds=(kind,) if kind else (),
            source_ids=(int(account),) if account is not None else (),
            currencies=(currency,) if currency else (),
            age_bucket=self.age.currentData(),
            amount_min=self._amount(self.amount_min),
            amount_max=self._amount(self.amount_max),
            case_statuses=_value(CASE_CHOICES, self.case.currentData()),
            assignee=self.actor if who == ME else ("" if who == UNASSIGNED else who),
            text=self.search.text().strip() or None,
        )
        return dataclasses.replace(f, **self._extra) if self._extra else f

    def set_filters(self, f: ExceptionFilters, *, emit: bool = True) -> None:
        """Show `f` in the widgets (what they cannot show goes to the chip)."""
        extra: dict[str, object] = {}
        for box in self.boxes:
            box.blockSignals(True)
        for edit in (self.amount_min, self.amount_max, self.search):
            edit.blockSignals(True)
        try:
            states = tuple(f.states or OPEN_STATES)
            if not set_data(self.state, _key(STATE_CHOICES, states)):
                extra["states"] = states
            kinds = tuple(f.source_kinds)
            if len(kinds) <= 1:
                set_data(self.source_kind, kinds[0] if kinds else ANY)
            else:
                set_data(self.source_kind, ANY)
                extra["source_kinds"] = kinds
            ids = tuple(int(i) for i in f.source_ids)
            if len(ids) == 1 and self.account.findData(ids[0]) >= 0:
                set_data(self.account, ids[0])
            else:
                set_data(self.account, ANY)
                if ids:
                    extra["source_ids"] = ids
            cur = tuple(c.upper() for c in f.currencies)
            if len(cur) == 1:
                if self.currency.findData(cur[0]) < 0:
                    self.currency.addItem(cur[0], cur[0])
                set_data(self.currency, cur[0])
            else:
                set_data(self.currency, ANY)
                if cur:
                    extra["currencies"] = cur
            set_data(self.age, f.age_bucket)
            if not set_data(self.case, _key(CASE_CHOICES, tuple(f.case_statuses))):
                extra["case_statuses"] = tuple(f.case_statuses)
            if f.assignee is None:
                set_data(self.assignee, ANY)
            elif f.assignee == "":
                set_data(self.assignee, UNASSIGNED)
            elif f.assignee == self.actor:
                set_data(self.assignee, ME)
            else:
                if self.assignee.findData(f.assignee) < 0:
                    self.assignee.addItem(f.assignee, f.assignee)
                set_data(self.assignee, f.assignee)
            currency = cur[0] if len(cur) == 1 else None
            self.amount_min.setText(
                format_minor(f.amount_min, currency) if f.amount_min is not None else ""
            )
            self.amount_max.setText(
                format_minor(f.amount_max, currency) if f.amount_max is not None else ""
            )
            self.search.setText(f.text or "")
            for key in ("kinds", "booked_from", "booked_to", "today"):
                value = getattr(f, key)
                if value:
                    extra[key] = value
        finally:
            for box in self.boxes:
                box.blockSignals(False)
            for edit in (self.amount_min, self.amount_max, self.search):
                edit.blockSignals(False)
        self._extra = extra
        self._show_extra()
        if emit:
            self._emit()

    def extra(self) -> dict[str, object]:
        return dict(self._extra)

    def _show_extra(self) -> None:
        parts = []
        e = self._extra
        if e.get("booked_from") or e.get("booked_to"):
            lo, hi = e.get("booked_from"), e.get("booked_to")
            parts.append(f"booked {lo or '…'} – {hi or '…'}")
        if e.get("source_ids"):
            parts.append(f"{len(e['source_ids'])} accounts")  # type: ignore[arg-type]
        if e.get("source_kinds"):
            parts.append("sources " + ", ".join(e["source_kinds"]))  # type: ignore[arg-type]
        if e.get("currencies"):
            parts.append(" ".join(e["currencies"]))  # type: ignore[arg-type]
        if e.get("kinds"):
            parts.append("kinds " + ", ".join(e["kinds"]))  # type: ignore[arg-type]
        if e.get("states"):
            parts.append("states " + ", ".join(e["states"]))  # type: ignore[arg-type]
        if e.get("case_statuses"):
            parts.append("cases " + ", ".join(e["case_statuses"]))  # type: ignore[arg-type]
        if isinstance(e.get("today"), dt.date):
            parts.append(f"ages as of {e['today']}")
        self.extra_chip.setText(" · ".join(parts))
        self.extra_chip.setVisible(bool(parts))
        self.extra_clear.setVisible(bool(parts))

    def clear_extra(self) -> None:
        self._extra = {}
        self._show_extra()
        self._emit()

    def reset(self) -> None:
        self.set_filters(ExceptionFilters())

    def _emit(self, *_args) -> None:
        self.changed.emit(self.filters())
