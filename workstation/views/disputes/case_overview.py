"""The Overview tab of a case: transaction, customer, reason code and the money trail."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from ...money import format_minor
from ..models.table import Column, RowsTableModel
from .case_widgets import scrolled, table_view, when_text
from .source import words

TRAIL_COLUMNS = (
    Column("booked_on", "Booked", "date"),
    Column("role_text", "Role"),
    Column("source", "Source"),
    Column("external_id", "Reference"),
    Column("amount_minor", "Amount", "money"),
    Column("fee_minor", "Fee", "money"),
    Column("currency", "Cur."),
    Column("counted_text", "In totals"),
)
ROLE_TEXT = {
    "charge": "Charge",
    "order": "Order",
    "withdrawn": "Withdrawn",
    "fee": "Dispute fee",
    "reinstated": "Reinstated",
    "refund": "Refund",
}


def _fill(form: QFormLayout, rows: list[tuple[str, str]]) -> None:
    while form.rowCount():
        form.removeRow(0)
    for label, value in rows:
        text = QLabel(value or "—")
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text.setWordWrap(True)
        form.addRow(label, text)


def transaction_rows(v) -> list[tuple[str, str]]:
    """(label, text) of the Transaction box: the charge, the order and the case's dates."""
    rows: list[tuple[str, str]] = []
    t, o = v.transaction, v.order
    rows.append(("Charge", (t or {}).get("external_id") or v.charge_ref or ""))
    if t:
        rows += [
            ("Booked", when_text(t.get("booked_on"))),
            ("Amount", t.get("amount_text") or ""),
            ("Source", t.get("source") or ""),
            ("Description", t.get("description") or ""),
        ]
    rows.append(("Order", (o or {}).get("external_id") or v.order_ref or ""))
    if o:
        rows.append(("Order amount", o.get("amount_text") or ""))
    rows += [("Opened", when_text(v.opened_at)), ("Due by", when_text(v.due_by))]
    return rows


def customer_rows(customer: dict[str, str]) -> list[tuple[str, str]]:
    """(label, text) of the Customer box."""
    c = customer
    return [
        ("Name", c.get("name", "")),
        ("E-mail", c.get("email", "")),
        ("Account", c.get("account_id") or c.get("customer_id", "")),
        ("IP address", c.get("ip", "")),
        ("Device", c.get("device_id", "")),
        ("Shipping", c.get("shipping_address", "")),
    ]


def trail_rows(trail) -> list[dict]:
    """Rows of the money trail table."""
    return [
        {
            "booked_on": line.booked_on,
            "role_text": ROLE_TEXT.get(line.role, words(line.role)),
            "source": line.source,
            "external_id": line.external_id,
            "amount_minor": line.amount_minor,
            "fee_minor": line.fee_minor,
            "currency": line.currency,
            "counted_text": "yes" if line.counted else "no",
        }
        for line in trail.lines
    ]


class OverviewTab:
    """The widgets of the Overview tab (`widget`) and how a case fills them."""

    def __init__(self, owner: QWidget) -> None:
        self.transaction_box = QGroupBox("Transaction")
        self.transaction_form = QFormLayout(self.transaction_box)
        self.customer_box = QGroupBox("Customer")
        self.customer_form = QFormLayout(self.customer_box)
        for form in (self.transaction_form, self.customer_form):
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.reason_label = QLabel()
        self.reason_label.setWordWrap(True)
        self.reason_label.setObjectName("muted")

        self.trail_model = RowsTableModel(TRAIL_COLUMNS, parent=owner)
        self.trail_table = table_view("money_trail", self.trail_model)
        self.trail_table.setMinimumHeight(130)
        self.trail_totals = QGridLayout()
        self.trail_totals.setHorizontalSpacing(18)
        self.trail_warnings = QLabel()
        self.trail_warnings.setObjectName("checks")
        self.trail_warnings.setWordWrap(True)
        trail_box = QGroupBox("Money trail")
        trail_layout = QVBoxLayout(trail_box)
        trail_layout.addLayout(self.trail_totals)
        trail_layout.addWidget(self.trail_table, 1)
        trail_layout.addWidget(self.trail_warnings)

        boxes = QHBoxLayout()
        boxes.addWidget(self.transaction_box, 1)
        boxes.addWidget(self.customer_box, 1)
        inner = QWidget()
        layout = QVBoxLayout(inner)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(boxes)
        layout.addWidget(self.reason_label)
        layout.addWidget(trail_box, 1)
        self.widget = scrolled(inner)

    def show(self, v) -> None:
        """Fill the tab from a case (`services.disputes.case.CaseView`)."""
        _fill(self.transaction_form, transaction_rows(v))
        _fill(self.customer_form, customer_rows(v.customer))
        r = v.reason
        if r is not None:
            self.reason_label.setText(
                f"<b>{escape(r.network)} {escape(r.code)}: {escape(r.title)}</b><br>"
                f"What wins: {escape(r.typical_evidence)}"
            )
        else:
            self.reason_label.setText(
                f"Reason code {escape(v.reason_code or 'unknown')} is not in the reason table."
            )
        self._show_trail(v.trail)

    def _show_trail(self, trail) -> None:
        self.trail_model.set_rows(trail_rows(trail))
        self.trail_table.resizeColumnsToContents()
        while self.trail_totals.count():
            item = self.trail_totals.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        totals = (
            ("Disputed", trail.disputed_minor),
            ("Withdrawn", trail.withdrawn_minor),
            ("Fees", trail.fees_minor),
            ("Reinstated", trail.reinstated_minor),
            ("Refunded", trail.refunded_minor),
            ("Net", trail.net_minor),
        )
        for col, (label, minor) in enumerate(totals):
            name = QLabel(label)
            name.setObjectName("muted")
            value = QLabel(format_minor(minor, trail.currency, symbol=True))
            value.setObjectName(f"trail_{label.lower()}")
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            if label == "Net":
                font = value.font()
                font.setBold(True)
                value.setFont(font)
            self.trail_totals.addWidget(name, 0, col, Qt.AlignmentFlag.AlignRight)
            self.trail_totals.addWidget(value, 1, col)
        self.trail_warnings.setText("\n".join(trail.warnings))
        self.trail_warnings.setVisible(bool(trail.warnings))
