"""Dispute files: Stripe dispute objects and export, Adyen notifications and report, Braintree, CSV.

Every layout is turned into the same normalised dispute dict (see `DISPUTE_FIELDS`); the import
service stores them with `services.disputes.intake.upsert_disputes`, so the records frame stays
empty.
Several observations of one dispute (an Adyen RFI then a CHARGEBACK) come out in time order and
become the case history. PSP statuses map onto our stage/status vocabulary here, in one place.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..money import normalise_currency, parse_minor
from .base import ImportOptions, ParseResult, Problem, Progress, frame_from_rows
from .text import decode

# Keys of each normalised dispute dict (None when the file does not say).
DISPUTE_FIELDS = {
    "psp": "stripe, adyen, braintree or the generic file's psp column",
    "psp_dispute_id": "the PSP's id of the case (Stripe dp_/du_, Adyen dispute pspReference)",
    "network": "card network as the file writes it (normalised by the service)",
    "reason_code": "network reason code, e.g. 10.4, 4837, F29, UA02",
    "psp_reason": "the PSP's own reason word (Stripe `fraudulent`, Braintree `fraud`...)",
    "category_hint": "our category guessed from the PSP reason, used when the code is unknown",
    "stage": "inquiry | chargeback | pre_arbitration | arbitration, or None (unchanged)",
    "status": "needs_response | under_review | won | lost | accepted | expired, or None",
    "status_if_open": "status to set only if the case still needs a response (Adyen period end)",
    "amount_minor": "disputed amount, integer minor units (positive)",
    "currency": "ISO 4217",
    "opened_at": "aware datetime the case was opened",
    "due_by": "aware datetime the PSP wants the response by",
    "observed_at": "aware datetime of this observation (event date), None if unknown",
    "charge_ref": "the disputed payment's id (Stripe ch_, Adyen payment pspReference...)",
    "order_ref": "merchant order reference",
    "extra_refs": "other ids of the payment (payment intent, ARN) used for linking",
    "customer": "dict of customer details the PSP gives (email, ip, name...)",
    "psp_event": "event/record type this observation came from (CHARGEBACK, warning_closed...)",
    "comment": "issuer or PSP comment text, if any",
    "line": "line (CSV) or item number (JSON) in the file",
    "raw": "the original object or row",
}

STAGES = ("inquiry", "chargeback", "pre_arbitration", "arbitration")
STATUSES = ("needs_response", "under_review", "won", "lost", "accepted", "expired")

STRIPE_STATUS: dict[str, tuple[str | None, str]] = {
    "warning_needs_response": ("inquiry", "needs_response"),
    "warning_under_review": ("inquiry", "under_review"),
    # An inquiry closed without becoming a chargeback: no money moved, the merchant kept it.
    "warning_closed": ("inquiry", "won"),
    "needs_response": (None, "needs_response"),
    "under_review": (None, "under_review"),
    "won": (None, "won"),
    "lost": (None, "lost"),
    "prevented": (None, "won"),
    "charge_refunded": (None, "accepted"),  # legacy: the merchant refunded instead
}
STRIPE_REASON_CATEGORY = {
    "fraudulent": "fraud",
    "unrecognized": "fraud",
    "credit_not_processed": "consumer_dispute",
    "product_not_received": "consumer_dispute",
    "product_unacceptable": "consumer_dispute",
    "subscription_canceled": "consumer_dispute",
    "general": "consumer_dispute",
    "customer_initiated": "consumer_dispute",
    "duplicate": "processing_error",
    "incorrect_account_details": "processing_error",
    "bank_cannot_process": "processing_error",
    "insufficient_funds": "processing_error",
    "check_returned": "processing_error",
    "noncompliant": "processing_error",
    "debit_not_authorized": "authorization",
}
# Adyen event codes (webhook eventCode, report Record Type) -> (stage, status); None = unchanged.
ADYEN_EVENTS: dict[str, tuple[str | None, str | None]] = {
    "REQUEST_FOR_INFORMATION": ("inquiry", "needs_response"),
    "NOTIFICATION_OF_CHARGEBACK": ("chargeback", "needs_response"),
    "CHARGEBACK": ("chargeback", "needs_response"),
    "INFORMATION_SUPPLIED": (None, "under_review"),
    "CHARGEBACK_REVERSED": (None, "won"),
    "SECOND_CHARGEBACK": ("pre_arbitration", "lost"),
    "PREARBITRATION_WON": ("pre_arbitration", "won"),
    "PREARBITRATION_LOST": ("pre_arbitration", "lost"),
    "ISSUER_RESPONSE_TIMEFRAME_EXPIRED": (None, "won"),
    "DISPUTE_DEFENSE_PERIOD_ENDED": (None, None),  # -> expired, if still unanswered
    "ISSUER_COMMENTS": (None, None),
}
ADYEN_NOT_DISPUTES = {"NOTIFICATION_OF_FRAUD"}  # TC40/SAFE fraud reports: not a chargeback
ADYEN_DISPUTE_STATUS = {
    "undefended": "needs_response",
    "pending": "under_review",
    "responded": "under_review",
    "accepted": "accepted",
    "won": "won",
    "lost": "lost",
    "expired": "expired",
}
BRAINTREE_STATUS = {
    "open": "needs_response",
    "under_review": "under_review",
    "disputed": "under_review",
    "accepted": "accepted",
    "auto_accepted": "accepted",
    "expired": "expired",
    "won": "won",
    "lost": "lost",
}
BRAINTREE_KIND = {
    "chargeback": "chargeback",
    "pre_arbitration": "pre_arbitration",
    "retrieval": "inquiry",
    "arbitration": "arbitration",
}
BRAINTREE_REASON_CATEGORY = {
    "fraud": "fraud",
    "not_recognized": "fraud",
    "cancelled_recurring_transaction": "consumer_dispute",
    "credit_not_processed": "consumer_dispute",
    "product_not_received": "consumer_dispute",
    "product_unsatisfactory": "consumer_dispute",
    "general": "consumer_dispute",
    "duplicate": "processing_error",
    "transaction_amount_differs": "processing_error",
    "retrieval": "inquiry",
}
# Generic file vocabulary -> ours (our own words pass through).
GENERIC_STATUS = {
    "open": "needs_response",
    "new": "needs_response",
    "action_required": "needs_response",
    "needs_response": "needs_response",
    "warning_needs_response": "needs_response",
    "pending": "under_review",
    "responded": "under_review",
    "submitted": "under_review",
    "under_review": "under_review",
    "won": "won",
    "reversed": "won",
    "lost": "lost",
    "accepted": "accepted",
    "closed_accepted": "accepted",
    "expired": "expired",
}
GENERIC_STAGE = {
    "inquiry": "inquiry",
    "retrieval": "inquiry",
    "rfi": "inquiry",
    "request_for_information": "inquiry",
    "chargeback": "chargeback",
    "first_chargeback": "chargeback",
    "dispute": "chargeback",
    "pre_arbitration": "pre_arbitration",
    "prearbitration": "pre_arbitration",
    "pre_arb": "pre_arbitration",
    "second_chargeback": "pre_arbitration",
    "arbitration": "arbitration",
}
# Time-zone abbreviations seen in Adyen reports -> UTC offset in hours.
_TZ_ABBR = {
    "UTC": 0,
    "GMT": 0,
    "WET": 0,
    "WEST": 1,
    "BST": 1,
    "CET": 1,
    "CEST": 2,
    "EET": 2,
    "EEST": 3,
    "MSK": 3,
    "AST": -4,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
    "SGT": 8,
    "HKT": 8,
    "JST": 9,
    "AEST": 10,
    "AEDT": 11,
}
_DISPUTE_EVENT_RE = re.compile(
    rb'"eventCode"\s*:\s*"(?:' + "|".join(ADYEN_EVENTS).encode() + rb')"'
)


def _key(name: str) -> str:
    """Header or JSON key -> snake_case key: `Evidence Due By (UTC)` -> evidence_due_by_utc."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name).strip())
    return re.sub(r"[^0-9a-z]+", "_", s.lower()).strip("_")


