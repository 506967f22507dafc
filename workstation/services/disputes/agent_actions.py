"""What agents record on a case: notes and the accept-or-fight decision; finding a case by id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import Dispute, DisputeEvent, utcnow
from ..common import audit
from ..common.card_numbers import mask_text
from ..common.row_locks import lock_rows

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
    body = mask_text((text or "").strip())[0]
    if not body:
        raise UserError("the note is empty")
    if session.get(Dispute, dispute_id) is None:
        raise UserError(f"no dispute {dispute_id}")
    event = add_event(session, dispute_id, actor, "note", {"text": body})
    audit.log(session, actor, "dispute_note", "dispute", dispute_id, {"event": event.id})
    return event


def decide(
    session: Session,
    dispute_id: int,
    decision: str,
    actor: str,
    *,
    seen_event: int | str | None = "any",
) -> DisputeEvent:
    """Record the accept-or-fight decision on a case needing a response.

    "accept" closes the case as accepted (the chargeback stands, no representment); "fight"
    records that evidence will be submitted (the case stays open until it is submitted).
    Either is a `decision` event on the timeline and an audit event.

    The case is locked and its status checked again inside the transaction, so of two agents
    deciding at once one wins and the other is told who decided. `seen_event` is the latest
    decision event the caller saw (None: none; "any": replace whatever was decided).

    Raises:
        UserError: unknown decision or case, the case does not need a response any more, or
            someone decided it since the caller looked ("already decided by ...").
    """
    if decision not in DECISIONS:
        raise UserError(f"unknown decision {decision!r}; use {' or '.join(DECISIONS)}")
    lock_rows(session, Dispute, [dispute_id])
    d = session.get(Dispute, dispute_id, populate_existing=True)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    last = latest_decision(session, d.id)
    if seen_event != "any" and (last.id if last is not None else None) != seen_event:
        assert last is not None  # a decision the caller did not see exists
        raise UserError(f"dispute {d.psp_dispute_id} was {decided_by(last)}")
    if d.status != "needs_response" or d.evidence_locked:
        state = "submitted" if d.evidence_locked else d.status.replace("_", " ")
        raise UserError(
            f"dispute {d.psp_dispute_id} is {state}; only cases needing a response can be "
            f"accepted or fought"
        )
    before = d.status
    after = "accepted" if decision == "accept" else before
    done = session.execute(  # compare-and-set: the status checked above, in the WHERE
        update(Dispute)
        .where(
            Dispute.id == d.id,
            Dispute.status == "needs_response",
            Dispute.evidence_locked.is_(False),
        )
        .values(status=after, updated_at=utcnow())
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise UserError(f"dispute {d.psp_dispute_id} changed meanwhile; look at it again")
    event = add_event(
        session, d.id, actor, "decision", {"decision": decision, "from": before, "to": after}
    )
    audit.log(
        session,
        actor,
        "dispute_decision",
        "dispute",
        d.id,
        {"decision": decision, "from": before, "to": after, "event": event.id},
    )
    return event


def latest_decision(session: Session, dispute_id: int) -> DisputeEvent | None:
    """The latest accept-or-fight decision event of a case, if any."""
    return session.scalar(
        select(DisputeEvent)
        .where(DisputeEvent.dispute_id == dispute_id, DisputeEvent.kind == "decision")
        .order_by(DisputeEvent.id.desc())
        .limit(1)
    )


def decided_by(event: DisputeEvent) -> str:
    """Who decided a case, what and when: `already decided by bob (fight, ... UTC)`."""
    what = str((event.detail or {}).get("decision", "?"))
    at = event.at.strftime("%Y-%m-%d %H:%M UTC") if event.at is not None else "?"
    return f"already decided by {event.actor} ({what}, {at})"


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
