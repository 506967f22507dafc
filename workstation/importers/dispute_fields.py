"""The normalised dispute dict every dispute layout becomes, and the PSP words mapped onto it.

PSP statuses, event codes and reason words map onto our stage/status vocabulary here, in one
place; the value readers (dates, amounts, keys) are shared by the JSON and CSV layouts.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ..money import check_bound, parse_minor

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


def snake_key(name: str) -> str:
    """Header or JSON key -> snake_case key: `Evidence Due By (UTC)` -> evidence_due_by_utc."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name).strip())
    return re.sub(r"[^0-9a-z]+", "_", s.lower()).strip("_")


def adyen_code(value: str) -> str:
    """`ChargebackReversedExternallyWithInfo` / `CHARGEBACK_REVERSED` -> CHARGEBACK_REVERSED."""
    code = snake_key(value).upper()
    code = re.sub(r"_?EXTERNALLY(_WITH_INFO)?$", "", code)
    return {"PREARBITRATIONWON": "PREARBITRATION_WON"}.get(code, code)


def text_or_none(value: Any) -> str | None:
    """A value as stripped text; None for missing, NaN or blank values."""
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


def disputed_minor(
    value: Any, currency: str, *, minor_units: bool, decimal_comma: bool | None = None
) -> int:
    """The disputed amount as positive minor units (given in minor or in major units; the
    file's decimal mark, when known, for major units)."""
    if minor_units:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"not an amount in minor units: {value!r}")
        try:
            minor = abs(int(value))
        except ValueError:
            raise ValueError(f"not an amount in minor units: {value!r}") from None
        check_bound(minor, str(value), currency)
        return minor
    return abs(parse_minor(str(value), currency, decimal_comma=decimal_comma))


def blank_dispute() -> dict[str, Any]:
    """A dispute dict with every field of `DISPUTE_FIELDS` unknown (None)."""
    return dict.fromkeys(DISPUTE_FIELDS)


def adyen_stage_status(
    code: str, dispute_status: str | None, defendable: str | None
) -> tuple[str | None, str | None, str | None]:
    """(stage, status, status if still open) of an Adyen event code and its dispute status."""
    stage, status = ADYEN_EVENTS[code]
    status_if_open = "expired" if code == "DISPUTE_DEFENSE_PERIOD_ENDED" else None
    if dispute_status:
        mapped = ADYEN_DISPUTE_STATUS.get(dispute_status.strip().lower())
        if mapped:
            status = mapped
    if status == "needs_response" and str(defendable).lower() == "false":
        status = "lost"  # not defendable: nothing the merchant can send
    return stage, status, status_if_open