def _adyen_code(value: str) -> str:
    """`ChargebackReversedExternallyWithInfo` / `CHARGEBACK_REVERSED` -> CHARGEBACK_REVERSED."""
    code = _key(value).upper()
    code = re.sub(r"_?EXTERNALLY(_WITH_INFO)?$", "", code)
    return {"PREARBITRATIONWON": "PREARBITRATION_WON"}.get(code, code)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    s = str(value).strip()
    return s or None


def parse_when(
    value: Any, tz: str | None = None, *, end_of_day: bool = False
) -> dt.datetime | None:
    """Epoch seconds, ISO date/datetime or `YYYY-MM-DD HH:MM[:SS]` -> aware UTC datetime.

    A naive time is in `tz` (an abbreviation such as CET) when given, else UTC. A bare date means
    the start of that day, or its last second with `end_of_day` (due dates: "reply by" that day).
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    s = str(value).strip()
    if not s:
        return None
    if re.fullmatch(r"\d{9,11}", s):
        return dt.datetime.fromtimestamp(int(s), dt.UTC)
    date_only = re.fullmatch(r"\d{4}-\d{2}-\d{2}", s) is not None
    try:
        parsed = dt.datetime.fromisoformat(s.replace(" UTC", "").replace("/", "-"))
    except ValueError as exc:
        raise ValueError(f"not a date: {s!r}") from exc
    if date_only and end_of_day:
        parsed = parsed.replace(hour=23, minute=59, second=59)
    if parsed.tzinfo is None:
        offset = 0
        if tz:
            t = tz.strip().upper()
            if t not in _TZ_ABBR:
                raise ValueError(f"unknown time zone {tz!r}")
            offset = _TZ_ABBR[t]
        parsed = parsed.replace(tzinfo=dt.timezone(dt.timedelta(hours=offset)))
    return parsed.astimezone(dt.UTC)


def _minor(value: Any, currency: str, *, minor_units: bool) -> int:
    if minor_units:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"not an amount in minor units: {value!r}")
        return abs(int(value))
    return abs(parse_minor(str(value), currency))


def _blank() -> dict[str, Any]:
    return dict.fromkeys(DISPUTE_FIELDS)


# ----------------------------------------------------------------------------- JSON layouts


def _stripe_disputes(obj: Any) -> Iterable[dict[str, Any]]:
    """Dispute objects in a Stripe object, list, list response or event."""
    if isinstance(obj, list):
        for item in obj:
            yield from _stripe_disputes(item)
    elif isinstance(obj, dict):
        kind = obj.get("object")
        if kind == "dispute":
            yield obj
        elif kind == "event" and isinstance(obj.get("data"), dict):
            yield from _stripe_disputes(obj["data"].get("object"))
        elif kind == "list" or (kind is None and isinstance(obj.get("data"), list)):
            yield from _stripe_disputes(obj.get("data"))


def _stripe_dispute(obj: dict[str, Any], line: int) -> dict[str, Any]:
    d = _blank()
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
    reason = _text(obj.get("reason"))
    d.update(
        psp="stripe",
        psp_dispute_id=str(obj["id"]),
        network=_text(card.get("network") or card.get("brand")),
        reason_code=_text(card.get("network_reason_code") or obj.get("network_reason_code")),
        psp_reason=reason,
        category_hint=STRIPE_REASON_CATEGORY.get(reason or ""),
        stage=stage,
        status=status,
        amount_minor=_minor(obj.get("amount"), currency, minor_units=True),
        currency=currency,
        opened_at=parse_when(obj.get("created")),
        due_by=parse_when(details.get("due_by")),
        charge_ref=_text(charge),
        order_ref=_text(
            metadata.get("order_id") or metadata.get("order") or metadata.get("order_number")
        ),
        extra_refs=[r for r in (_text(intent),) if r],
        customer=customer or None,
        psp_event=status_raw,
        line=line,
        raw=obj,
    )
    return d


def _adyen_items(obj: dict[str, Any]) -> list[dict[str, Any]]:
    items = []
    for wrapper in obj.get("notificationItems") or []:
        item = wrapper.get("NotificationRequestItem") if isinstance(wrapper, dict) else None
        if isinstance(item, dict):
            items.append(item)
    return items


def _adyen_stage_status(
    code: str, dispute_status: str | None, defendable: str | None
) -> tuple[str | None, str | None, str | None]:
    stage, status = ADYEN_EVENTS[code]
    status_if_open = "expired" if code == "DISPUTE_DEFENSE_PERIOD_ENDED" else None
    if dispute_status:
        mapped = ADYEN_DISPUTE_STATUS.get(dispute_status.strip().lower())
        if mapped:
            status = mapped
    if status == "needs_response" and str(defendable).lower() == "false":
        status = "lost"  # not defendable: nothing the merchant can send
    return stage, status, status_if_open


def _adyen_notification(item: dict[str, Any], line: int) -> dict[str, Any] | None:
    code = _adyen_code(str(item.get("eventCode") or ""))
    if code not in ADYEN_EVENTS:
        return None
    extra = item.get("additionalData") or {}
    amount = item.get("amount") or {}
    currency = normalise_currency(amount.get("currency"))
    stage, status, status_if_open = _adyen_stage_status(
        code, _text(extra.get("disputeStatus")), _text(extra.get("defendable"))
    )
    when = parse_when(item.get("eventDate"))
    reason_code = _text(
        extra.get("chargebackReasonCode")
        or extra.get("rfiReasonCode")
        or extra.get("nofReasonCode")
    )
    network = _text(
        extra.get("chargebackSchemeCode")
        or extra.get("rfiSchemeCode")
        or extra.get("nofSchemeCode")
        or item.get("paymentMethod")
    )
    d = _blank()
    d.update(
        psp="adyen",
        psp_dispute_id=str(item["pspReference"]),
        network=network,
        reason_code=reason_code,
        psp_reason=_text(item.get("reason")),
        stage=stage,
        status=status,
        status_if_open=status_if_open,
        amount_minor=_minor(amount.get("value"), currency, minor_units=True),
        currency=currency,
        opened_at=when,
        due_by=parse_when(_text(extra.get("defensePeriodEndsAt"))),
        observed_at=when,
        charge_ref=_text(item.get("originalReference")),
        order_ref=_text(item.get("merchantReference")),
        extra_refs=[r for r in (_text(extra.get("arn")),) if r],
        psp_event=code,
        comment=_text(extra.get("issuerComments") or extra.get("defenseReasonCode")),
        line=line,
        raw=item,
    )
    return d


_BRAINTREE_KEYS = ("reply_by_date", "replyByDate", "amount_disputed", "amountDisputed")


def _braintree_objects(obj: Any) -> Iterable[dict[str, Any]]:
    if isinstance(obj, list):
        for item in obj:
            yield from _braintree_objects(item)
    elif isinstance(obj, dict):
        if isinstance(obj.get("dispute"), dict):
            yield obj["dispute"]
        elif isinstance(obj.get("disputes"), list):
            yield from _braintree_objects(obj["disputes"])
        elif isinstance(obj.get("data"), list):
            yield from _braintree_objects(obj["data"])
        elif any(k in obj for k in _BRAINTREE_KEYS):
            yield obj


def _braintree_dispute(obj: dict[str, Any], line: int) -> dict[str, Any]:
    flat = {_key(k): v for k, v in obj.items()}
    amount = flat.get("amount_disputed") or flat.get("amount")
    currency = flat.get("currency_iso_code") or flat.get("currency_code")
    if isinstance(amount, dict):  # GraphQL Money {value, currencyCode}
        currency = currency or amount.get("currencyCode") or amount.get("currency_code")
        amount = amount.get("value")
    cur = normalise_currency(_text(currency))
    txn = flat.get("transaction") or {}
    txn = {_key(k): v for k, v in txn.items()} if isinstance(txn, dict) else {}
    card = txn.get("credit_card") or txn.get("payment_method_snapshot") or {}
    card = {_key(k): v for k, v in card.items()} if isinstance(card, dict) else {}
    status_raw = _key(str(flat.get("status") or ""))
    kind_raw = _key(str(flat.get("kind") or flat.get("type") or "chargeback"))
    reason = _text(flat.get("reason") or flat.get("cardholder_dispute_reason"))
    reason_key = _key(reason or "")
    d = _blank()
    d.update(
        psp="braintree",
        psp_dispute_id=str(flat["id"]),
        network=_text(card.get("card_type") or card.get("brand") or flat.get("card_type")),
        reason_code=_text(flat.get("reason_code")),
        psp_reason=reason_key or None,
        category_hint=BRAINTREE_REASON_CATEGORY.get(reason_key),
        stage=BRAINTREE_KIND.get(kind_raw, "chargeback"),
        status=BRAINTREE_STATUS.get(status_raw),
        amount_minor=_minor(amount, cur, minor_units=False),
        currency=cur,
        opened_at=parse_when(_text(flat.get("received_date") or flat.get("created_at"))),
        due_by=parse_when(_text(flat.get("reply_by_date")), end_of_day=True),
        observed_at=parse_when(_text(flat.get("updated_at"))),
        charge_ref=_text(txn.get("id") or flat.get("transaction_id")),
        order_ref=_text(txn.get("order_id") or flat.get("order_id")),
        extra_refs=[
            r for r in (_text(flat.get("case_number")), _text(flat.get("reference_number"))) if r
        ],
        psp_event=status_raw or None,
        comment=_text(flat.get("processor_comments")),
        line=line,
        raw=obj,
    )
    if d["status"] is None:
        raise ValueError(f"unknown Braintree dispute status {status_raw!r}")
    return d


# ----------------------------------------------------------------------------- CSV layouts

_ALIASES: dict[str, tuple[str, ...]] = {
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


def _csv_layout(keys: set[str]) -> str | None:
    if "dispute_psp_reference" in keys or ({"record_type", "psp_reference"} <= keys):
        return "adyen"
    if keys & {"reply_by_date", "amount_disputed"} or {"kind", "received_date"} <= keys:
        return "braintree"
    if keys & {"evidence_due_by", "evidence_due_by_utc"}:
        return "stripe"
    if "dispute_id" in keys and (keys & {"reason_code", "network", "due_by", "stage"}):
        return "generic"
    return None


def _column_map(keys: list[str], layout: str) -> dict[str, list[str]]:
    """field -> the header keys that may hold it, best first (the first non-empty one wins)."""
    present = set(keys)
    out: dict[str, list[str]] = {}
    for field, aliases in _ALIASES.items():
        found = []
        for alias in aliases:
            if alias == "psp_reference" and layout != "adyen":
                continue
            if alias in present:
                found.append(alias)
        if found:
            out[field] = found
    return out


def _csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    head = text[:8192]
    first = head.splitlines()[0] if head else ""
    delim = max((",", ";", "\t", "|"), key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    try:
        header = next(reader)
    except StopIteration:
        return [], []
    keys = [_key(h) for h in header]
    rows: list[dict[str, str]] = []
    for values in reader:
        if not any(v.strip() for v in values):
            rows.append({})
            continue
        rows.append(dict(zip(keys, values, strict=False)))
    return keys, rows


def _csv_dispute(
    row: dict[str, str], cols: dict[str, list[str]], layout: str, line: int
) -> dict[str, Any] | None:
    def get(field: str) -> str | None:
        for col in cols.get(field, ()):
            value = _text(row.get(col))
            if value is not None:
                return value
        return None

    d = _blank()
    dispute_id = get("dispute_id")
    if not dispute_id:
        raise ValueError("dispute id is empty")
    currency = normalise_currency(get("currency"))
    amount = get("amount")
    if amount is None:
        raise ValueError("amount is empty")
    status_word = _key(get("status") or "")
    stage_word = _key(get("stage") or "")
    stage: str | None
    status: str | None
    status_if_open = None
    event = None
    if layout == "adyen":
        code = _adyen_code(get("stage") or "")
        if code in ADYEN_NOT_DISPUTES:
            return None
        if code not in ADYEN_EVENTS:
            raise ValueError(f"unknown Adyen record type {get('stage')!r}")
        stage, status, status_if_open = _adyen_stage_status(code, get("status"), None)
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
    reason_key = _key(reason or "") or None
    hint = STRIPE_REASON_CATEGORY.get(reason_key or "") or BRAINTREE_REASON_CATEGORY.get(
        reason_key or ""
    )
    customer = {k: get(k) for k in ("email", "ip", "customer_id", "name") if get(k)}
    psp = layout if layout != "generic" else (_key(get("psp") or "") or "generic")
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
        amount_minor=_minor(amount, currency, minor_units=False),
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


# ----------------------------------------------------------------------------- the importer


def _order(disputes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Observations in time order (undated ones keep file order, after dated ones of equal id)."""
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(disputes, key=lambda d: (d["observed_at"] or epoch, d["line"] or 0))


