"""The Visa CE 3.0 tab of a case: eligibility, the customer and window, prior transactions."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..models.table import Column, RowsTableModel
from .case_widgets import banner, set_kind, table_view
from .source import words

CE3_COLUMNS = (
    Column("booked_on", "Booked", "date"),
    Column("external_id", "Transaction"),
    Column("amount_minor", "Amount", "money"),
    Column("ip", "IP"),
    Column("device_id", "Device"),
    Column("shipping_address", "Shipping"),
    Column("account_id", "Account"),
    Column("qualifies", "Qualifies"),
)


def ce3_detail(ce3) -> str:
    """The lines under the verdict: who the customer is, the window, the reasons, the rule."""
    detail = []
    if ce3.identity:
        detail.append(f"Customer by {words(ce3.identity[0])}: {ce3.identity[1]}")
    if ce3.window:
        detail.append(f"window {ce3.window[0]} to {ce3.window[1]} (120–365 days before)")
    detail += ce3.reasons
    detail.append(
        "A prior transaction qualifies with 2+ matching of IP, device, shipping address "
        "and account, one of them IP or device."
    )
    return "\n".join(detail)


def ce3_rows(ce3) -> list[dict]:
    """Rows of the prior transactions table: which core elements match, and the verdict."""
    yes = "match"
    return [
        {
            "booked_on": t.booked_on,
            "external_id": t.external_id,
            "amount_minor": t.amount_minor,
            "currency": t.currency,
            **{k: (yes if ok else "—") for k, ok in t.matches.items()},
            "qualifies": "yes" if t.qualifies else "no",
        }
        for t in ce3.transactions
    ]


class Ce3Tab:
    """The widgets of the CE 3.0 tab (`widget`) and how a check result fills them."""

    def __init__(self, owner: QWidget) -> None:
        self.summary = banner()
        self.detail = QLabel()
        self.detail.setObjectName("muted")
        self.detail.setWordWrap(True)
        self.model = RowsTableModel(CE3_COLUMNS, parent=owner)
        self.table = table_view("ce3_table", self.model)
        self.widget = QWidget()
        layout = QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.detail)
        layout.addWidget(self.table, 1)

    def show(self, ce3) -> None:
        """Fill the tab from a `services.disputes.ce3.CE3Result` (None: empty the table)."""
        if ce3 is None:
            self.model.set_rows([])
            return
        if ce3.eligible:
            self.summary.setText(
                f"<b>Eligible</b>: {ce3.qualifying} prior undisputed transactions qualify."
            )
            set_kind(self.summary, "ok")
        else:
            self.summary.setText(
                f"<b>Not eligible yet</b>: {ce3.qualifying} of 2 qualifying prior transactions."
            )
            set_kind(self.summary, "warning")
        self.detail.setText(ce3_detail(ce3))
        self.model.set_rows(ce3_rows(ce3))
        self.table.resizeColumnsToContents()
