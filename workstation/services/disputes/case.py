"""Case view data: details, customer, timeline, evidence checklist, Visa CE 3.0, accept-or-fight.

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

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, cast, exists, select
from sqlalchemy.orm import Session

from ... import config
from ...errors import UserError
from ...models import (
    Dispute,
    DisputeEvent,
    DisputeLink,
    Evidence,
    Record,
    RecordRaw,
    RecordReference,
    User,
)
from ...money import exponent, format_minor, parse_decimal, round_minor
from ..common.reference_tokens import normalise
from .intake import MoneyTrail, money_trail
from .queue import countdown, due_state
from .reason_codes import ReasonInfo, ReasonTable, checklist_id, checklists, evidence_kinds

BASE_WIN = {
    "fraud": 0.30,
    "authorization": 0.45,
    "processing_error": 0.45,
    "consumer_dispute": 0.40,
    "inquiry": 0.60,
}
CE3_WINDOW = (120, 365)  # days before the disputed transaction
CE3_ELEMENTS = ("ip", "device_id", "shipping_address", "account_id")
# Where order exports keep customer details (keys compared in snake_case).
CUSTOMER_FIELDS: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "customer_email",
        "customer_email_address",
        "buyer_email",
        "shopper_email",
        "e_mail",
    ),
    "ip": (
        "ip",
        "ip_address",
        "customer_ip",
        "customer_purchase_ip",
        "shopper_ip",
        "client_ip",
        "purchase_ip",
    ),
    "device_id": ("device_id", "device", "device_fingerprint", "fingerprint_device", "device_fp"),
    "account_id": ("account_id", "user_id", "login", "username", "account", "customer_account"),
    "customer_id": ("customer_id", "customer", "shopper_reference", "customer_reference"),
    "card_fingerprint": (
        "card_fingerprint",
        "payment_fingerprint",
        "payment_method_fingerprint",
        "card_token",
        "card_id",
    ),
    "name": ("customer_name", "name", "shopper_name", "billing_name", "cardholder_name"),
    "shipping_address": ("shipping_address", "ship_address", "delivery_address", "ship_to"),
    "billing_address": ("billing_address", "bill_address"),
}
_ADDRESS_PARTS = (
    ("shipping_line1", "shipping_address_line1", "ship_line1", "shipping_street"),
    ("shipping_line2", "shipping_address_line2"),
    ("shipping_postal_code", "shipping_zip", "shipping_postcode", "ship_zip"),
    ("shipping_city", "ship_city"),
    ("shipping_country", "ship_country"),
)
# Identity of "the same customer", strongest first (Visa wants the same credential).
_IDENTITY = ("card_fingerprint", "customer_id", "account_id", "email")


def _snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name).strip())
    return re.sub(r"[^0-9a-z]+", "_", s.lower()).strip("_")


def _flat(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                out.setdefault(_snake(f"{k}_{k2}"), v2)
        out.setdefault(_snake(k), v)
    return out


def customer_details(raw: Any) -> dict[str, str]:
    """Customer fields found in a record's raw row (email, ip, device_id, shipping_address...)."""
    flat = _flat(raw)
    out: dict[str, str] = {}
    for name, aliases in CUSTOMER_FIELDS.items():
        for a in aliases:
            v = flat.get(a)
            if v not in (None, "") and not isinstance(v, dict | list):
                out[name] = str(v).strip()
                break
    if "shipping_address" not in out:
        parts = []
        for aliases in _ADDRESS_PARTS:
            v = next((flat[a] for a in aliases if flat.get(a) not in (None, "")), None)
            if v is not None:
                parts.append(str(v).strip())
        if parts:
            out["shipping_address"] = ", ".join(parts)
    return out


def _norm_element(name: str, value: str | None) -> str | None:
    if not value:
        return None
    v = value.strip().lower()
    if name == "shipping_address":
        v = re.sub(r"[^0-9a-z]+", "", v)
    return v or None


# ----------------------------------------------------------------------------- CE 3.0


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
    for rid in (d.order_record_id, d.charge_record_id):
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


# ----------------------------------------------------------------------------- checklist


@dataclass
class ChecklistItem:
    """One thing that wins this kind of dispute, and whether it is on file."""

    id: str
    label: str
    required: bool
    done: bool
    kinds: list[str]
    text_fields: list[str]
    satisfied_by: list[str]


