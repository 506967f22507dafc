"""Dispute JSON layouts: Stripe dispute objects and events, Adyen notifications, Braintree.

Each builder turns one PSP object into the normalised dict of `dispute_fields.DISPUTE_FIELDS`
(raising ValueError or KeyError for an object it cannot read).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..money import normalise_currency
from .dispute_fields import (
    ADYEN_EVENTS,
    BRAINTREE_KIND,
    BRAINTREE_REASON_CATEGORY,
    BRAINTREE_STATUS,
    STRIPE_REASON_CATEGORY,
    STRIPE_STATUS,
    adyen_code,
    adyen_stage_status,
    blank_dispute,
    disputed_minor,
    parse_when,
    snake_key,
    text_or_none,
)


def stripe_disputes(obj: Any) -> Iterable[dict[str, Any]]:
    """Dispute objects in a Stripe object, list, list response or event."""
    if isinstance(obj, list):
        for item in obj:
            yield from stripe_disputes(item)
    elif isinstance(obj, dict):
        kind = obj.get("object")
        if kind == "dispute":
            yield obj
        elif kind == "event" and isinstance(obj.get("data"), dict):
            yield from stripe_disputes(obj["data"].get("object"))
        elif kind == "list" or (kind is None and isinstance(obj.get("data"), list)):
            yield from stripe_disputes(obj.get("data"))


def stripe_dispute(obj: dict[str, Any], line: int) -> dict[str, Any]:
    """A Stripe dispute object as a dispute dict."""
    d = blank_dispute()
    status_raw = str(obj.get("status") or "").strip().lower()
    if status_raw not in STRIPE_STATUS:
        raise ValueError(f"unknown Stripe dispute status {status_raw!r}")
    stage, status = STRIPE_STATUS[status_raw]
    card = (obj.get("payment_method_details") or {}).get("card") or {}
    case_type = str(card.get("case_type") or "").lower()
    if stage is None:
        stage = "inquiry" if case_type == "inquiry" else "chargeback"
    details = obj.get("evidence_details") or {}
    if status == "needs_response" and details.get("past_due"):
        status = "expired"
    currency = normalise_currency(obj.get("currency"))
    charge = obj.get("charge")
    if isinstance(charge, dict):
        charge = charge.get("id")
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    metadata = obj.get("metadata") or {}
    evidence = obj.get("evidence") or {}
    customer = {
        k: evidence.get(src)
        for k, src in (
            ("email", "customer_email_address"),
            ("name", "customer_name"),
            ("ip", "customer_purchase_ip"),
            ("billing_address", "billing_address"),
            ("shipping_address", "shipping_address"),
        )
        if evidence.get(src)
    }
    reason = text_or_none(obj.get("reason"))
    d.update(
        psp="stripe",
        psp_dispute_id=str(obj["id"]),
        network=text_or_none(card.get("network") or card.get("brand")),
        reason_code=text_or_none(card.get("network_reason_code") or obj.get("network_reason_code")),
        psp_reason=reason,
        category_hint=STRIPE_REASON_CATEGORY.get(reason or ""),
        stage=stage,
        status=status,
        amount_minor=disputed_minor(obj.get("amount"), currency, minor_units=True),
        currency=currency,
        opened_at=parse_when(obj.get("created")),
        due_by=parse_when(details.get("due_by")),
        charge_ref=text_or_none(charge),
        order_ref=text_or_none(
            metadata.get("order_id") or metadata.get("order") or metadata.get("order_number")
        ),
        extra_refs=[r for r in (text_or_none(intent),) if r],
        customer=customer or None,
        psp_event=status_raw,
        line=line,
        raw=obj,
    )
    return d


def adyen_items(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The NotificationRequestItems of an Adyen notification."""
    items = []
    for wrapper in obj.get("notificationItems") or []:
        item = wrapper.get("NotificationRequestItem") if isinstance(wrapper, dict) else None
        if isinstance(item, dict):
            items.append(item)
    return items


