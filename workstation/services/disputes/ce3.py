"""Visa Compelling Evidence 3.0: prior undisputed transactions of the same customer (10.4)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import Text, cast, exists, select
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import Dispute, DisputeLink, Record, RecordRaw, RecordReference
from ..common.reference_tokens import normalise
from ..settlement.trail import dispute_order_id
from .customer import customer_details

CE3_WINDOW = (120, 365)  # days before the disputed transaction
CE3_ELEMENTS = ("ip", "device_id", "shipping_address", "account_id")
# Identity of "the same customer", strongest first (Visa wants the same credential).
_IDENTITY = ("card_fingerprint", "customer_id", "account_id", "email")


def _norm_element(name: str, value: str | None) -> str | None:
    if not value:
        return None
    v = value.strip().lower()
    if name == "shipping_address":
        v = re.sub(r"[^0-9a-z]+", "", v)
    return v or None


@dataclass
class PriorTransaction:
    """A prior transaction of the same customer and which core elements match."""

    record_id: int
    external_id: str | None
    booked_on: dt.date
    amount_minor: int
    currency: str
    matches: dict[str, bool]
    qualifies: bool  # >= 2 matching elements, one of them IP or device


@dataclass
class CE3Result:
    """Visa Compelling Evidence 3.0 check for a 10.4 dispute."""

    applicable: bool
    eligible: bool
    identity: tuple[str, str] | None
    window: tuple[dt.date, dt.date] | None
    transactions: list[PriorTransaction] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def qualifying(self) -> int:
        return sum(1 for t in self.transactions if t.qualifies)


def _base_record(session: Session, d: Dispute) -> Record | None:
    for rid in (
        dispute_order_id(session, d.order_record_id, d.charge_record_id),
        d.charge_record_id,
    ):
        if rid is not None:
            rec = session.get(Record, rid)
            if rec is not None:
                return rec
    return None


def ce3_eligibility(session: Session, dispute_id: int) -> CE3Result:
    """Prior undisputed transactions of the customer 120-365 days before the disputed one.

    Eligible when at least 2 of them each match at least 2 of IP, device id, shipping address
    and account id, one of the matches being IP or device id. The customer is found by card
    fingerprint, else customer id, account id or e-mail, in the linked order (or charge) row.
    """
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    if d.network != "Visa" or d.reason_code != "10.4":
        return CE3Result(False, False, None, None, reasons=["CE 3.0 applies to Visa 10.4 only"])
    base = _base_record(session, d)
    if base is None:
        return CE3Result(
            True, False, None, None, reasons=["the disputed transaction is not linked to a record"]
        )
    mine = {**customer_details(base.raw), **{k: str(v) for k, v in (d.customer or {}).items()}}
    identity = next(((k, mine[k]) for k in _IDENTITY if mine.get(k)), None)
    day = base.booked_on
    window = (day - dt.timedelta(days=CE3_WINDOW[1]), day - dt.timedelta(days=CE3_WINDOW[0]))
    result = CE3Result(True, False, identity, window)
    if identity is None:
        result.reasons.append("no card fingerprint, customer, account or e-mail on the order")
        return result
    candidates = _candidates(session, base, identity[1], window)
    disputed = set(
        session.scalars(
            select(DisputeLink.record_id).where(
                DisputeLink.record_id.in_([c.id for c in candidates] or [-1]),
                DisputeLink.role.in_(("charge", "order")),
            )
        )
    )
    for rec in candidates:
        theirs = customer_details(rec.raw)
        if _norm_element(identity[0], theirs.get(identity[0])) != _norm_element(
            identity[0], identity[1]
        ):
            continue  # the value appeared elsewhere in the row, not as this customer's id
        if rec.id in disputed:
            continue
        matches = {
            e: _norm_element(e, mine.get(e)) is not None
            and _norm_element(e, mine.get(e)) == _norm_element(e, theirs.get(e))
            for e in CE3_ELEMENTS
        }
        hit = [e for e, ok in matches.items() if ok]
        qualifies = len(hit) >= 2 and ("ip" in hit or "device_id" in hit)
        result.transactions.append(
            PriorTransaction(
                rec.id,
                rec.external_id,
                rec.booked_on,
                rec.amount_minor,
                rec.currency,
                matches,
                qualifies,
            )
        )
    result.transactions.sort(key=lambda t: (not t.qualifies, t.booked_on))
    result.eligible = result.qualifying >= 2
    if result.eligible:
        result.reasons.append(
            f"{result.qualifying} prior undisputed transactions match on 2+ elements incl. IP "
            "or device: liability can shift to the issuer"
        )
    else:
        result.reasons.append(
            f"{result.qualifying} qualifying prior transaction(s) found; 2 are needed "
            f"({window[0]} to {window[1]})"
        )
    return result


def _candidates(
    session: Session, base: Record, value: str, window: tuple[dt.date, dt.date]
) -> list[Record]:
    conds = [
        Record.kind == base.kind,
        Record.booked_on.between(window[0], window[1]),
        Record.id != base.id,
    ]
    key = normalise(value)
    found: list[Record] = []
    if len(key) >= 4:
        found = list(
            session.scalars(
                select(Record).where(
                    *conds,
                    exists().where(
                        RecordReference.record_id == Record.id, RecordReference.value == key
                    ),
                )
            )
        )
    if len(found) < 2:
        # Customer ids are often not reference tokens: look in the stored rows of the window.
        found = list(
            session.scalars(
                select(Record).where(
                    *conds,
                    Record.source_id == base.source_id,
                    exists().where(
                        RecordRaw.record_id == Record.id,
                        cast(RecordRaw.raw, Text).contains(value, autoescape=True),
                    ),
                )
            )
        )
    return found