@dataclass
class Checklist:
    """Evidence checklist of a case."""

    id: str
    title: str
    items: list[ChecklistItem]
    typical_evidence: str

    @property
    def required_total(self) -> int:
        return sum(1 for i in self.items if i.required)

    @property
    def required_done(self) -> int:
        return sum(1 for i in self.items if i.required and i.done)

    @property
    def coverage(self) -> float:
        """Share of required items done (1.0 when nothing is required)."""
        total = self.required_total
        return 1.0 if total == 0 else self.required_done / total

    @property
    def missing(self) -> list[str]:
        return [i.label for i in self.items if i.required and not i.done]


def checklist(
    session: Session, d: Dispute, reason: ReasonInfo | None = None, *, ce3: bool = False
) -> Checklist:
    """The case's checklist, ticked from the evidence kinds on file and the filled text fields."""
    cid = checklist_id(d.network, d.reason_code, d.reason_category, d.psp_reason, d.stage)
    spec = checklists()["checklists"][cid]
    files = session.execute(
        select(Evidence.kind, Evidence.file_name).where(Evidence.dispute_id == d.id)
    ).all()
    by_kind: dict[str, list[str]] = {}
    for kind, name in files:
        by_kind.setdefault(kind, []).append(name)
    texts = {f: (getattr(d, f) or "").strip() for f in checklists()["text_fields"]}
    items = []
    for raw in spec["items"]:
        kinds = list(raw.get("kinds", []))
        fields = list(raw.get("text", []))
        satisfied = [n for k in kinds for n in by_kind.get(k, [])]
        satisfied += [checklists()["text_fields"][f] for f in fields if texts.get(f)]
        if raw["id"] == "history" and ce3:
            satisfied.append("Visa CE 3.0 prior transactions found")
        items.append(
            ChecklistItem(
                id=raw["id"],
                label=raw["label"],
                required=bool(raw.get("required")),
                done=bool(satisfied),
                kinds=kinds,
                text_fields=fields,
                satisfied_by=satisfied,
            )
        )
    return Checklist(cid, spec["title"], items, reason.typical_evidence if reason else "")


# ----------------------------------------------------------------------------- hint


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


# ----------------------------------------------------------------------------- case view


@dataclass
class TimelineEntry:
    """One line of the case history."""

    id: int
    at: dt.datetime
    actor: str
    kind: str
    text: str


@dataclass
class EvidenceItem:
    """An evidence file on the case."""

    id: int
    kind: str
    kind_label: str
    file_name: str
    media_type: str
    size: int
    sha256: str
    added_by: str
    added_at: dt.datetime


@dataclass
class CaseView:
    """Everything the case page shows."""

    id: int
    psp: str
    psp_dispute_id: str
    network: str | None
    reason_code: str | None
    reason: ReasonInfo | None
    reason_category: str | None
    stage: str
    status: str
    amount_minor: int
    currency: str
    opened_at: dt.datetime | None
    due_by: dt.datetime | None
    countdown: str
    due_state: str
    assignee: str | None
    charge_ref: str | None
    order_ref: str | None
    transaction: dict[str, Any] | None
    order: dict[str, Any] | None
    customer: dict[str, str]
    trail: MoneyTrail
    timeline: list[TimelineEntry]
    notes: list[TimelineEntry]
    evidence: list[EvidenceItem]
    texts: dict[str, str]
    checklist: Checklist
    ce3: CE3Result | None
    hint: Hint
    locked: bool
    submitted_at: dt.datetime | None
    submitted_by: str | None

    @property
    def amount_text(self) -> str:
        return format_minor(self.amount_minor, self.currency, symbol=True)


def _record_summary(rec: Record | None) -> dict[str, Any] | None:
    if rec is None:
        return None
    return {
        "record_id": rec.id,
        "external_id": rec.external_id,
        "kind": rec.kind,
        "booked_on": rec.booked_on,
        "occurred_at": rec.occurred_at,
        "amount_minor": rec.amount_minor,
        "currency": rec.currency,
        "amount_text": format_minor(rec.amount_minor, rec.currency, symbol=True),
        "source": rec.source.name if rec.source else None,
        "counterparty": rec.counterparty,
        "description": rec.description,
    }


