"""Dispute metrics: counts, win rate and recovery rate by category, network or PSP, and the list
of disputes due soon."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...models import Dispute, User
from .cache import cached, cached_value
from .measures import as_int64, empty_frame, map_unique, ratios, text_or_none
from .networks import network_or_name, normalise_network
from .periods import day_bounds
from .rollups import query_frame

OPEN_DISPUTE_STATUSES = ("needs_response", "under_review")
CLOSED_DISPUTE_STATUSES = ("won", "lost", "accepted", "expired")
DISPUTE_DIMENSIONS = ("reason_category", "network", "psp")
_COUNTS = ["disputes", "open", "won", "lost", "accepted", "expired"]
DISPUTE_STATS_COLUMNS = [
    "key",
    "currency",
    *_COUNTS,
    "win_rate",
    "disputed_minor",
    "closed_minor",
    "won_minor",
    "recovery_rate",
]
DUE_COLUMNS = [
    "id",
    "dispute_id",
    "psp",
    "network",
    "reason_code",
    "reason_category",
    "stage",
    "status",
    "amount_minor",
    "currency",
    "due_by",
    "hours_left",
    "assignee",
]


def dispute_stats(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    *,
    by: str = "reason_category",
    psps: Collection[str] | None = None,
    networks: Collection[str] | None = None,
) -> pd.DataFrame:
    """Dispute counts, win rate and recovery rate of disputes opened in the period.

    win_rate = won / (won + lost) (accepted and expired cases are decided without a fight and
    left out); recovery_rate = value won / value of closed cases (won, lost, accepted, expired).

    Args:
        by: "reason_category", "network" (normalised: visa, mastercard, ...) or "psp".

    Returns:
        one row per (key, currency): key (the `by` value, "unknown" when missing), currency,
        disputes, open, won, lost, accepted, expired (ints), win_rate (Decimal), disputed_minor,
        closed_minor, won_minor (int minor units), recovery_rate (Decimal).
    """
    if by not in DISPUTE_DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}; use one of {DISPUTE_DIMENSIONS}")
    return _dispute_stats(session, date_from, date_to, by, psps, networks)


@cached("dispute_stats")
def _dispute_stats(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    by: str,
    psps: Collection[str] | None,
    networks: Collection[str] | None,
) -> pd.DataFrame:
    d = _dispute_groups(session, date_from, date_to, psps)
    if d.empty:
        return empty_frame(DISPUTE_STATS_COLUMNS)
    if networks:
        wanted = {normalise_network(n) or n.lower() for n in networks}
        d = d[d["network"].isin(wanted)].copy()
    d["key"] = [text_or_none(v) or "unknown" for v in d[by]]
    st = d["status"]
    n = d["n"]
    d["disputes"] = n
    d["open"] = n.where(st.isin(OPEN_DISPUTE_STATUSES), 0)
    for name in CLOSED_DISPUTE_STATUSES:
        d[name] = n.where(st == name, 0)
    d["closed_minor"] = d["amount_minor"].where(st.isin(CLOSED_DISPUTE_STATUSES), 0)
    d["won_minor"] = d["amount_minor"].where(st == "won", 0)
    sums = [*_COUNTS, "amount_minor", "closed_minor", "won_minor"]
    out = d.groupby(["key", "currency"], as_index=False)[sums].sum()
    out = out.rename(columns={"amount_minor": "disputed_minor"})
    out["win_rate"] = ratios(out["won"], out["won"] + out["lost"])
    out["recovery_rate"] = ratios(out["won_minor"], out["closed_minor"])
    out = as_int64(out, [*_COUNTS, "disputed_minor", "closed_minor", "won_minor"])
    return out.sort_values(["key", "currency"]).reset_index(drop=True)[DISPUTE_STATS_COLUMNS]


@cached("dispute_groups", copy=True)
def _dispute_groups(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    psps: Collection[str] | None,
) -> pd.DataFrame:
    """Disputes opened in the period, counted and summed by psp, network, category, status and
    currency in SQL (shared by the three `dispute_stats` dimensions)."""
    lo, hi = day_bounds(date_from, date_to)
    opened = func.coalesce(Dispute.opened_at, Dispute.created_at)
    psp = func.lower(Dispute.psp)
    keys = (psp, Dispute.network, Dispute.reason_category, Dispute.status, Dispute.currency)
    q = (
        select(*keys, func.count(), func.sum(Dispute.amount_minor))
        .where(opened >= lo, opened < hi)
        .group_by(*keys)
    )
    if psps:
        q = q.where(psp.in_([p.lower() for p in psps]))
    cols = ["psp", "network", "reason_category", "status", "currency", "n", "amount_minor"]
    d = query_frame(session, q, cols)
    if len(d):
        d["network"] = map_unique(d["network"], network_or_name)
        d = as_int64(d, ("n", "amount_minor"))
    return d


def combine_currencies(stats: pd.DataFrame) -> pd.DataFrame:
    """`dispute_stats` rows summed over currencies: counts and win_rate per key (no amounts)."""
    cols = ["key", *_COUNTS, "win_rate"]
    if stats.empty:
        return empty_frame(cols)
    g = stats.groupby("key", as_index=False)[_COUNTS].sum()
    g["win_rate"] = ratios(g["won"], g["won"] + g["lost"])
    return g[cols]


def disputes_due(
    session: Session,
    *,
    as_of: dt.datetime | None = None,
    days: int = 7,
    psps: Collection[str] | None = None,
) -> pd.DataFrame:
    """Disputes that need a response and are due within `days` days from `as_of` (default now).

    Returns:
        soonest first: id, dispute_id (the PSP's id), psp, network, reason_code,
        reason_category, stage, status, amount_minor, currency, due_by (aware UTC datetime),
        hours_left (int, rounded down), assignee (login or None).
    """
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    # `now` moves every call; cache per minute so a redraw within it is free.
    minute = now.replace(second=0, microsecond=0)
    return cached_value(
        session,
        "due",
        (minute.isoformat(), days, psps),
        lambda: _disputes_due(session, now, days, psps),
    )


def _disputes_due(
    session: Session, now: dt.datetime, days: int, psps: Collection[str] | None
) -> pd.DataFrame:
    q = (
        select(
            Dispute.id,
            Dispute.psp_dispute_id,
            Dispute.psp,
            Dispute.network,
            Dispute.reason_code,
            Dispute.reason_category,
            Dispute.stage,
            Dispute.status,
            Dispute.amount_minor,
            Dispute.currency,
            Dispute.due_by,
            User.login,
        )
        .outerjoin(User, User.id == Dispute.assignee_id)
        .where(
            Dispute.status == "needs_response",
            Dispute.due_by >= now,
            Dispute.due_by < now + dt.timedelta(days=days),
        )
        .order_by(Dispute.due_by, Dispute.id)
    )
    if psps:
        q = q.where(func.lower(Dispute.psp).in_([p.lower() for p in psps]))
    rows = session.execute(q).all()
    if not rows:
        return empty_frame(DUE_COLUMNS)
    out = pd.DataFrame.from_records(
        [
            (*r[:8], int(r[8]), r[9], r[10], int((r[10] - now).total_seconds() // 3600), r[11])
            for r in rows
        ],
        columns=DUE_COLUMNS,
    )
    for col in ("network", "reason_code", "reason_category", "assignee"):
        out[col] = pd.Series([text_or_none(v) for v in out[col]], index=out.index, dtype=object)
    return out
