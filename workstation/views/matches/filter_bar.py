"""Filter bar of the matches table: status, rule, currency, confidence range, difference,
written off and free text, as `MatchFilters`."""

from __future__ import annotations

from PySide6.QtWidgets import QSpinBox

from ...services.reconcile.table_queries import MatchFilters
from ..queue.filter_bar import ANY, QueueFilterBar, choice_key, choice_value

# (text, key, statuses)
STATUS_CHOICES = (
    ("Active and suggested", "active", ("auto", "confirmed", "suggested")),
    ("Auto-confirmed", "auto", ("auto",)),
    ("Confirmed by a clerk", "confirmed", ("confirmed",)),
    ("Suggested", "suggested", ("suggested",)),
    ("Rejected / unmatched", "rejected", ("rejected",)),
    ("All", "all", ("auto", "confirmed", "suggested", "rejected")),
)
TRI_KEYS = {None: ANY, True: "yes", False: "no"}


def _tri(value) -> bool | None:
    return None if value is None else value == "yes"


def _confidence(name: str, prefix: str, tip: str, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(0, 100)
    if value:
        spin.setValue(value)
    spin.setPrefix(prefix)
    spin.setToolTip(tip)
    return spin


class MatchFilterBar(QueueFilterBar):
    """`changed` carries the new `MatchFilters`; filters no widget shows go to a chip."""

    FILTERS = MatchFilters

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.status = self.combo(
            "filter_match_status", "Status", [(t, k) for t, k, _ in STATUS_CHOICES], 18
        )
        self.rule = self.combo("filter_rule", "Rule", [("All rules", ANY)], 12)
        self.currency = self.combo(
            "filter_match_currency", "Currency", [("All currencies", ANY)], 9
        )
        self.confidence_min = _confidence(
            "filter_confidence_min", "conf. ≥ ", "Lowest confidence", 0
        )
        self.confidence_max = _confidence("filter_confidence_max", "≤ ", "Highest confidence", 100)
        self.difference = self.combo(
            "filter_difference",
            "With a difference",
            [("Any difference", ANY), ("With difference", "yes"), ("No difference", "no")],
            10,
        )
        self.written_off = self.combo(
            "filter_written_off",
            "Written off",
            [("Written off or not", ANY), ("Written off", "yes"), ("Not written off", "no")],
            11,
        )
        self.search = self.search_box("filter_match_search", "Reference, id, counterparty, note")
        self.add_extra_chip()
        self.reset_button = self.reset_control(tip=None)
        self.boxes = (self.status, self.rule, self.currency, self.difference, self.written_off)
        self.two_rows(
            [
                self.status,
                self.rule,
                self.currency,
                self.confidence_min,
                self.confidence_max,
                self.difference,
            ],
            [self.written_off],
            self.search,
            self.reset_button,
        )
        self.watch([*self.boxes, self.confidence_min, self.confidence_max, self.search])
        self._show_extra()

    def set_rules(self, names: list[str]) -> None:
        self.refill(self.rule, 1, [(n, n) for n in names])

    def set_currencies(self, currencies: list[str]) -> None:
        self.refill(self.currency, 1, [(c, c) for c in currencies])

    def filters(self) -> MatchFilters:
        rule = self.rule.currentData()
        cur = self.currency.currentData()
        lo, hi = self.confidence_min.value(), self.confidence_max.value()
        return self.with_extra(
            MatchFilters(
                statuses=choice_value(
                    STATUS_CHOICES, self.status.currentData(), STATUS_CHOICES[0][2]
                ),
                rules=(rule,) if rule else (),
                currencies=(cur,) if cur else (),
                confidence_min=lo or None,
                confidence_max=hi if hi < 100 else None,
                with_difference=_tri(self.difference.currentData()),
                written_off=_tri(self.written_off.currentData()),
                text=self.search.text().strip() or None,
            )
        )

    def _show(self, f: MatchFilters) -> dict[str, object]:
        extra: dict[str, object] = {}
        key = choice_key(STATUS_CHOICES, f.statuses)
        if key is None:
            self.set_data(self.status, "active")
            extra["statuses"] = tuple(f.statuses)
        else:
            self.set_data(self.status, key)
        self.show_one(self.rule, tuple(f.rules), extra, "rules")
        self.show_one(self.currency, tuple(c.upper() for c in f.currencies), extra, "currencies")
        self.confidence_min.setValue(int(f.confidence_min or 0))
        self.confidence_max.setValue(int(f.confidence_max) if f.confidence_max is not None else 100)
        self.set_data(self.difference, TRI_KEYS[f.with_difference])
        self.set_data(self.written_off, TRI_KEYS[f.written_off])
        self.search.setText(f.text or "")
        self.keep_fields(f, ("psp", "booked_from", "booked_to", "created_by"), extra)
        return extra

    def describe_extra(self, e: dict[str, object]) -> list[str]:
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
        return parts
