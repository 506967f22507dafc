"""Dispute CSV layouts: Adyen dispute report, Braintree and Stripe exports, the generic file.

The layout is told by the header keys; each field is read from the first non-empty of the
columns that may hold it (`ALIASES`), and each row becomes the normalised dict of
`dispute_fields.DISPUTE_FIELDS`.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from ..money import normalise_currency
from .dispute_fields import (
    ADYEN_EVENTS,
    ADYEN_NOT_DISPUTES,
    BRAINTREE_KIND,
    BRAINTREE_REASON_CATEGORY,
    BRAINTREE_STATUS,
    GENERIC_STAGE,
    GENERIC_STATUS,
    STAGES,
    STATUSES,
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

ALIASES: dict[str, tuple[str, ...]] = {
    "dispute_id": ("dispute_id", "dispute_psp_reference", "dispute_reference", "case_id", "id"),
    "psp": ("psp", "provider", "processor", "gateway"),
    "network": (
        "network",
        "card_network",
        "cb_scheme_code",
        "rfi_scheme_code",
        "scheme_code",
        "scheme",
        "card_brand",
        "brand",
        "card_type",
        "payment_method",
    ),
    "reason_code": (
        "reason_code",
        "network_reason_code",
        "cb_reason_code",
        "chargeback_reason_code",
        "rfi_reason_code",
        "dispute_reason_code",
    ),
    "reason": ("reason", "dispute_reason", "reason_description"),
    "amount": ("amount", "dispute_amount", "amount_disputed", "disputed_amount"),
    "currency": ("currency", "dispute_currency", "currency_iso_code", "currency_code"),
    "due_by": (
        "due_by",
        "due_by_utc",
        "evidence_due_by",
        "evidence_due_by_utc",
        "reply_by_date",
        "respond_by",
        "dispute_end_date",
        "defense_period_ends_at",
        "response_due_date",
        "due_date",
    ),
    "due_by_tz": ("dispute_end_date_time_zone", "dispute_end_date_timezone"),
    "opened_at": (
        "opened_at",
        "created",
        "created_utc",
        "created_at",
        "received_date",
        "dispute_date",
        "date_opened",
    ),
    "opened_tz": ("dispute_date_time_zone", "dispute_date_timezone"),
    "observed_at": ("record_date", "updated", "updated_at", "last_updated", "status_date"),
    "observed_tz": ("record_date_time_zone", "record_date_timezone"),
    "charge": (
        "charge_id",
        "charge",
        "charge_external_id",
        "payment_id",
        "transaction_id",
        "psp_reference",
        "payment_reference",
        "original_reference",
    ),
    "order": ("order_id", "order_external_id", "merchant_reference", "order", "order_number"),
    "status": ("status", "dispute_status"),
    "stage": ("stage", "kind", "case_type", "dispute_stage", "record_type"),
    "payment_intent": ("payment_intent", "payment_intent_id"),
    "arn": ("arn", "dispute_arn", "acquirer_reference_number"),
    "email": ("customer_email", "shopper_email", "email"),
    "ip": ("shopper_ip", "customer_ip", "ip_address"),
    "customer_id": ("customer_id", "shopper_reference", "customer"),
    "name": ("customer_name", "shopper_name", "cardholder_name"),
}


def csv_layout(keys: set[str]) -> str | None:
    """adyen, braintree, stripe or generic by the header keys; None: not a disputes file."""
    if "dispute_psp_reference" in keys or ({"record_type", "psp_reference"} <= keys):
        return "adyen"
    if keys & {"reply_by_date", "amount_disputed"} or {"kind", "received_date"} <= keys:
        return "braintree"
    if keys & {"evidence_due_by", "evidence_due_by_utc"}:
        return "stripe"
    if "dispute_id" in keys and (keys & {"reason_code", "network", "due_by", "stage"}):
        return "generic"
    return None


def column_map(keys: list[str], layout: str) -> dict[str, list[str]]:
    """field -> the header keys that may hold it, best first (the first non-empty one wins)."""
    present = set(keys)
    out: dict[str, list[str]] = {}
    for field, aliases in ALIASES.items():
        found = []
        for alias in aliases:
            if alias == "psp_reference" and layout != "adyen":
                continue
            if alias in present:
                found.append(alias)
        if found:
            out[field] = found
    return out


def delimiter(first_line: str) -> str:
    """The delimiter of a disputes file: the one its header line holds most of."""
    return max((",", ";", "\t", "|"), key=first_line.count)


def header_keys(first_line: str) -> list[str]:
    """The snake_case keys of a header line (for telling the layout)."""
    return [
        snake_key(h) for h in next(csv.reader([first_line], delimiter=delimiter(first_line)), [])
    ]


def csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header keys and the rows as key -> text ({} for a blank row, so line numbers hold)."""
    head = text[:8192]
    first = head.splitlines()[0] if head else ""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter(first))
    try:
        header = next(reader)
    except StopIteration:
        return [], []
    keys = [snake_key(h) for h in header]
    rows: list[dict[str, str]] = []
    for values in reader:
        if not any(v.strip() for v in values):
            rows.append({})
            continue
        rows.append(dict(zip(keys, values, strict=False)))
    return keys, rows


