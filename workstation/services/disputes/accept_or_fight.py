"""The accept-or-fight hint of a case needing a response: likelihood, expected gain, reasons.

Accept-or-fight heuristic (a hint for the agent, not a decision):

    p    = win likelihood: base rate of the reason category (fraud 0.30, authorization 0.45,
           processing error 0.45, consumer dispute 0.40, inquiry 0.60) scaled by how much of the
           checklist's required evidence is on file: p = base * (0.35 + 0.65 * coverage);
           Visa CE 3.0 qualified -> at least 0.75; a program code that is "not defendable" -> 0.02
    A    = amount at risk, F = dispute fee (setting disputes.fee, in the dispute's currency),
           C = cost of fighting and losing (taken as F again: counter fee / handling);
           at the inquiry stage no fee has been charged yet, so F = C = 0
    gain of fighting over accepting = p * (A + F) - (1 - p) * C

    fight            gain > 0 and at least half of the required evidence is on file
    gather_evidence  gain > 0 but less than half of the required evidence is on file
    accept           gain <= 0, or the code is not defendable

The base rates are conservative industry figures, kept here so the team can tune them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from ... import config
from ...models import Dispute
from ...money import exponent, format_minor, parse_decimal, round_minor
from .ce3 import CE3Result
from .checklist import Checklist
from .reason_codes import ReasonInfo

BASE_WIN = {
    "fraud": 0.30,
    "authorization": 0.45,
    "processing_error": 0.45,
    "consumer_dispute": 0.40,
    "inquiry": 0.60,
}


@dataclass
class Hint:
    """Accept-or-fight suggestion with its numbers and reasons."""

    hint: str  # fight, gather_evidence, accept, none
    likelihood: float
    gain_minor: int  # expected gain of fighting over accepting, minor units
    fee_minor: int
    reasons: list[str]


def _fee_minor(session: Session, currency: str) -> int:
    """The configured dispute fee in minor units of `currency` (rounded for JPY-like ones)."""
    text = str(config.get(session, "disputes.fee"))
    try:
        fee = parse_decimal(text)
    except ValueError:
        fee = Decimal("15.00")
    return round_minor(fee.scaleb(exponent(currency)))


def accept_or_fight(
    session: Session,
    d: Dispute,
    cl: Checklist,
    reason: ReasonInfo | None,
    ce3: CE3Result | None = None,
) -> Hint:
    """The documented heuristic (module docstring)."""
    fee = _fee_minor(session, d.currency)
    if d.status != "needs_response":
        return Hint(
            "none", 0.0, 0, fee, [f"status is {d.status.replace('_', ' ')}: no decision due"]
        )
    reasons: list[str] = []
    category = d.reason_category or (reason.category if reason else None) or "consumer_dispute"
    base = BASE_WIN.get(category, 0.35)
    p = base * (0.35 + 0.65 * cl.coverage)
    reasons.append(
        f"{category.replace('_', ' ')}: base win rate {base:.0%}, "
        f"{cl.required_done}/{cl.required_total} required evidence on file"
    )
    if ce3 is not None and ce3.eligible:
        p = max(p, 0.75)
        reasons.append("Visa CE 3.0 qualifies: liability can shift to the issuer")
    defendable = reason.defendable if reason else True
    if not defendable:
        p = 0.02
        reasons.append(f"{d.network} {d.reason_code} is generally not defendable")
    p = min(max(p, 0.02), 0.95)
    amount = d.amount_minor
    if d.stage == "inquiry":
        fee = 0  # no chargeback (fee) yet; answering costs nothing but time
        reasons.append("inquiry: answering can prevent the chargeback and its fee")
    gain = p * (amount + fee) - (1 - p) * fee
    gain_minor = round_minor(Decimal(str(gain)))
    cur = d.currency
    reasons.append(
        f"at risk {format_minor(amount, cur)} {cur} + fee {format_minor(fee, cur)}; "
        f"win likelihood {p:.0%}; expected gain of fighting {format_minor(gain_minor, cur)} {cur}"
    )
    if not defendable or gain_minor <= 0:
        hint = "accept"
    elif cl.coverage < 0.5:
        hint = "gather_evidence"
        reasons.append("missing: " + "; ".join(cl.missing))
    else:
        hint = "fight"
    return Hint(hint, round(p, 3), gain_minor, fee, reasons)