class DisputesImporter:
    """Dispute objects, notifications and exports of Stripe, Adyen, Braintree; generic CSV."""

    name = "disputes"
    label = "Disputes (Stripe, Adyen, Braintree, generic CSV)"

    def sniff(self, head: bytes, filename: str) -> int:
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped[:1] in (b"{", b"["):
            if re.search(rb'"object"\s*:\s*"dispute"', head):
                return 95
            if b'"notificationItems"' in head and _DISPUTE_EVENT_RE.search(head):
                return 95
            if re.search(rb'"(reply_by_date|replyByDate|amount_disputed|amountDisputed)"', head):
                return 90
            return 0
        try:
            text, _ = decode(head[:8192])
        except UnicodeDecodeError:
            return 0
        first = text.splitlines()[0] if text.strip() else ""
        delim = max((",", ";", "\t", "|"), key=first.count)
        keys = {_key(h) for h in next(csv.reader([first], delimiter=delim), [])}
        return 95 if _csv_layout(keys) else 0

    def parse(
        self, path: Path, data: bytes, options: ImportOptions, progress: Progress | None = None
    ) -> ParseResult:
        text, _ = decode(data)
        stripped = text.lstrip("\ufeff \t\r\n")
        problems: list[Problem] = []
        if stripped[:1] in ("{", "["):
            fmt, disputes = self._parse_json(path, stripped, problems)
        else:
            fmt, disputes = self._parse_csv(path, text, problems)
        if progress is not None:
            progress(1, 1, f"{len(disputes)} dispute observation(s)")
        return ParseResult(
            format=fmt,
            accounts={},
            records=frame_from_rows([]),
            problems=problems,
            disputes=_order(disputes),
            rows_total=len(disputes),
        )

    def _parse_json(
        self, path: Path, text: str, problems: list[Problem]
    ) -> tuple[str, list[dict[str, Any]]]:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
        out: list[dict[str, Any]] = []
        if isinstance(obj, dict) and "notificationItems" in obj:
            for i, item in enumerate(_adyen_items(obj), start=1):
                code = _adyen_code(str(item.get("eventCode") or ""))
                if code in ADYEN_NOT_DISPUTES or code not in ADYEN_EVENTS:
                    problems.append(
                        Problem(
                            f"event {item.get('eventCode')} is not a dispute event; skipped",
                            field=f"notificationItems[{i}]",
                            severity="warning",
                        )
                    )
                    continue
                if str(item.get("success", "true")).lower() == "false":
                    problems.append(
                        Problem("notification with success=false; skipped", severity="warning")
                    )
                    continue
                self._collect(out, problems, partial(_adyen_notification, item, i), i, "item")
            return "adyen_notification", out
        stripe = list(_stripe_disputes(obj))
        if stripe:
            for i, item in enumerate(stripe, start=1):
                self._collect(out, problems, partial(_stripe_dispute, item, i), i, "item")
            return "stripe_dispute", out
        braintree = list(_braintree_objects(obj))
        if braintree:
            for i, item in enumerate(braintree, start=1):
                self._collect(out, problems, partial(_braintree_dispute, item, i), i, "item")
            return "braintree_dispute", out
        raise UserError(
            "JSON holds no Stripe dispute, Adyen dispute notification or Braintree dispute",
            file=str(path),
        )

    def _parse_csv(
        self, path: Path, text: str, problems: list[Problem]
    ) -> tuple[str, list[dict[str, Any]]]:
        keys, rows = _csv_rows(text)
        layout = _csv_layout(set(keys))
        if layout is None:
            raise UserError(
                "not a disputes export: expected columns such as dispute_id, reason_code, amount,"
                " currency, due_by",
                file=str(path),
                line=1,
            )
        cols = _column_map(keys, layout)
        for needed in ("dispute_id", "amount", "currency"):
            if needed not in cols:
                raise UserError(
                    f"the {layout} disputes file has no {needed} column", file=str(path), line=1
                )
        out: list[dict[str, Any]] = []
        for i, row in enumerate(rows, start=2):
            if not row:
                continue
            self._collect(out, problems, partial(_csv_dispute, row, cols, layout, i), i, "line")
        return f"{layout}_disputes_csv" if layout != "generic" else "disputes_csv", out

    @staticmethod
    def _collect(
        out: list[dict[str, Any]],
        problems: list[Problem],
        build: Callable[[], dict[str, Any] | None],
        where: int,
        unit: str,
    ) -> None:
        try:
            d = build()
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            if unit == "line":
                problems.append(Problem(msg, line=where))
            else:
                problems.append(Problem(msg, field=f"{unit} {where}"))
            return
        if d is not None:
            out.append(d)


IMPORTER = DisputesImporter()
