"""Filter bar of the matches table: status, rule, currency, confidence range, difference,
written off and free text, as `MatchFilters`."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...services.reconcile.table_queries import MatchFilters
from ..exceptions.filter_bar import combo, set_data

ANY = None
# (text, key, statuses)
STATUS_CHOICES = (
    ("Active and suggested", "active", ("auto", "confirmed", "suggested")),
    ("Auto-confirmed", "auto", ("auto",)),
    ("Confirmed by a clerk", "confirmed", ("confirmed",)),
    ("Suggested", "suggested", ("suggested",)),
    ("Rejected / unmatched", "rejected", ("rejected",)),
    ("All", "all", ("auto", "confirmed", "suggested", "rejected")),
)
TRI = (("Any", ANY), ("Yes", "yes"), ("No", "no"))


def _statuses(key) -> tuple[str, ...]:
    return next((v for _, k, v in STATUS_CHOICES if k == key), STATUS_CHOICES[0][2])


def _status_key(statuses) -> str | None:
    return next((k for _, k, v in STATUS_CHOICES if set(v) == set(statuses)), None)


def _tri(value) -> bool | None:
    return None if value is None else value == "yes"


class MatchFilterBar(QWidget):
    """`changed` carries the new `MatchFilters`; filters no widget shows go to a chip."""

    changed = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._extra: dict[str, object] = {}
        self.status = combo(
            "filter_match_status", "Status", [(t, k) for t, k, _ in STATUS_CHOICES], 18
        )
        self.rule = combo("filter_rule", "Rule", [("All rules", ANY)], 12)
        self.currency = combo("filter_match_currency", "Currency", [("All currencies", ANY)], 9)
        self.confidence_min = QSpinBox()
        self.confidence_min.setObjectName("filter_confidence_min")
        self.confidence_min.setRange(0, 100)
        self.confidence_min.setPrefix("conf. ≥ ")
        self.confidence_min.setToolTip("Lowest confidence")
        self.confidence_max = QSpinBox()
        self.confidence_max.setObjectName("filter_confidence_max")
        self.confidence_max.setRange(0, 100)
        self.confidence_max.setValue(100)
        self.confidence_max.setPrefix("≤ ")
        self.confidence_max.setToolTip("Highest confidence")
        self.difference = combo(
            "filter_difference",
            "With a difference",
            [("Any difference", ANY), ("With difference", "yes"), ("No difference", "no")],
            10,
        )
        self.written_off = combo(
            "filter_written_off",
            "Written off",
            [("Written off or not", ANY), ("Written off", "yes"), ("Not written off", "no")],
            11,
        )
        self.search = QLineEdit()
        self.search.setObjectName("filter_match_search")
        self.search.setPlaceholderText("Reference, id, counterparty, note")
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
        self.reset_button.clicked.connect(self.reset)
        self.boxes = (self.status, self.rule, self.currency, self.difference, self.written_off)
        first = QHBoxLayout()
        first.setSpacing(6)
        for w in (
            self.status,
            self.rule,
            self.currency,
            self.confidence_min,
            self.confidence_max,
            self.difference,
        ):
            first.addWidget(w)
        first.addStretch(1)
        self.second = QHBoxLayout()
        self.second.setSpacing(6)
        self.second.addWidget(self.written_off)
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
        for spin in (self.confidence_min, self.confidence_max):
            spin.valueChanged.connect(self._emit)
        self.search.returnPressed.connect(self._emit)
        self.search.textChanged.connect(lambda text: None if text else self._emit())
        self._show_extra()

    def add_tail(self, widget: QWidget) -> None:
        """Put `widget` (e.g. the saved filters) at the end of the second row."""
        self.second.addSpacing(8)
        self.second.addWidget(widget)

    def _refill(self, box, items) -> None:
        current = box.currentData()
        box.blockSignals(True)
        while box.count() > 1:
            box.removeItem(1)
        for text, data in items:
            box.addItem(text, data)
        set_data(box, current)
        box.blockSignals(False)

    def set_rules(self, names: list[str]) -> None:
        self._refill(self.rule, [(n, n) for n in names])

    def set_currencies(self, currencies: list[str]) -> None:
        self._refill(self.currency, [(c, c) for c in currencies])

    def filters(self) -> MatchFilters:
        rule = self.rule.currentData()
        cur = self.currency.currentData()
        lo, hi = self.confidence_min.value(), self.confidence_max.value()
        f = MatchFilters(
            statuses=_statuses(self.status.currentData()),
            rules=(rule,) if rule else (),
            currencies=(cur,) if cur else (),
            confidence_min=lo or None,
            confidence_max=hi if hi < 100 else None,
            with_difference=_tri(self.difference.currentData()),
            written_off=_tri(self.written_off.currentData()),
            text=self.search.text().strip() or None,
        )
        return dataclasses.replace(f, **self._extra) if self._extra else f

    def set_filters(self, f: MatchFilters, *, emit: bool = True) -> None:
        widgets = (*self.boxes, self.confidence_min, self.confidence_max, self.search)
        for w in widgets:
            w.blockSignals(True)
        extra: dict[str, object] = {}
        try:
            key = _status_key(f.statuses)
            if key is None:
                set_data(self.status, "active")
                extra["statuses"] = tuple(f.statuses)
            else:
                set_data(self.status, key)
            rules = tuple(f.rules)
            if len(rules) == 1:
                if self.rule.findData(rules[0]) < 0:
                    self.rule.addItem(rules[0], rules[0])
                set_data(self.rule, rules[0])
            else:
                set_data(self.rule, ANY)
                if rules:
                    extra["rules"] = rules
            cur = tuple(c.upper() for c in f.currencies)
            if len(cur) == 1:
                if self.currency.findData(cur[0]) < 0:
                    self.currency.addItem(cur[0], cur[0])
                set_data(self.currency, cur[0])
            else:
                set_data(self.currency, ANY)
                if cur:
                    extra["currencies"] = cur
            self.confidence_min.setValue(int(f.confidence_min or 0))
            self.confidence_max.setValue(
                int(f.confidence_max) if f.confidence_max is not None else 100
            )
            tri = {None: ANY, True: "yes", False: "no"}
            set_data(self.difference, tri[f.with_difference])
            set_data(self.written_off, tri[f.written_off])
            self.search.setText(f.text or "")
            for name in ("psp", "booked_from", "booked_to", "created_by"):
                value = getattr(f, name)
                if value:
                    extra[name] = value
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._extra = extra
        self._show_extra()
        if emit:
            self._emit()

    def extra(self) -> dict[str, object]:
        return dict(self._extra)

    def _show_extra(self) -> None:
        e = self._extra
        parts = []
        if e.get("psp"):
            parts.append(f"PSP {e['psp']}")
        if e.get("booked_from") or e.get("booked_to"):
            parts.append(f"booked {e.get('booked_from') or '…'} – {e.get('booked_to') or '…'}")
        if e.get("created_by"):
            parts.append(f"by {e['created_by']}")
        for key in ("statuses", "rules", "currencies"):
            if e.get(key):
                parts.append(", ".join(e[key]))  # type: ignore[arg-type]
        self.extra_chip.setText(" · ".join(parts))
        self.extra_chip.setVisible(bool(parts))
        self.extra_clear.setVisible(bool(parts))

    def clear_extra(self) -> None:
        self._extra = {}
        self._show_extra()
        self._emit()

    def reset(self) -> None:
        self.set_filters(MatchFilters())

    def _emit(self, *_args) -> None:
        self.changed.emit(self.filters())
