"""The disputes queue: urgency order, filters, keyset pages, claim-next, bulk assign, countdowns.

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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
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
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from ...errors import UserError
from ...exporters.table import Column, write_table
from ...importers.base import Progress
from ...models import Dispute, DisputeEvent, Evidence, Record, User, utcnow
from ...models.base import UTCDateTime
from ...money import currencies_by_exponent, exponent, format_minor, from_minor
from ..common import audit
from ..common.users import ensure_user
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


# ----------------------------------------------------------------------------- helpers


def countdown(due_by: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """`3 d 4 h left`, `5 h 20 min left`, `overdue 2 d`, `overdue 3 h`, or '' without a date."""
    if due_by is None:
        return ""
    now = now or utcnow()
    seconds = int((due_by - now).total_seconds())
    if seconds >= 0:
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes = rest // 60
        if days:
            return f"{days} d {hours} h left"
        if hours:
            return f"{hours} h {minutes} min left"
        return f"{minutes} min left"
    late = -seconds
    days, rest = divmod(late, 86400)
    hours = rest // 3600
    if days:
        return f"overdue {days} d"
    if hours:
        return f"overdue {hours} h"
    return f"overdue {max(1, rest // 60)} min"


def due_state(
    due_by: dt.datetime | None, now: dt.datetime | None = None, tz: dt.tzinfo | None = None
) -> str:
    """For highlighting: overdue, due_today (same local day), due_soon (3 days), ok, none."""
    if due_by is None:
        return "none"
    now = now or utcnow()
    if due_by <= now:
        return "overdue"
    local_due = due_by.astimezone(tz) if tz else due_by.astimezone()
    local_now = now.astimezone(tz) if tz else now.astimezone()
    if local_due.date() == local_now.date():
        return "due_today"
    if due_by - now <= dt.timedelta(days=3):
        return "due_soon"
    return "ok"


def _major(amount: Any, currency: Any) -> ColumnElement[Any]:
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


def _buckets(
    session: Session, now: dt.datetime
) -> list[tuple[int, ColumnElement[bool], ColumnElement[Any]]]:
    """(bucket, condition, score) of each urgency bucket, in queue order.

    Each bucket is its own query: the first two are index ranges on (status, due_by), so the
    first page costs what the open cases cost, not what the whole (mostly closed) table costs.
    """
    hours = _hours_left(session, now)
    major = _major(Dispute.amount_minor, Dispute.currency)
    open_ = Dispute.status == "needs_response"
    return [
        (0, and_(open_, Dispute.due_by <= now), major),
        (1, and_(open_, Dispute.due_by > now), major / case((hours < 1.0, 1.0), else_=hours)),
        (2, and_(open_, Dispute.due_by.is_(None)), major),
        (3, or_(Dispute.status < "needs_response", Dispute.status > "needs_response"), major),
    ]


def _urgency_keys(
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
    for bucket, cond, score in _buckets(session, now):
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


def _where(session: Session, f: QueueFilters, now: dt.datetime) -> list[ColumnElement[bool]]:
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


def _sort_columns(
    session: Session, sort: str, descending: bool, now: dt.datetime
) -> list[tuple[Any, bool]]:
    """(expression, descending) pairs; the id tie-breaker comes last, ascending."""
    if sort == "due_by":
        col: ColumnElement[Any] = func.coalesce(Dispute.due_by, literal(_FAR, UTCDateTime()))
    elif sort == "amount":
        col = _major(Dispute.amount_minor, Dispute.currency)
    elif sort == "opened_at":
        col = func.coalesce(Dispute.opened_at, literal(_EPOCH, UTCDateTime()))
    else:
        raise UserError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
    return [(col, descending), (Dispute.id, False)]


def _after(cols: list[tuple[Any, bool]], key: Sequence[Any]) -> ColumnElement[bool]:
    """Keyset condition: rows strictly after `key` in the (mixed-direction) order of `cols`."""
    ors = []
    for i, (col, desc) in enumerate(cols):
        eqs = [c == v for (c, _), v in zip(cols[:i], key[:i], strict=True)]
        step = col < key[i] if desc else col > key[i]
        ors.append(and_(*eqs, step))
    return or_(*ors)


# ----------------------------------------------------------------------------- queries


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
    conds = _where(session, filters, now)
    keys: list[tuple[Any, ...]]
    if sort == "urgency":
        after = list(after_key[1:]) if after_key else None
        keys = list(_urgency_keys(session, conds, now, after, limit + 1))
    else:
        cols = _sort_columns(session, sort, descending, now)
        q = select(*(c for c, _ in cols)).where(*conds)
        if after_key:
            q = q.where(_after(cols, list(after_key[1:])))
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
    major = d.amount_minor / 10.0 ** exponent(d.currency)  # ranking weight, as in `_major`
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
    ).where(*_where(session, filters or QueueFilters(), now))
    total, overdue, today, unassigned = session.execute(q).one()
    return {
        "total": int(total),
        "overdue": int(overdue),
        "due_today": int(today),
        "unassigned": int(unassigned),
    }


# ----------------------------------------------------------------------------- assignment


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
        conds = _where(session, f, now)
        if skipped:
            conds.append(Dispute.id.not_in(skipped))
        keys = _urgency_keys(session, conds, now, None, 1, lock=pg)
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
    """Assign cases to a user (None: unassign), one timeline event each; returns cases changed."""
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


# ----------------------------------------------------------------------------- export

EXPORT_COLUMNS = (
    "dispute_id",
    "status",
    "stage",
    "network",
    "reason_code",
    "amount",
    "currency",
    "due_by",
    "charge_external_id",
    "order_external_id",
    "evidence_count",
)


def export_disputes(
    session: Session,
    path: Path,
    filters: QueueFilters | None = None,
    *,
    progress: Progress | None = None,
) -> int:
    """Write the (filtered) cases to CSV or XLSX by suffix; returns rows written.

    `charge_external_id` / `order_external_id` are the linked records' ids, else the references
    the PSP gave. Amounts are exact decimals in the case's currency.
    """
    now = utcnow()
    conds = _where(session, filters or QueueFilters(), now)
    charge = aliased(Record)
    order = aliased(Record)
    counts = (
        select(Evidence.dispute_id.label("did"), func.count().label("n"))
        .group_by(Evidence.dispute_id)
        .subquery()
    )
    q = (
        select(
            Dispute.psp_dispute_id,
            Dispute.status,
            Dispute.stage,
            Dispute.network,
            Dispute.reason_code,
            Dispute.amount_minor,
            Dispute.currency,
            Dispute.due_by,
            func.coalesce(charge.external_id, Dispute.charge_ref),
            func.coalesce(order.external_id, Dispute.order_ref),
            func.coalesce(counts.c.n, 0),
        )
        .outerjoin(charge, charge.id == Dispute.charge_record_id)
        .outerjoin(order, order.id == Dispute.order_record_id)
        .outerjoin(counts, counts.c.did == Dispute.id)
        .where(*conds)
        .order_by(Dispute.id)
    )
    total = session.scalar(
        select(func.count())
        .select_from(Dispute)
        .where(*_where(session, filters or QueueFilters(), now))
    )

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in session.execute(q.execution_options(yield_per=5000)):
            yield (
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                from_minor(int(r[5]), r[6]),
                r[6],
                r[7],
                r[8],
                r[9],
                int(r[10]),
            )

    columns = [
        Column("dispute_id", width=32),
        Column("status", width=16),
        Column("stage", width=16),
        Column("network", width=12),
        Column("reason_code", width=12),
        Column("amount", kind="money"),
        Column("currency", width=10),
        Column("due_by", kind="datetime", width=18),
        Column("charge_external_id", width=32),
        Column("order_external_id", width=24),
        Column("evidence_count", kind="int"),
    ]
    return write_table(
        path, columns, rows(), sheet_title="Disputes", total=total, progress=progress
    )
