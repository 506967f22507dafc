"""Work throughput: exception cases resolved per day per assignee, and how many were reopened."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ...models import ExceptionCase, User
from .cache import cached
from .measures import empty_frame, ratio, ratios
from .periods import day_bounds

THROUGHPUT_COLUMNS = ["assignee", "resolved", "days", "per_day", "reopened", "reopen_rate"]


@cached("throughput")
def agent_throughput(session: Session, date_from: dt.date, date_to: dt.date) -> pd.DataFrame:
    """Exception cases resolved per day per assignee, and the reopen rate.

    resolved = cases whose last resolution (`resolved_at`) falls in the period and that are still
    resolved; reopened = those of them that were reopened at least once before (`reopen_count`,
    kept by the case workflow, which also writes each step to the audit log); per_day = resolved
    / calendar days of the period; reopen_rate = reopened / resolved.

    Returns:
        one row per assignee ("unassigned" for none), most resolved first: assignee, resolved,
        days, reopened (ints), per_day, reopen_rate (Decimal).
    """
    lo, hi = day_bounds(date_from, date_to)
    q = (
        select(
            User.login,
            func.count(),
            func.sum(case((ExceptionCase.reopen_count > 0, 1), else_=0)),
        )
        .select_from(ExceptionCase)
        .outerjoin(User, User.id == ExceptionCase.assignee_id)
        .where(
            ExceptionCase.status == "resolved",
            ExceptionCase.resolved_at >= lo,
            ExceptionCase.resolved_at < hi,
        )
        .group_by(User.login)
    )
    rows = session.execute(q).all()
    if not rows:
        return empty_frame(THROUGHPUT_COLUMNS)
    days = (date_to - date_from).days + 1
    out = pd.DataFrame.from_records(
        [(login or "unassigned", int(n), days, int(re or 0)) for login, n, re in rows],
        columns=["assignee", "resolved", "days", "reopened"],
    )
    out = out.groupby("assignee", as_index=False)[["resolved", "reopened"]].sum()
    out["days"] = days
    out["per_day"] = [ratio(int(n), days) for n in out["resolved"]]
    out["reopen_rate"] = ratios(out["reopened"], out["resolved"])
    out = out.sort_values(["resolved", "assignee"], ascending=[False, True])
    return out.reset_index(drop=True)[THROUGHPUT_COLUMNS]