def csv_dispute(
    row: dict[str, str],
    cols: dict[str, list[str]],
    layout: str,
    line: int,
    decimal_comma: bool | None = None,
) -> dict[str, Any] | None:
    """One row as a dispute dict; None for rows that are not disputes (Adyen fraud reports)."""

    def get(field: str) -> str | None:
        for col in cols.get(field, ()):
            value = text_or_none(row.get(col))
            if value is not None:
                return value
        return None

    d = blank_dispute()
    dispute_id = get("dispute_id")
    if not dispute_id:
        raise ValueError("dispute id is empty")
    currency = normalise_currency(get("currency"))
    amount = get("amount")
    if amount is None:
        raise ValueError("amount is empty")
    status_word = snake_key(get("status") or "")
    stage_word = snake_key(get("stage") or "")
    stage: str | None
    status: str | None
    status_if_open = None
    event = None
    if layout == "adyen":
        code = adyen_code(get("stage") or "")
        if code in ADYEN_NOT_DISPUTES:
            return None
        if code not in ADYEN_EVENTS:
            raise ValueError(f"unknown Adyen record type {get('stage')!r}")
        stage, status, status_if_open = adyen_stage_status(code, get("status"), None)
        event = code
    elif layout == "stripe":
        if status_word.startswith("inquiry_"):
            status_word = "warning_" + status_word[len("inquiry_") :]
        if status_word not in STRIPE_STATUS:
            raise ValueError(f"unknown Stripe dispute status {get('status')!r}")
        stage, status = STRIPE_STATUS[status_word]
        stage = stage or GENERIC_STAGE.get(stage_word, "chargeback")
        event = status_word
    elif layout == "braintree":
        stage = BRAINTREE_KIND.get(stage_word or "chargeback", "chargeback")
        status = BRAINTREE_STATUS.get(status_word)
        if status is None:
            raise ValueError(f"unknown Braintree dispute status {get('status')!r}")
        event = status_word
    else:
        stage = GENERIC_STAGE.get(stage_word) if stage_word else "chargeback"
        status = GENERIC_STATUS.get(status_word) if status_word else "needs_response"
        if stage is None:
            raise ValueError(f"unknown stage {get('stage')!r} (use {', '.join(STAGES)})")
        if status is None:
            raise ValueError(f"unknown status {get('status')!r} (use {', '.join(STATUSES)})")
    reason = get("reason")
    reason_key = snake_key(reason or "") or None
    hint = STRIPE_REASON_CATEGORY.get(reason_key or "") or BRAINTREE_REASON_CATEGORY.get(
        reason_key or ""
    )
    customer = {k: get(k) for k in ("email", "ip", "customer_id", "name") if get(k)}
    psp = layout if layout != "generic" else (snake_key(get("psp") or "") or "generic")
    d.update(
        psp=psp,
        psp_dispute_id=dispute_id,
        network=get("network"),
        reason_code=get("reason_code"),
        psp_reason=reason_key,
        category_hint=hint,
        stage=stage,
        status=status,
        status_if_open=status_if_open,
        amount_minor=disputed_minor(
            amount, currency, minor_units=False, decimal_comma=decimal_comma
        ),
        currency=currency,
        opened_at=parse_when(get("opened_at"), get("opened_tz")),
        due_by=parse_when(get("due_by"), get("due_by_tz"), end_of_day=True),
        observed_at=parse_when(get("observed_at"), get("observed_tz")),
        charge_ref=get("charge"),
        order_ref=get("order"),
        extra_refs=[r for r in (get("payment_intent"), get("arn")) if r],
        customer=customer or None,
        psp_event=event,
        line=line,
        raw=row,
    )
    if layout == "adyen" and d["opened_at"] is None:
        d["opened_at"] = d["observed_at"]
    return d
