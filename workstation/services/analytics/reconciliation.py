"""Reconciliation metrics: match rate by count and value, and the ageing of open lines.

Reconciled = records whose state is matched or written off; open = unmatched or suggested;
ignored records are out of scope (in neither). Value is Σ|amount| (credits and debits both need
reconciling), exact in minor units per currency.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from .cache import cached
from .measures import as_int64, empty_frame, ratios
from .periods import AGE_BUCKETS, age_bucket, check_grain, period_start
from .rollups import OPEN_STATES, open_state_frame, rollup_frame

MATCH_RATE_COLUMNS = [
    "period",
    "source",
    "source_kind",
    "currency",
    "records",
    "reconciled",
    "open",
    "count_rate",
    "value_minor",
    "reconciled_minor",
    "open_minor",
    "value_rate",
]
AGEING_COLUMNS = [
    "source",
    "source_kind",
    "currency",
    "bucket",
    "records",
    "value_minor",
    "net_minor",
]
_KEYS = ["period", "source", "source_kind", "currency"]
_LIVE = ["open_n", "open_v", "ign_n", "ign_v"]


@cached("match_rate")
def match_rate(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    *,
    grain: str = "month",
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
) -> pd.DataFrame:
    """Reconciliation match rate by source and period, by count and by value.

    Returns:
        one row per (period, source, currency): period (date: first day of the day/week/month),
        source, source_kind, currency, records, reconciled, open (ints), count_rate (Decimal),
        value_minor, reconciled_minor, open_minor (int minor units), value_rate (Decimal).
    """
    check_grain(grain)
    roll = rollup_frame(session, date_from, date_to, sources, psps)
    live = open_state_frame(session, date_from, date_to, sources, psps)
    if roll.empty:
        return empty_frame(MATCH_RATE_COLUMNS)
    roll["period"] = [period_start(d, grain) for d in roll["booked_on"]]
    tot = roll.groupby(_KEYS, as_index=False)[["n", "abs_minor"]].sum()
    if live.empty:
        for c in _LIVE:
            tot[c] = 0
    else:
        live["period"] = [period_start(d, grain) for d in live["booked_on"]]
        is_open = live["match_state"].isin(OPEN_STATES)
        for c, col, keep in (
            ("open_n", "n", is_open),
            ("open_v", "abs_minor", is_open),
            ("ign_n", "n", ~is_open),
            ("ign_v", "abs_minor", ~is_open),
        ):
            live[c] = live[col].where(keep, 0)
        agg = live.groupby(_KEYS, as_index=False)[_LIVE].sum()
        tot = tot.merge(agg, on=_KEYS, how="left")
        for c in _LIVE:
            tot[c] = tot[c].fillna(0).astype("int64")
    out = tot[_KEYS].copy()
    out["records"] = (tot["n"] - tot["ign_n"]).astype("int64")
    out["open"] = tot["open_n"].astype("int64")
    out["value_minor"] = (tot["abs_minor"] - tot["ign_v"]).astype("int64")
    out["open_minor"] = tot["open_v"].astype("int64")
    out["reconciled"] = out["records"] - out["open"]
    out["reconciled_minor"] = out["value_minor"] - out["open_minor"]
    out["count_rate"] = ratios(out["reconciled"], out["records"])
    out["value_rate"] = ratios(out["reconciled_minor"], out["value_minor"])
    out = out[out["records"] > 0]
    return out.sort_values(["period", "source", "currency"]).reset_index(drop=True)[
        MATCH_RATE_COLUMNS
    ]


@cached("ageing")
def unmatched_ageing(
    session: Session,
    date_from: dt.date | None,
    date_to: dt.date,
    *,
    as_of: dt.date | None = None,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
) -> pd.DataFrame:
    """Open (unmatched or suggested) records by age bucket 0-2, 3-7, 8-30, >30 days.

    Age is `as_of` (default `date_to`) minus the booking date, in days; records booked after
    `as_of` are left out. `date_from=None` takes all history.

    Returns:
        one row per (source, currency, bucket) with open records, in bucket order: source,
        source_kind, currency, bucket, records (int), value_minor (Σ|amount|), net_minor
        (Σ amount, signed).
    """
    as_of = as_of or date_to
    live = open_state_frame(session, date_from, min(date_to, as_of), sources, psps)
    live = live[live["match_state"].isin(OPEN_STATES)] if len(live) else live
    if live.empty:
        return empty_frame(AGEING_COLUMNS)
    age = np.array([(as_of - d).days for d in live["booked_on"]], dtype=np.int64)
    live["bucket"] = [age_bucket(int(a)) for a in age]
    live = live[live["bucket"].notna()]
    out = live.groupby(["source", "source_kind", "currency", "bucket"], as_index=False).agg(
        records=("n", "sum"), value_minor=("abs_minor", "sum"), net_minor=("amount_minor", "sum")
    )
    order = {b[0]: i for i, b in enumerate(AGE_BUCKETS)}
    out["_o"] = out["bucket"].map(order)
    out = out.sort_values(["source", "currency", "_o"]).drop(columns="_o").reset_index(drop=True)
    return as_int64(out, ("records", "value_minor", "net_minor"))[AGEING_COLUMNS]