def describe_event(kind: str, detail: dict[str, Any] | None) -> str:
    """Human text of a timeline entry."""
    det = detail or {}
    if kind == "created":
        src = f" from import #{det['batch_id']}" if det.get("batch_id") else ""
        return (
            f"Case opened: {det.get('stage', '')}, {str(det.get('status', '')).replace('_', ' ')}"
            f"{src}"
        )
    if kind == "updated":
        parts = [
            f"{name.replace('_', ' ')} {old} → {new}"
            for name, (old, new) in (det.get("changes") or {}).items()
        ]
        event = f" ({det['psp_event']})" if det.get("psp_event") else ""
        return "Updated" + event + ": " + "; ".join(parts)
    if kind == "assigned":
        return f"Assigned to {det['to']}" if det.get("to") else "Unassigned"
    if kind == "note":
        return str(det.get("text", ""))
    if kind == "evidence_added":
        return f"Evidence added: {det.get('file_name')} ({det.get('kind')})"
    if kind == "evidence_removed":
        return f"Evidence removed: {det.get('file_name')}"
    if kind == "evidence_kind":
        return f"Evidence kind {det.get('from')} → {det.get('to')}"
    if kind == "text_saved":
        return f"{str(det.get('field', '')).replace('_', ' ').capitalize()} edited"
    if kind == "psp_comment":
        return f"PSP/issuer comment: {det.get('text', '')}"
    if kind == "package_built":
        return f"Package built: {det.get('pages')} pages, {det.get('file')}"
    if kind == "submitted":
        return "Submitted; evidence locked"
    return kind.replace("_", " ")


def case_view(session: Session, dispute_id: int, *, now: dt.datetime | None = None) -> CaseView:
    """All data of the case page (one call, one Session)."""
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    table = ReasonTable(session)
    reason = table.lookup(d.network, d.reason_code)
    charge = session.get(Record, d.charge_record_id) if d.charge_record_id else None
    order = session.get(Record, d.order_record_id) if d.order_record_id else None
    customer: dict[str, str] = {}
    for rec in (charge, order):
        if rec is not None:
            customer.update(customer_details(rec.raw))
    customer.update({k: str(v) for k, v in (d.customer or {}).items() if v})
    ce3 = (
        ce3_eligibility(session, d.id) if d.network == "Visa" and d.reason_code == "10.4" else None
    )
    cl = checklist(session, d, reason, ce3=bool(ce3 and ce3.eligible))
    events = list(
        session.scalars(
            select(DisputeEvent)
            .where(DisputeEvent.dispute_id == d.id)
            .order_by(DisputeEvent.at, DisputeEvent.id)
        )
    )
    timeline = [
        TimelineEntry(e.id, e.at, e.actor, e.kind, describe_event(e.kind, e.detail)) for e in events
    ]
    labels = evidence_kinds()
    evidence = [
        EvidenceItem(
            e.id,
            e.kind,
            labels.get(e.kind, e.kind),
            e.file_name,
            e.media_type,
            e.size,
            e.sha256,
            e.added_by,
            e.added_at,
        )
        for e in session.scalars(
            select(Evidence).where(Evidence.dispute_id == d.id).order_by(Evidence.id)
        )
    ]
    assignee = (
        session.scalar(select(User.login).where(User.id == d.assignee_id))
        if d.assignee_id
        else None
    )
    now = now or dt.datetime.now(dt.UTC)
    open_ = d.status == "needs_response"
    return CaseView(
        id=d.id,
        psp=d.psp,
        psp_dispute_id=d.psp_dispute_id,
        network=d.network,
        reason_code=d.reason_code,
        reason=reason,
        reason_category=d.reason_category,
        stage=d.stage,
        status=d.status,
        amount_minor=d.amount_minor,
        currency=d.currency,
        opened_at=d.opened_at,
        due_by=d.due_by,
        countdown=countdown(d.due_by, now) if open_ else "",
        due_state=due_state(d.due_by, now) if open_ else "none",
        assignee=assignee,
        charge_ref=d.charge_ref,
        order_ref=d.order_ref,
        transaction=_record_summary(charge),
        order=_record_summary(order),
        customer=customer,
        trail=money_trail(session, d.id),
        timeline=timeline,
        notes=[t for t in timeline if t.kind == "note"],
        evidence=evidence,
        texts={f: getattr(d, f) or "" for f in checklists()["text_fields"]},
        checklist=cl,
        ce3=ce3,
        hint=accept_or_fight(session, d, cl, reason, ce3),
        locked=d.evidence_locked,
        submitted_at=d.submitted_at,
        submitted_by=d.submitted_by,
    )
