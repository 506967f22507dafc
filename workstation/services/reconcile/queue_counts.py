"""Facet counts of the open records: exact exception-queue counts for common filters, no scan.

Counting a million open records filtered by a column the open-records indexes do not hold
(currency, source, kind) reads every row: about a second on SQLite. The queue instead reads one
small table of counts per (state, source, currency, kind, booking day) once, in the background,
and answers `count(filters)` for filters made of those fields (plus age buckets and booking-date
ranges, which are ranges of days) by summing it. Filters on amounts, cases, assignees or text
return None: the caller counts in SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from .table_filters import AGE_BUCKETS, OPEN_STATES, ExceptionFilters, as_date

_SQL = (
    "SELECT match_state, source_id, currency, kind, CAST(booked_on AS TEXT), COUNT(*)"
    " FROM records WHERE match_state IN ('unmatched', 'suggested')"
    " GROUP BY match_state, source_id, currency, kind, booked_on"
)
_COLUMNS = ["state", "source_id", "currency", "kind", "booked_on", "n"]


@dataclass
class Facets:
    """Counts of open records by state, source, source kind, currency, kind and booking day."""

    frame: pd.DataFrame

    @property
    def total(self) -> int:
        return int(self.frame["n"].sum())

    def currencies(self) -> list[str]:
        return sorted(str(c) for c in self.frame["currency"].unique())

    def count(self, f: ExceptionFilters) -> int | None:
        """Rows `f` selects, or None when `f` filters on something the facets do not hold."""
        if (
            f.amount_min is not None
            or f.amount_max is not None
            or f.case_statuses
            or f.assignee is not None
            or (f.text and f.text.strip())
        ):
            return None
        states = tuple(f.states) or OPEN_STATES
        if not set(states) <= set(OPEN_STATES):
            return None
        df = self.frame
        keep = df["state"].isin(states).to_numpy(dtype=bool, copy=True)
        if f.source_kinds:
            keep &= df["source_kind"].isin(list(f.source_kinds)).to_numpy()
        if f.source_ids:
            keep &= df["source_id"].isin([int(i) for i in f.source_ids]).to_numpy()
        if f.currencies:
            keep &= df["currency"].isin([c.upper() for c in f.currencies]).to_numpy()
        if f.kinds:
            keep &= df["kind"].isin(list(f.kinds)).to_numpy()
        days = df["booked_on"].to_numpy()
        if f.age_bucket:
            if f.age_bucket not in AGE_BUCKETS:
                return None
            today = f.today or dt.date.today()
            lo, hi = AGE_BUCKETS[f.age_bucket]
            keep &= days <= np.datetime64(today - dt.timedelta(days=lo), "D")
            if hi is not None:
                keep &= days >= np.datetime64(today - dt.timedelta(days=hi), "D")
        if f.booked_from is not None:
            keep &= days >= np.datetime64(as_date(f.booked_from), "D")
        if f.booked_to is not None:
            keep &= days <= np.datetime64(as_date(f.booked_to), "D")
        return int(df["n"].to_numpy()[keep].sum())


def load_facets(session: Session) -> Facets:
    """Read the facet counts (one GROUP BY over the open records; run it in the background)."""
    rows = session.execute(text(_SQL)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=_COLUMNS)
    days = [str(d)[:10] for d in frame["booked_on"]]
    frame["booked_on"] = np.array(days, dtype="datetime64[D]")
    frame["source_id"] = frame["source_id"].astype(np.int64)
    kinds: dict[int, str] = {
        int(i): str(k) for i, k in session.execute(text("SELECT id, kind FROM sources"))
    }
    frame.insert(2, "source_kind", frame["source_id"].map(kinds).astype(object))
    frame["n"] = frame["n"].astype(np.int64)
    return Facets(frame)
