"""Filter bar of the exceptions table: source, account, currency, age, amount, state, case,
assignee and free text, as `ExceptionFilters` (applied in SQL by the table's source)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QLineEdit

from ...errors import UserError
from ...money import format_minor, parse_minor
from ...services.reconcile.table_queries import AGE_BUCKETS, OPEN_STATES, ExceptionFilters
from ..queue.filter_bar import ANY, QueueFilterBar, choice_key, choice_value
from .source import SOURCE_KINDS

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


def _amount_edit(name: str, placeholder: str, tip: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setToolTip(tip)
    edit.setMinimumWidth(48)
    edit.setMaximumWidth(84)
    edit.setClearButtonEnabled(True)
    return edit


class ExceptionFilterBar(QueueFilterBar):
    """One compact row of filters; `changed` carries the new `ExceptionFilters`.

    Filters no widget shows (a booking-date range or several accounts from a dashboard drill,
    record kinds, the date ages count from) are kept and named in a chip with a clear button.
    """

    FILTERS = ExceptionFilters

    def __init__(self, actor: str, parent=None) -> None:
        super().__init__(parent)
        self.actor = actor
        self.state = self.combo(
            "filter_state", "Match state", [(t, k) for t, k, _ in STATE_CHOICES], 8
        )
        self.source_kind = self.combo(
            "filter_source", "Source", [("All sources", ANY), *SOURCE_KINDS], 9
        )
        self.account = self.combo("filter_account", "Account", [("All accounts", ANY)], 11)
        self.currency = self.combo("filter_currency", "Currency", [("All currencies", ANY)], 10)
        self.age = self.combo(
            "filter_age",
            "Age since booking",
            [("Any age", ANY)] + [(f"{b} days", b) for b in AGE_BUCKETS],
            8,
        )
        self.case = self.combo(
            "filter_case", "Case status", [(t, k) for t, k, _ in CASE_CHOICES], 9
        )
        self.assignee = self.combo(
            "filter_assignee",
            "Assignee",
            [("Anyone", ANY), ("Mine", ME), ("Unassigned", UNASSIGNED)],
            8,
        )
        self.amount_min = _amount_edit(
            "filter_amount_min", "Amount ≥", "Smallest absolute amount (Enter applies)"
        )
        self.amount_max = _amount_edit(
            "filter_amount_max", "≤", "Largest absolute amount (Enter applies)"
        )
        self.search = self.search_box("filter_search", "Reference, id, counterparty, text")
        self.add_extra_chip()
        self.reset_button = self.reset_control()
        self.boxes = (
            self.state,
            self.source_kind,
            self.account,
            self.currency,
            self.age,
            self.case,
            self.assignee,
        )
        self.two_rows(
            [*self.boxes[:5], self.amount_min, self.amount_max],
            [self.case, self.assignee],
            self.search,
            self.reset_button,
        )
        self.watch([*self.boxes, self.amount_min, self.amount_max, self.search])
        self._show_extra()

    # -- choices -------------------------------------------------------------------------------
    def set_accounts(self, accounts: list[tuple[int, str]]) -> None:
        """(source id, name) of the accounts to offer."""
        self.refill(self.account, 1, [(name, int(i)) for i, name in accounts])

    def set_currencies(self, currencies: list[str]) -> None:
        self.refill(self.currency, 1, [(c, c) for c in currencies])

    def set_users(self, logins: list[str]) -> None:
        self.refill(self.assignee, 3, [(login, login) for login in logins if login])

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
        return self.with_extra(
            ExceptionFilters(
                states=choice_value(STATE_CHOICES, self.state.currentData()) or OPEN_STATES,
                source_kinds=(kind,) if kind else (),
                source_ids=(int(account),) if account is not None else (),
                currencies=(currency,) if currency else (),
                age_bucket=self.age.currentData(),
                amount_min=self._amount(self.amount_min),
                amount_max=self._amount(self.amount_max),
                case_statuses=choice_value(CASE_CHOICES, self.case.currentData()),
                assignee=self.actor if who == ME else ("" if who == UNASSIGNED else who),
                text=self.search.text().strip() or None,
            )
        )

    def _show(self, f: ExceptionFilters) -> dict[str, object]:
        extra: dict[str, object] = {}
        states = tuple(f.states or OPEN_STATES)
        if not self.set_data(self.state, choice_key(STATE_CHOICES, states)):
            extra["states"] = states
        kinds = tuple(f.source_kinds)
        if len(kinds) <= 1:
            self.set_data(self.source_kind, kinds[0] if kinds else ANY)
        else:
            self.set_data(self.source_kind, ANY)
            extra["source_kinds"] = kinds
        ids = tuple(int(i) for i in f.source_ids)
        if len(ids) == 1 and self.account.findData(ids[0]) >= 0:
            self.set_data(self.account, ids[0])
        else:
            self.set_data(self.account, ANY)
            if ids:
                extra["source_ids"] = ids
        cur = tuple(c.upper() for c in f.currencies)
        self.show_one(self.currency, cur, extra, "currencies")
        self.set_data(self.age, f.age_bucket)
        if not self.set_data(self.case, choice_key(CASE_CHOICES, tuple(f.case_statuses))):
            extra["case_statuses"] = tuple(f.case_statuses)
        if f.assignee is None:
            self.set_data(self.assignee, ANY)
        elif f.assignee == "":
            self.set_data(self.assignee, UNASSIGNED)
        elif f.assignee == self.actor:
            self.set_data(self.assignee, ME)
        else:
            self.show_one(self.assignee, (f.assignee,), extra, "assignee")
        currency = cur[0] if len(cur) == 1 else None
        self.amount_min.setText(
            format_minor(f.amount_min, currency) if f.amount_min is not None else ""
        )
        self.amount_max.setText(
            format_minor(f.amount_max, currency) if f.amount_max is not None else ""
        )
        self.search.setText(f.text or "")
        self.keep_fields(f, ("kinds", "booked_from", "booked_to", "today"), extra)
        return extra

    def describe_extra(self, e: dict[str, object]) -> list[str]:
        parts = []
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
        return parts
