"""Who works a case: claim the most urgent unassigned case, assign cases in bulk."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import Dispute, DisputeEvent, User, utcnow
from ..common import audit
from ..common.row_locks import lock_rows
from ..common.users import ensure_user
from .queue_query import QueueFilters, filter_conditions, urgency_keys


def claim_next(
    session: Session,
    actor: str,
    filters: QueueFilters | None = None,
    *,
    now: dt.datetime | None = None,
) -> Dispute | None:
    """Assign the most urgent unassigned case needing a response to `actor`; None if none left.

    On PostgreSQL the candidate row is locked with FOR UPDATE SKIP LOCKED, so agents claiming at
    the same moment get different cases. SQLite serialises writers; the guarded UPDATE (assignee
    still empty) makes a lost race retry with the next case.
    """
    now = now or utcnow()
    user = ensure_user(session, actor)
    base = filters or QueueFilters()
    f = QueueFilters(
        status=("needs_response",),
        stage=base.stage,
        category=base.category,
        network=base.network,
        psp=base.psp,
        unassigned=True,
        due_within_days=base.due_within_days,
        search=base.search,
    )
    pg = session.get_bind().dialect.name == "postgresql"
    skipped: list[int] = []
    for _ in range(10):
        conds = filter_conditions(session, f, now)
        if skipped:
            conds.append(Dispute.id.not_in(skipped))
        keys = urgency_keys(session, conds, now, None, 1, lock=pg)
        if not keys:
            return None
        found = keys[0][2]
        result = session.execute(
            update(Dispute)
            .where(Dispute.id == found, Dispute.assignee_id.is_(None))
            .values(assignee_id=user.id, updated_at=now)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            session.add(
                DisputeEvent(
                    dispute_id=found,
                    actor=actor,
                    kind="assigned",
                    detail={"to": actor, "claimed": True},
                )
            )
            audit.log(session, actor, "claim_dispute", "dispute", found)
            session.flush()
            claimed = session.get(Dispute, found)
            if claimed is not None:
                session.refresh(claimed)
            return claimed
        skipped.append(int(found))
    return None


def assign(session: Session, dispute_ids: Sequence[int], assignee: str | None, actor: str) -> int:
    """Assign cases to a user (None: unassign), one timeline event each; returns cases changed.

    The cases are locked first, so two agents assigning the same case at once are applied one
    after the other and the second sees what the first did.
    """
    ids = sorted({int(i) for i in dispute_ids})
    if not ids:
        return 0
    uid: int | None = None
    if assignee:
        user = session.scalar(select(User).where(User.login == assignee))
        if user is None:
            raise UserError(f"no user {assignee!r}")
        if not user.active:
            raise UserError(f"user {assignee!r} is inactive")
        uid = user.id
    lock_rows(session, Dispute, ids)  # who has them is read again below, under the lock
    differs = (
        Dispute.assignee_id.is_not(None)
        if uid is None
        else or_(Dispute.assignee_id.is_(None), Dispute.assignee_id != uid)
    )
    changed = [
        int(i) for i in session.scalars(select(Dispute.id).where(Dispute.id.in_(ids), differs))
    ]
    if not changed:
        return 0
    now = utcnow()
    session.execute(
        update(Dispute).where(Dispute.id.in_(changed)).values(assignee_id=uid, updated_at=now)
    )
    session.execute(
        insert(DisputeEvent),
        [
            {
                "dispute_id": i,
                "at": now,
                "actor": actor,
                "kind": "assigned",
                "detail": {"to": assignee},
            }
            for i in changed
        ],
    )
    audit.log(
        session,
        actor,
        "assign_disputes",
        "dispute",
        None,
        {"to": assignee, "count": len(changed), "ids": changed[:1000]},
    )
    session.expire_all()
    return len(changed)