def adyen_notification(item: dict[str, Any], line: int) -> dict[str, Any] | None:
    """An Adyen dispute notification item as a dispute dict; None for other events."""
    code = adyen_code(str(item.get("eventCode") or ""))
    if code not in ADYEN_EVENTS:
        return None
    extra = item.get("additionalData") or {}
    amount = item.get("amount") or {}
    currency = normalise_currency(amount.get("currency"))
    stage, status, status_if_open = adyen_stage_status(
        code, text_or_none(extra.get("disputeStatus")), text_or_none(extra.get("defendable"))
    )
    when = parse_when(item.get("eventDate"))
    reason_code = text_or_none(
        extra.get("chargebackReasonCode")
        or extra.get("rfiReasonCode")
        or extra.get("nofReasonCode")
    )
    network = text_or_none(
        extra.get("chargebackSchemeCode")
        or extra.get("rfiSchemeCode")
        or extra.get("nofSchemeCode")
        or item.get("paymentMethod")
    )
    d = blank_dispute()
    d.update(
        psp="adyen",
        psp_dispute_id=str(item["pspReference"]),
        network=network,
        reason_code=reason_code,
        psp_reason=text_or_none(item.get("reason")),
        stage=stage,
        status=status,
        status_if_open=status_if_open,
        amount_minor=disputed_minor(amount.get("value"), currency, minor_units=True),
        currency=currency,
        opened_at=when,
        due_by=parse_when(text_or_none(extra.get("defensePeriodEndsAt"))),
        observed_at=when,
        charge_ref=text_or_none(item.get("originalReference")),
        order_ref=text_or_none(item.get("merchantReference")),
        extra_refs=[r for r in (text_or_none(extra.get("arn")),) if r],
        psp_event=code,
        comment=text_or_none(extra.get("issuerComments") or extra.get("defenseReasonCode")),
        line=line,
        raw=item,
    )
    return d


_BRAINTREE_KEYS = ("reply_by_date", "replyByDate", "amount_disputed", "amountDisputed")


def braintree_objects(obj: Any) -> Iterable[dict[str, Any]]:
    """Dispute objects in a Braintree object, list, `disputes` or `data` list, or webhook."""
    if isinstance(obj, list):
        for item in obj:
            yield from braintree_objects(item)
    elif isinstance(obj, dict):
        if isinstance(obj.get("dispute"), dict):
            yield obj["dispute"]
        elif isinstance(obj.get("disputes"), list):
            yield from braintree_objects(obj["disputes"])
        elif isinstance(obj.get("data"), list):
            yield from braintree_objects(obj["data"])
        elif any(k in obj for k in _BRAINTREE_KEYS):
            yield obj


def braintree_dispute(obj: dict[str, Any], line: int) -> dict[str, Any]:
    """A Braintree dispute (REST or GraphQL shape) as a dispute dict."""
    flat = {snake_key(k): v for k, v in obj.items()}
    amount = flat.get("amount_disputed") or flat.get("amount")
    currency = flat.get("currency_iso_code") or flat.get("currency_code")
    if isinstance(amount, dict):  # GraphQL Money {value, currencyCode}
        currency = currency or amount.get("currencyCode") or amount.get("currency_code")
        amount = amount.get("value")
    cur = normalise_currency(text_or_none(currency))
    txn = flat.get("transaction") or {}
    txn = {snake_key(k): v for k, v in txn.items()} if isinstance(txn, dict) else {}
    card = txn.get("credit_card") or txn.get("payment_method_snapshot") or {}
    card = {snake_key(k): v for k, v in card.items()} if isinstance(card, dict) else {}
    status_raw = snake_key(str(flat.get("status") or ""))
    kind_raw = snake_key(str(flat.get("kind") or flat.get("type") or "chargeback"))
    reason = text_or_none(flat.get("reason") or flat.get("cardholder_dispute_reason"))
    reason_key = snake_key(reason or "")
    d = blank_dispute()
    d.update(
        psp="braintree",
        psp_dispute_id=str(flat["id"]),
        network=text_or_none(card.get("card_type") or card.get("brand") or flat.get("card_type")),
        reason_code=text_or_none(flat.get("reason_code")),
        psp_reason=reason_key or None,
        category_hint=BRAINTREE_REASON_CATEGORY.get(reason_key),
        stage=BRAINTREE_KIND.get(kind_raw, "chargeback"),
        status=BRAINTREE_STATUS.get(status_raw),
        amount_minor=disputed_minor(amount, cur, minor_units=False),
        currency=cur,
        opened_at=parse_when(text_or_none(flat.get("received_date") or flat.get("created_at"))),
        due_by=parse_when(text_or_none(flat.get("reply_by_date")), end_of_day=True),
        observed_at=parse_when(text_or_none(flat.get("updated_at"))),
        charge_ref=text_or_none(txn.get("id") or flat.get("transaction_id")),
        order_ref=text_or_none(txn.get("order_id") or flat.get("order_id")),
        extra_refs=[
            r
            for r in (
                text_or_none(flat.get("case_number")),
                text_or_none(flat.get("reference_number")),
            )
            if r
        ],
        psp_event=status_raw or None,
        comment=text_or_none(flat.get("processor_comments")),
        line=line,
        raw=obj,
    )
    if d["status"] is None:
        raise ValueError(f"unknown Braintree dispute status {status_raw!r}")
    return d
