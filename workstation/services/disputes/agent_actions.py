"""What agents record on a case: notes and the accept-or-fight decision; finding a case by id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import Dispute, DisputeEvent, utcnow
from ..common import audit

DECISIONS = ("accept", "fight")
_CHUNK = 500


def find_dispute(session: Session, ref: str | int) -> Dispute:
    """A case by our id, or by the PSP's id (`dp_...`, an Adyen dispute reference)."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit() and len(ref) < 10):
        found = session.get(Dispute, int(ref))
        if found is not None:
            return found
    text = str(ref).strip()
    matches = list(session.scalars(select(Dispute).where(Dispute.psp_dispute_id == text)))
    if not matches:
        raise UserError(f"no dispute {text!r}")
    if len(matches) > 1:
        psps = ", ".join(sorted(m.psp for m in matches))
        raise UserError(f"dispute id {text!r} exists at several PSPs ({psps}); use the case number")
    return matches[0]


def add_event(
    session: Session, dispute_id: int, actor: str, kind: str, detail: dict[str, Any] | None = None
) -> DisputeEvent:
    """Append one entry to a case's timeline."""
    event = DisputeEvent(dispute_id=dispute_id, actor=actor, kind=kind, detail=detail)
    session.add(event)
    session.flush()
    return event


def add_note(session: Session, dispute_id: int, actor: str, text: str) -> DisputeEvent:
    """A note on the case's timeline (notes are events of kind `note`)."""
    body = (text or "").strip()
    if not body:
        raise UserError("the note is empty")
    if session.get(Dispute, dispute_id) is None:
        raise UserError(f"no dispute {dispute_id}")
    event = add_event(session, dispute_id, actor, "note", {"text": body})
    audit.log(session, actor, "dispute_note", "dispute", dispute_id, {"event": event.id})
    return event


def decide(session: Session, dispute_id: int, decision: str, actor: str) -> DisputeEvent:
    """Record the accept-or-fight decision on a case needing a response.

    "accept" closes the case as accepted (the chargeback stands, no representment); "fight"
    records that evidence will be submitted (the case stays open until it is submitted).
    Either is a `decision` event on the timeline and an audit event.

    Raises:
        UserError: unknown decision or case, or the case does not need a response any more.
    """
    if decision not in DECISIONS:
        raise UserError(f"unknown decision {decision!r}; use {' or '.join(DECISIONS)}")
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    if d.status != "needs_response" or d.evidence_locked:
        state = "submitted" if d.evidence_locked else d.status.replace("_", " ")
        raise UserError(
            f"dispute {d.psp_dispute_id} is {state}; only cases needing a response can be "
            f"accepted or fought"
        )
    before = d.status
    if decision == "accept":
        d.status = "accepted"
    d.updated_at = utcnow()
    event = add_event(
        session, d.id, actor, "decision", {"decision": decision, "from": before, "to": d.status}
    )
    audit.log(
        session,
        actor,
        "dispute_decision",
        "dispute",
        d.id,
        {"decision": decision, "from": before, "to": d.status, "event": event.id},
    )
    return event


def last_decisions(session: Session, dispute_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """(event id, decision) of the latest accept-or-fight decision of each case that has one."""
    ids = sorted({int(i) for i in dispute_ids})
    out: dict[int, tuple[int, str]] = {}
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        latest = (
            select(DisputeEvent.dispute_id, func.max(DisputeEvent.id).label("eid"))
            .where(DisputeEvent.dispute_id.in_(chunk), DisputeEvent.kind == "decision")
            .group_by(DisputeEvent.dispute_id)
            .subquery()
        )
        rows = session.execute(
            select(DisputeEvent.dispute_id, DisputeEvent.id, DisputeEvent.detail).join(
                latest, latest.c.eid == DisputeEvent.id
            )
        ).all()
        for did, eid, detail in rows:
            out[int(did)] = (int(eid), str((detail or {}).get("decision", "")))
    return out
