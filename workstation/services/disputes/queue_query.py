"""The SQL pieces of the disputes queue: filters, urgency buckets, sort keys, keyset conditions.

The urgency order they compute is described in `queue`; the queue listing, claim-next
(`assignment`) and the export (`queue_export`) build their statements from these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    String,
    and_,
    bindparam,
    case,
    cast,
    extract,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ...errors import UserError
from ...models import Dispute, User
from ...models.base import UTCDateTime
from ...money import currencies_by_exponent
from .reason_codes import category_names

SORTS = ("urgency", "due_by", "amount", "opened_at")
_FAR = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class QueueFilters:
    """Queue filters; None/empty means no filter on that field."""

    status: Sequence[str] | None = None
    stage: Sequence[str] | None = None
    category: Sequence[str] | None = None
    network: Sequence[str] | None = None
    psp: Sequence[str] | None = None
    assignee: str | None = None  # a login
    unassigned: bool = False
    due_within_days: float | None = None  # due in the next N days (overdue included)
    overdue: bool = False
    search: str | None = None  # PSP dispute id, charge or order reference (prefix)


def major_units(amount: Any, currency: Any) -> ColumnElement[Any]:
    """Amount in major units as a float: a ranking weight for urgency, never shown to anyone."""
    whens = [
        (currency.in_(curs), cast(amount, Float) / 10.0**exp)
        for exp, curs in currencies_by_exponent().items()
    ]
    return case(*whens, else_=cast(amount, Float) / 100.0)


def _hours_left(session: Session, now: dt.datetime) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        now_text = now.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
        return (
            func.julianday(Dispute.due_by) - func.julianday(bindparam("q_now", now_text, String))
        ) * 24.0
    return (
        extract("epoch", Dispute.due_by - bindparam("q_now", now, DateTime(timezone=True))) / 3600.0
    )


def urgency_buckets(
    session: Session, now: dt.datetime
) -> list[tuple[int, ColumnElement[bool], ColumnElement[Any]]]:
    """(bucket, condition, score) of each urgency bucket, in queue order.

    Each bucket is its own query: the first two are index ranges on (status, due_by), so the
    first page costs what the open cases cost, not what the whole (mostly closed) table costs.
    """
    hours = _hours_left(session, now)
    major = major_units(Dispute.amount_minor, Dispute.currency)
    open_ = Dispute.status == "needs_response"
    return [
        (0, and_(open_, Dispute.due_by <= now), major),
        (1, and_(open_, Dispute.due_by > now), major / case((hours < 1.0, 1.0), else_=hours)),
        (2, and_(open_, Dispute.due_by.is_(None)), major),
        (3, or_(Dispute.status < "needs_response", Dispute.status > "needs_response"), major),
    ]


def urgency_keys(
    session: Session,
    conds: list[ColumnElement[bool]],
    now: dt.datetime,
    after: Sequence[Any] | None,
    limit: int,
    *,
    lock: bool = False,
) -> list[tuple[int, float, int]]:
    """Up to `limit` (bucket, score, id) keys in urgency order after the key `after`."""
    out: list[tuple[int, float, int]] = []
    for bucket, cond, score in urgency_buckets(session, now):
        if after is not None and bucket < int(after[0]):
            continue
        q = select(score, Dispute.id).where(cond, *conds)
        if after is not None and bucket == int(after[0]):
            s_, i_ = float(after[1]), int(after[2])
            q = q.where(or_(score < s_, and_(score == s_, Dispute.id > i_)))
        q = q.order_by(score.desc(), Dispute.id.asc()).limit(limit - len(out))
        if lock:
            q = q.with_for_update(skip_locked=True)
        out += [(bucket, float(sc), int(i)) for sc, i in session.execute(q)]
        if len(out) >= limit:
            break
    return out


def filter_conditions(
    session: Session, f: QueueFilters, now: dt.datetime
) -> list[ColumnElement[bool]]:
    """WHERE conditions of the filters (`due_within_days` and `overdue` counted from `now`)."""
    conds: list[ColumnElement[bool]] = []
    if f.status:
        conds.append(Dispute.status.in_(list(f.status)))
    if f.stage:
        conds.append(Dispute.stage.in_(list(f.stage)))
    if f.category:
        conds.append(Dispute.reason_category.in_(category_names(f.category)))
    if f.network:
        conds.append(Dispute.network.in_(list(f.network)))
    if f.psp:
        conds.append(Dispute.psp.in_(list(f.psp)))
    if f.unassigned:
        conds.append(Dispute.assignee_id.is_(None))
    elif f.assignee:
        uid = session.scalar(select(User.id).where(User.login == f.assignee))
        conds.append(Dispute.assignee_id == uid if uid is not None else false())
    if f.due_within_days is not None:
        conds.append(Dispute.due_by <= now + dt.timedelta(days=float(f.due_within_days)))
    if f.overdue:
        conds.append(Dispute.due_by <= now)
    if f.search:
        s = f.search.strip()
        conds.append(
            or_(
                Dispute.psp_dispute_id.startswith(s, autoescape=True),
                Dispute.charge_ref.startswith(s, autoescape=True),
                Dispute.order_ref.startswith(s, autoescape=True),
            )
        )
    return conds


def sort_columns(
    session: Session, sort: str, descending: bool, now: dt.datetime
) -> list[tuple[Any, bool]]:
    """(expression, descending) pairs; the id tie-breaker comes last, ascending."""
    if sort == "due_by":
        col: ColumnElement[Any] = func.coalesce(Dispute.due_by, literal(_FAR, UTCDateTime()))
    elif sort == "amount":
        col = major_units(Dispute.amount_minor, Dispute.currency)
    elif sort == "opened_at":
        col = func.coalesce(Dispute.opened_at, literal(_EPOCH, UTCDateTime()))
    else:
        raise UserError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
    return [(col, descending), (Dispute.id, False)]


def after_condition(cols: list[tuple[Any, bool]], key: Sequence[Any]) -> ColumnElement[bool]:
    """Keyset condition: rows strictly after `key` in the (mixed-direction) order of `cols`."""
    ors = []
    for i, (col, desc) in enumerate(cols):
        eqs = [c == v for (c, _), v in zip(cols[:i], key[:i], strict=True)]
        step = col < key[i] if desc else col > key[i]
        ors.append(and_(*eqs, step))
    return or_(*ors)
