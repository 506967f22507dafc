"""Case view data: everything the case page shows, read in one call with one Session.

Details, the linked transaction and order, customer, money trail, timeline, evidence, the
checklist, Visa CE 3.0 (`ce3`) and the accept-or-fight hint (`accept_or_fight`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import Dispute, DisputeEvent, Evidence, Record, User
from ...money import format_minor
from ..settlement.trail import dispute_order_id
from .accept_or_fight import Hint, accept_or_fight
from .ce3 import CE3Result, ce3_eligibility
from .checklist import Checklist, checklist
from .customer import customer_details
from .deadlines import countdown, due_state
from .money_trail import MoneyTrail, money_trail
from .reason_codes import ReasonInfo, ReasonTable, checklists, evidence_kinds


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


# Timeline text of the event kinds that only show fields of their detail.
_EVENT_TEXT = {
    "note": "{text}",
    "evidence_added": "Evidence added: {file_name} ({kind})",
    "evidence_removed": "Evidence removed: {file_name}",
    "evidence_kind": "Evidence kind {from} → {to}",
    "psp_comment": "PSP/issuer comment: {text}",
    "package_built": "Package built: {pages} pages, {file}",
    "submitted": "Submitted; evidence locked",
}


class _Detail(dict[str, Any]):
    """An event's detail as the templates read it: a missing field is None, a missing text ''."""

    def __missing__(self, key: str) -> Any:
        return "" if key == "text" else None


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
    if kind == "text_saved":
        return f"{str(det.get('field', '')).replace('_', ' ').capitalize()} edited"
    template = _EVENT_TEXT.get(kind)
    if template is not None:
        return template.format_map(_Detail(det))
    return kind.replace("_", " ")


def case_view(session: Session, dispute_id: int, *, now: dt.datetime | None = None) -> CaseView:
    """All data of the case page (one call, one Session)."""
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    table = ReasonTable(session)
    reason = table.lookup(d.network, d.reason_code)
    charge = session.get(Record, d.charge_record_id) if d.charge_record_id else None
    order_rid = dispute_order_id(session, d.order_record_id, d.charge_record_id)
    order = session.get(Record, order_rid) if order_rid else None
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
