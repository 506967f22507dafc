"""The disputes queue: cases in urgency order, filtered, in keyset pages, with header counts.

Urgency (the default order) puts the case most likely to lose money soonest first:

    bucket 0  needs a response and overdue (due_by <= now), most money first
    bucket 1  needs a response, due later:  score = amount at risk / max(hours left, 1)
    bucket 2  needs a response, no due date known, most money first
    bucket 3  everything else (under review, closed), most money first

"Amount at risk" is the disputed amount in major units of its currency (JPY 0 decimals, BHD 3),
so 500.00 EUR due in 50 h (score 10) comes before 50.00 EUR due in 10 h (score 5), and both after
any overdue case. The score is computed in SQL at a fixed `now` that travels in the page key, so
pages stay consistent while time passes. Only the narrow sort key is sorted; the rows of a page are
fetched afterwards by id.

The statements are built from `queue_query`; claim-next and bulk assign (`assignment`) are
importable from here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from ...models import Dispute, Evidence, User, utcnow
from ...money import exponent, format_minor
from .assignment import assign as assign
from .assignment import claim_next as claim_next
from .deadlines import countdown, due_state
from .queue_query import SORTS as SORTS
from .queue_query import (
    QueueFilters,
    after_condition,
    filter_conditions,
    sort_columns,
    urgency_buckets,
    urgency_keys,
)

# `views.disputes.source` builds its own queue statements from these, under these names.
_where = filter_conditions
_buckets = urgency_buckets
_sort_columns = sort_columns


@dataclass
class QueueRow:
    """One row of the queue, ready to show."""

    id: int
    psp: str
    psp_dispute_id: str
    network: str | None
    reason_code: str | None
    reason_category: str | None
    stage: str
    status: str
    amount_minor: int
    currency: str
    due_by: dt.datetime | None
    opened_at: dt.datetime | None
    charge_ref: str | None
    order_ref: str | None
    assignee: str | None
    evidence_count: int
    urgency_bucket: int
    urgency_score: float
    countdown: str
    due_state: str  # overdue, due_today, due_soon, ok, none

    @property
    def amount_text(self) -> str:
        return format_minor(self.amount_minor, self.currency, symbol=True)


@dataclass
class QueuePage:
    """A page of rows and the key to pass for the next page (None at the end)."""

    rows: list[QueueRow]
    next_key: tuple[Any, ...] | None
    now: dt.datetime
    sort: str = "urgency"
    extra: dict[str, Any] = field(default_factory=dict)


def list_disputes(
    session: Session,
    filters: QueueFilters | None = None,
    sort: str = "urgency",
    after_key: Sequence[Any] | None = None,
    limit: int = 100,
    *,
    descending: bool = False,
    now: dt.datetime | None = None,
) -> QueuePage:
    """One page of the queue.

    Args:
        session: a Session.
        filters: what to show.
        sort: urgency (default), due_by, amount or opened_at.
        after_key: `next_key` of the previous page (it carries the `now` of the first page).
        limit: rows per page.
        descending: for the non-urgency sorts.
        now: the moment urgency is computed at (default: now, or the page key's).
    """
    filters = filters or QueueFilters()
    if after_key:
        now = dt.datetime.fromisoformat(str(after_key[0]))
    now = now or utcnow()
    conds = filter_conditions(session, filters, now)
    keys: list[tuple[Any, ...]]
    if sort == "urgency":
        after = list(after_key[1:]) if after_key else None
        keys = list(urgency_keys(session, conds, now, after, limit + 1))
    else:
        cols = sort_columns(session, sort, descending, now)
        q = select(*(c for c, _ in cols)).where(*conds)
        if after_key:
            q = q.where(after_condition(cols, list(after_key[1:])))
        q = q.order_by(*((c.desc() if d else c.asc()) for c, d in cols)).limit(limit + 1)
        keys = [tuple(r) for r in session.execute(q)]
    more = len(keys) > limit
    keys = keys[:limit]
    rows = _rows(session, [int(k[-1]) for k in keys], now, keys if sort == "urgency" else None)
    next_key = (now.isoformat(), *keys[-1]) if more and keys else None
    return QueuePage(rows=rows, next_key=next_key, now=now, sort=sort)


def _rows(
    session: Session, ids: list[int], now: dt.datetime, urgency: list[tuple[Any, ...]] | None
) -> list[QueueRow]:
    if not ids:
        return []
    found = {d.id: d for d in session.scalars(select(Dispute).where(Dispute.id.in_(ids)))}
    logins = dict(
        session.execute(
            select(Dispute.id, User.login)
            .join(User, User.id == Dispute.assignee_id)
            .where(Dispute.id.in_(ids))
        ).all()
    )
    counts = dict(
        session.execute(
            select(Evidence.dispute_id, func.count())
            .where(Evidence.dispute_id.in_(ids))
            .group_by(Evidence.dispute_id)
        ).all()
    )
    u = {int(k[-1]): (int(k[0]), float(k[1])) for k in urgency} if urgency else {}
    out = []
    for i in ids:
        d = found[i]
        bucket, score = u.get(i) or _py_urgency(d, now)
        out.append(
            QueueRow(
                id=d.id,
                psp=d.psp,
                psp_dispute_id=d.psp_dispute_id,
                network=d.network,
                reason_code=d.reason_code,
                reason_category=d.reason_category,
                stage=d.stage,
                status=d.status,
                amount_minor=d.amount_minor,
                currency=d.currency,
                due_by=d.due_by,
                opened_at=d.opened_at,
                charge_ref=d.charge_ref,
                order_ref=d.order_ref,
                assignee=logins.get(d.id),
                evidence_count=int(counts.get(d.id, 0)),
                urgency_bucket=bucket,
                urgency_score=score,
                countdown=countdown(d.due_by, now) if d.status == "needs_response" else "",
                due_state=due_state(d.due_by, now) if d.status == "needs_response" else "none",
            )
        )
    return out


def _py_urgency(d: Dispute, now: dt.datetime) -> tuple[int, float]:
    """The same formula as the SQL one, for rows fetched by another sort."""
    major = d.amount_minor / 10.0 ** exponent(d.currency)  # ranking weight, as in `major_units`
    if d.status != "needs_response":
        return 3, major
    if d.due_by is None:
        return 2, major
    hours = (d.due_by - now).total_seconds() / 3600.0
    if hours <= 0:
        return 0, major
    return 1, major / max(hours, 1.0)


def count_disputes(
    session: Session, filters: QueueFilters | None = None, *, now: dt.datetime | None = None
) -> dict[str, int]:
    """Counts for the page header: total, overdue, due today (next 24 h), unassigned."""
    now = now or utcnow()
    open_ = Dispute.status == "needs_response"
    q = select(
        func.count(),
        func.count(case((and_(open_, Dispute.due_by <= now), 1))),
        func.count(
            case(
                (
                    and_(open_, Dispute.due_by > now, Dispute.due_by <= now + dt.timedelta(days=1)),
                    1,
                )
            )
        ),
        func.count(case((and_(open_, Dispute.assignee_id.is_(None)), 1))),
    ).where(*filter_conditions(session, filters or QueueFilters(), now))
    total, overdue, today, unassigned = session.execute(q).one()
    return {
        "total": int(total),
        "overdue": int(overdue),
        "due_today": int(today),
        "unassigned": int(unassigned),
    }
