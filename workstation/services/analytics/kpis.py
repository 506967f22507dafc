"""Management KPIs: reconciliation, ageing, settlement lag, fees, scheme ratios, disputes, work.

Every KPI takes `(session, date_from, date_to, ...)` with inclusive dates and optional filters,
and returns a small pandas DataFrame with the columns documented on the function (or a list of
dataclasses). Money stays exact: integer minor units in int64 columns next to a `currency` column,
never summed across currencies. Ratios are `Decimal` (None when the denominator is zero) and are
rounded only for display. Results are cached in-process per arguments and data version
(`rollups.data_version`), so a dashboard redraw costs a few indexed lookups.

Scheme monitoring follows ../shared/reference/formats_and_disputes.md, Part B4:
- Visa VAMP (per month): (TC40 fraud reports + TC15 disputes) / settled Visa CNP transactions of
  the same month. Excessive at >= 2.2 % for months before 2026-04-01 and >= 1.5 % from then, and
  only when the count is > 1,500.
- Mastercard ECP: chargebacks in month N / Mastercard transactions in month N-1. HECM at >= 300
  chargebacks and >= 3.0 %; ECM at >= 100 chargebacks and >= 1.5 % (that is the 100-299 band,
  plus merchants above 300 whose ratio is below the HECM 3 %).

How our data maps onto the scheme messages (documented choices):
- TC15 dispute / Mastercard chargeback: a dispute row whose stage is not `inquiry` (one row per
  case; pre-arbitration and arbitration are later stages of the same case and count once).
- TC40 fraud report: a dispute row whose `psp_reason` is Adyen's `NOTIFICATION_OF_FRAUD`, or an
  inquiry (retrieval / Stripe early warning) in the `fraud` reason category. A fraud report and
  a dispute on the same charge both count, as the VAMP formula says.
- The month of a dispute is the month it was opened (`opened_at`, else `created_at`), in UTC.
- Settled transactions: PSP records of kind `charge` booked in the month whose payment method
  (raw `card_brand` / `Payment Method` / ...) names the network; charges without a reported
  method cannot be attributed and are not counted (see `transactions_unattributed`). PSP card
  traffic is taken as card-not-present.
- Not modelled: RDR / Order Insight exclusions, CE 3.0 TC40 exclusions, the 3-D Secure share of
  EFM.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ...models import Dispute, ExceptionCase, Match, MatchMember, Record, Source, User
from ...money import format_minor
from . import rollups
from .rollups import OPEN_STATES, as_date, freeze

T = TypeVar("T")

# -- constants ---------------------------------------------------------------------------------

AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-2", 0, 2),
    ("3-7", 3, 7),
    ("8-30", 8, 30),
    (">30", 31, None),
)
VAMP_CHANGE_DATE = dt.date(2026, 4, 1)
VAMP_THRESHOLD_BEFORE = Decimal("0.022")
VAMP_THRESHOLD_FROM_CHANGE = Decimal("0.015")
VAMP_MIN_COUNT = 1500  # the program applies only when fraud + disputes exceed this
ECM_MIN_COUNT = 100
ECM_RATIO = Decimal("0.015")
HECM_MIN_COUNT = 300
HECM_RATIO = Decimal("0.03")
EFM_MIN_PRIOR_TRANSACTIONS = 1000
EFM_MIN_FRAUD_USD_MINOR = 5_000_000  # USD 50,000.00
EFM_FRAUD_RATIO = Decimal("0.005")
MC_FRAUD_CODES = ("4837", "4863")
OPEN_DISPUTE_STATUSES = ("needs_response", "under_review")
CLOSED_DISPUTE_STATUSES = ("won", "lost", "accepted", "expired")
FRAUD_REPORT_REASON = "NOTIFICATION_OF_FRAUD"
GRAINS = ("day", "week", "month")
_BPS = Decimal(10_000)

# -- small helpers -----------------------------------------------------------------------------


def ratio(num: int | Decimal, den: int | Decimal) -> Decimal | None:
    """Exact num / den as Decimal; None when the denominator is zero."""
    if not den:
        return None
    return Decimal(int(num) if isinstance(num, int | np.integer) else num) / Decimal(
        int(den) if isinstance(den, int | np.integer) else den
    )


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """First day of the month `months` after `day`'s month."""
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(y, m + 1, 1)


def month_end(day: dt.date) -> dt.date:
    return add_months(day, 1) - dt.timedelta(days=1)


def months(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    """First days of the months touching [date_from, date_to]."""
    out, cur = [], month_start(date_from)
    while cur <= date_to:
        out.append(cur)
        cur = add_months(cur, 1)
    return out


def period_start(day: dt.date, grain: str) -> dt.date:
    """Start of the day / ISO week (Monday) / month containing `day`."""
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return month_start(day)
    raise ValueError(f"unknown grain {grain!r}; use one of {GRAINS}")


def auto_grain(date_from: dt.date, date_to: dt.date) -> str:
    """A grain giving a readable number of points for a time series over the period."""
    days = (date_to - date_from).days + 1
    return "day" if days <= 62 else "week" if days <= 366 else "month"


def age_bucket(days: int) -> str | None:
    """Name of the age bucket of an item `days` old (None for a future date)."""
    for name, lo, hi in AGE_BUCKETS:
        if days >= lo and (hi is None or days <= hi):
            return name
    return None


def bucket_bounds(name: str) -> tuple[int, int | None]:
    """Inclusive age bounds in days of a bucket name ("8-30" -> (8, 30), ">30" -> (31, None))."""
    for b, lo, hi in AGE_BUCKETS:
        if b == name:
            return lo, hi
    raise ValueError(f"unknown age bucket {name!r}")


def normalise_network(value: str | None) -> str | None:
    """Card network of a network name or payment method (visa, mastercard, amex, discover)."""
    if not value:
        return None
    v = "".join(ch for ch in str(value).lower() if ch.isalnum())
    if v.startswith("visa") or v in ("electron", "vpay"):
        return "visa"
    if v.startswith(("mastercard", "mc")) or v in ("master", "maestro"):
        return "mastercard" if v != "maestro" else "maestro"
    if v.startswith(("amex", "americanexpress")):
        return "amex"
    if v.startswith("discover"):
        return "discover"
    if v in ("jcb", "diners", "dinersclub", "unionpay", "cup", "cartesbancaires", "cb"):
        return v
    return None


def method_label(method: str) -> str:
    """Display name of a raw payment method: the card network if it is one, else as reported."""
    if not method:
        return "all"
    return normalise_network(method) or method


def text_or_none(value: Any) -> str | None:
    """A frame cell as text; None for NULL (pandas turns NULLs in text columns into NaN)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


def psp_name(provider: Any, source: str) -> str:
    return (text_or_none(provider) or "").lower() or source


def _day_bounds(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    lo = dt.datetime.combine(date_from, dt.time(), dt.UTC)
    hi = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), dt.UTC)
    return lo, hi


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


# -- cache plumbing ----------------------------------------------------------------------------

_VERSION: contextvars.ContextVar[tuple[int, Any] | None] = contextvars.ContextVar(
    "kpi_version", default=None
)


@contextmanager
def pinned_version(session: Session) -> Iterator[Any]:
    """Compute the data version once for several KPI calls (a dashboard refresh)."""
    version = rollups.data_version(session)
    token = _VERSION.set((id(session), version))
    try:
        yield version
    finally:
        _VERSION.reset(token)


def _cached(session: Session, name: str, params: tuple[Any, ...], compute: Callable[[], T]) -> T:
    pinned = _VERSION.get()
    if pinned is not None and pinned[0] == id(session):
        version = pinned[1]
    else:
        version = rollups.data_version(session)
    key = (rollups.database_key(session), name, tuple(freeze(p) for p in params))
    return rollups.CACHE.get_or_compute(key, version, compute)


def _rollups(
    session: Session,
    date_from: dt.date | None,
    date_to: dt.date | None,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
) -> pd.DataFrame:
    """`rollups.rollup_frame`, shared by every KPI of a refresh (callers copy before changing)."""
    return _cached(
        session,
        "rollups",
        (date_from, date_to, sources, psps),
        lambda: rollups.rollup_frame(session, date_from, date_to, sources=sources, psps=psps),
    ).copy()


def _open_states(
    session: Session,
    date_from: dt.date | None,
    date_to: dt.date | None,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
) -> pd.DataFrame:
    """`rollups.open_state_frame` for the not-reconciled states, shared and copied likewise."""
    # One read of every open line up to `date_to` serves the period (match rate) and all
    # history (ageing): open lines are few, and the index walk costs the same either way.
    df = _cached(
        session,
        "open_states",
        (date_to, sources, psps),
        lambda: rollups.open_state_frame(session, None, date_to, sources=sources, psps=psps),
    )
    if date_from is not None and len(df):
        df = df[df["booked_on"] >= date_from]
    return df.copy()


def clear_cache() -> None:
    """Forget every cached KPI result (tests; after changes made outside the audit trail)."""
    rollups.CACHE.clear()


# -- weighted statistics -----------------------------------------------------------------------


def weighted_median(values: np.ndarray, weights: np.ndarray) -> Decimal | None:
    """Median of `values` each repeated `weights` times (mean of the two middle ones if even)."""
    v, w = _sorted_weights(values, weights)
    total = int(w.sum())
    if total == 0:
        return None
    cum = np.cumsum(w)
    lo = Decimal(int(v[np.searchsorted(cum, (total + 1) // 2)]))
    hi = Decimal(int(v[np.searchsorted(cum, total // 2 + 1)]))
    return (lo + hi) / 2 if total % 2 == 0 else lo


def weighted_percentile(values: np.ndarray, weights: np.ndarray, pct: int) -> Decimal | None:
    """Nearest-rank percentile: smallest value with at least `pct` % of the weight at or below."""
    v, w = _sorted_weights(values, weights)
    total = int(w.sum())
    if total == 0:
        return None
    rank = max(1, -(-pct * total // 100))  # ceil(pct/100 * total)
    return Decimal(int(v[np.searchsorted(np.cumsum(w), rank)]))


def _sorted_weights(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=np.int64)
    w = np.asarray(weights, dtype=np.int64)
    keep = w > 0
    v, w = v[keep], w[keep]
    order = np.argsort(v, kind="stable")
    return v[order], w[order]


# -- reconciliation ----------------------------------------------------------------------------

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

    Reconciled = records whose state is matched or written off; open = unmatched or suggested;
    ignored records are out of scope (in neither). Value is Σ|amount| (credits and debits both
    need reconciling).

    Returns:
        one row per (period, source, currency): period (date: first day of the day/week/month),
        source, source_kind, currency, records, reconciled, open (ints), count_rate (Decimal),
        value_minor, reconciled_minor, open_minor (int minor units), value_rate (Decimal).
    """
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}; use one of {GRAINS}")
    return _cached(
        session,
        "match_rate",
        (date_from, date_to, grain, sources, psps),
        lambda: _match_rate(session, date_from, date_to, grain, sources, psps),
    )


def _match_rate(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    grain: str,
    sources: Collection[str] | None,
    psps: Collection[str] | None,
) -> pd.DataFrame:
    roll = _rollups(session, date_from, date_to, sources, psps)
    live = _open_states(session, date_from, date_to, sources, psps)
    if roll.empty:
        return _empty(MATCH_RATE_COLUMNS)
    keys = ["period", "source", "source_kind", "currency"]
    roll["period"] = [period_start(d, grain) for d in roll["booked_on"]]
    tot = roll.groupby(keys, as_index=False)[["n", "abs_minor"]].sum()
    if live.empty:
        tot["ign_n"] = tot["open_n"] = 0
        tot["ign_v"] = tot["open_v"] = 0
    else:
        live["period"] = [period_start(d, grain) for d in live["booked_on"]]
        live["is_open"] = live["match_state"].isin(OPEN_STATES)
        live["open_n"] = live["n"].where(live["is_open"], 0)
        live["open_v"] = live["abs_minor"].where(live["is_open"], 0)
        live["ign_n"] = live["n"].where(~live["is_open"], 0)
        live["ign_v"] = live["abs_minor"].where(~live["is_open"], 0)
        agg = live.groupby(keys, as_index=False)[["open_n", "open_v", "ign_n", "ign_v"]].sum()
        tot = tot.merge(agg, on=keys, how="left")
        for c in ("open_n", "open_v", "ign_n", "ign_v"):
            tot[c] = tot[c].fillna(0).astype("int64")
    out = pd.DataFrame(
        {
            "period": tot["period"],
            "source": tot["source"],
            "source_kind": tot["source_kind"],
            "currency": tot["currency"],
            "records": (tot["n"] - tot["ign_n"]).astype("int64"),
            "open": tot["open_n"].astype("int64"),
            "value_minor": (tot["abs_minor"] - tot["ign_v"]).astype("int64"),
            "open_minor": tot["open_v"].astype("int64"),
        }
    )
    out["reconciled"] = out["records"] - out["open"]
    out["reconciled_minor"] = out["value_minor"] - out["open_minor"]
    out["count_rate"] = [ratio(a, b) for a, b in zip(out["reconciled"], out["records"])]
    out["value_rate"] = [ratio(a, b) for a, b in zip(out["reconciled_minor"], out["value_minor"])]
    out = out[out["records"] > 0]
    return out.sort_values(["period", "source", "currency"]).reset_index(drop=True)[
        MATCH_RATE_COLUMNS
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
    return _cached(
        session,
        "ageing",
        (date_from, date_to, as_of, sources, psps),
        lambda: _ageing(session, date_from, date_to, as_of or date_to, sources, psps),
    )


def _ageing(
    session: Session,
    date_from: dt.date | None,
    date_to: dt.date,
    as_of: dt.date,
    sources: Collection[str] | None,
    psps: Collection[str] | None,
) -> pd.DataFrame:
    upto = min(date_to, as_of)
    live = _open_states(session, date_from, upto, sources, psps)
    live = live[live["match_state"].isin(OPEN_STATES)] if len(live) else live
    if live.empty:
        return _empty(AGEING_COLUMNS)
    age = np.array([(as_of - d).days for d in live["booked_on"]], dtype=np.int64)
    live["bucket"] = [age_bucket(int(a)) for a in age]
    live = live[live["bucket"].notna()]
    out = live.groupby(["source", "source_kind", "currency", "bucket"], as_index=False).agg(
        records=("n", "sum"), value_minor=("abs_minor", "sum"), net_minor=("amount_minor", "sum")
    )
    order = {b[0]: i for i, b in enumerate(AGE_BUCKETS)}
    out["_o"] = out["bucket"].map(order)
    out = out.sort_values(["source", "currency", "_o"]).drop(columns="_o").reset_index(drop=True)
    for c in ("records", "value_minor", "net_minor"):
        out[c] = out[c].astype("int64")
    return out[AGEING_COLUMNS]


# -- settlement lag ----------------------------------------------------------------------------

LAG_COLUMNS = [
    "psp",
    "charges",
    "paid_out",
    "credited",
    "capture_to_payout_median",
    "capture_to_payout_p90",
    "payout_to_bank_median",
    "payout_to_bank_p90",
    "capture_to_bank_median",
    "capture_to_bank_p90",
]
LAG_LOOKAHEAD_DAYS = 60  # payouts and bank credits of the period's charges may come later


def settlement_lag(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    *,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
) -> pd.DataFrame:
    """Days from capture to payout to bank credit, per PSP, for charges booked in the period.

    Capture = the PSP charge line's booking date; payout = the booking date of the PSP's payout
    line with the charge's payout id; bank credit = the booking date of the bank line in an
    auto or confirmed match with that payout (its payout line or its charges). Capture-based
    lags count each charge; payout-to-bank counts each payout once.

    Returns:
        one row per PSP (provider, else source name): psp, charges (with a payout id), paid_out
        (charges whose payout line is known), credited (charges whose payout reached the bank),
        and median / p90 (nearest rank) days as Decimal (None when unknown) for
        capture_to_payout, payout_to_bank and capture_to_bank.
    """
    return _cached(
        session,
        "lag",
        (date_from, date_to, sources, psps),
        lambda: _settlement_lag(session, date_from, date_to, sources, psps),
    )


def _bank_dates(session: Session, date_from: dt.date, date_to: dt.date) -> pd.DataFrame:
    """(source_id, payout_ref, bank_on) of payouts matched to a bank line booked in the window.

    Three small steps rather than one join: bank lines are few and matched records are most of
    the table, and a single join lets the planner start from every matched record.
    """
    cols = ["source_id", "payout_ref", "bank_on"]
    bank_sources = list(session.scalars(select(Source.id).where(Source.kind == "bank")))
    if not bank_sources:
        return _empty(cols)
    bank = rollups.query_frame(
        session,
        select(Record.id, Record.booked_on, Record.match_state).where(
            Record.source_id.in_(bank_sources),
            Record.booked_on >= date_from,
            Record.booked_on <= date_to,
        ),
        ["bank_id", "bank_on", "state"],
    )
    bank = bank[bank["state"].isin(rollups.RECONCILED_STATES)] if len(bank) else bank
    if bank.empty:
        return _empty(cols)
    # Each step is a primary-key or record-id lookup; joining matches by status here would let
    # the planner walk every auto/confirmed match instead.
    ids = [int(i) for i in bank["bank_id"]]
    members = _chunked(
        session,
        ids,
        lambda chunk: select(MatchMember.record_id, MatchMember.match_id).where(
            MatchMember.record_id.in_(chunk)
        ),
        ["bank_id", "match_id"],
    )
    if members.empty:
        return _empty(cols)
    mp = MatchMember.__table__.alias("mp")
    rp = Record.__table__.alias("rp")
    psp_member = (
        select(mp.c.record_id)
        .join(rp, rp.c.id == mp.c.record_id)
        .where(mp.c.match_id == Match.id, rp.c.payout_ref.is_not(None), rp.c.payout_ref != "")
        .limit(1)
        .correlate(Match)
        .scalar_subquery()
    )
    matches = _chunked(
        session,
        sorted({int(m) for m in members["match_id"]}),
        lambda chunk: select(Match.id, Match.status, psp_member).where(Match.id.in_(chunk)),
        ["match_id", "status", "psp_id"],
    )
    matches = matches[matches["status"].isin(("auto", "confirmed"))].dropna()
    link = members.merge(matches[["match_id", "psp_id"]], on="match_id")
    if link.empty:
        return _empty(cols)
    refs = _chunked(
        session,
        sorted({int(v) for v in link["psp_id"]}),
        lambda chunk: select(Record.id, Record.source_id, Record.payout_ref).where(
            Record.id.in_(chunk)
        ),
        ["psp_id", "source_id", "payout_ref"],
    )
    link = link.astype({"bank_id": "int64", "psp_id": "int64"})
    refs = refs.astype({"psp_id": "int64", "source_id": "int64"})
    bank = bank.astype({"bank_id": "int64"})
    df = link.merge(bank[["bank_id", "bank_on"]], on="bank_id").merge(refs, on="psp_id")
    df["bank_on"] = [as_date(v) for v in df["bank_on"]]
    return df.groupby(["source_id", "payout_ref"], as_index=False)["bank_on"].min()[cols]


def _chunked(
    session: Session,
    ids: list[int],
    query: Callable[[list[int]], Any],
    columns: list[str],
    size: int = 500,
) -> pd.DataFrame:
    """`query(chunk)` over `ids` in chunks (bounded IN lists), concatenated."""
    parts = [
        rollups.query_frame(session, query(ids[i : i + size]), columns)
        for i in range(0, len(ids), size)
    ]
    return pd.concat(parts, ignore_index=True) if parts else _empty(columns)


def _settlement_lag(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    sources: Collection[str] | None,
    psps: Collection[str] | None,
) -> pd.DataFrame:
    horizon = date_to + dt.timedelta(days=LAG_LOOKAHEAD_DAYS)
    roll = _rollups(session, date_from, horizon, sources, psps)
    if roll.empty:
        return _empty(LAG_COLUMNS)
    roll = roll[(roll["source_kind"] == "psp") & (roll["payout_ref"] != "")]
    charges = roll[(roll["kind"] == "charge") & (roll["booked_on"] <= date_to)]
    charges = charges.groupby(
        ["source_id", "source", "provider", "payout_ref", "booked_on"], as_index=False, dropna=False
    )["n"].sum()
    if charges.empty:
        return _empty(LAG_COLUMNS)
    payouts = (
        roll[roll["kind"] == "payout"]
        .groupby(["source_id", "payout_ref"], as_index=False)["booked_on"]
        .min()
        .rename(columns={"booked_on": "payout_on"})
    )
    bank = _bank_dates(session, date_from, horizon)
    df = charges.merge(payouts, on=["source_id", "payout_ref"], how="left")
    df = df.merge(bank, on=["source_id", "payout_ref"], how="left")
    df["psp"] = [psp_name(p, s) for p, s in zip(df["provider"], df["source"])]

    def days(a: pd.Series, b: pd.Series) -> pd.Series:
        return pd.Series(
            [
                (y - x).days if isinstance(x, dt.date) and isinstance(y, dt.date) else np.nan
                for x, y in zip(a, b)
            ],
            index=a.index,
            dtype="float64",
        )

    df["c2p"] = days(df["booked_on"], df["payout_on"])
    df["c2b"] = days(df["booked_on"], df["bank_on"])
    df["p2b"] = days(df["payout_on"], df["bank_on"])
    rows = []
    for psp, g in df.groupby("psp", sort=True):
        per_payout = g.drop_duplicates(["source_id", "payout_ref"])
        row: dict[str, Any] = {
            "psp": psp,
            "charges": int(g["n"].sum()),
            "paid_out": int(g.loc[g["c2p"].notna(), "n"].sum()),
            "credited": int(g.loc[g["c2b"].notna(), "n"].sum()),
        }
        for col, frame, weight in (
            ("capture_to_payout", g, g["n"]),
            ("payout_to_bank", per_payout, pd.Series(1, index=per_payout.index)),
            ("capture_to_bank", g, g["n"]),
        ):
            short = {"capture_to_payout": "c2p", "payout_to_bank": "p2b", "capture_to_bank": "c2b"}
            vals = frame[short[col]]
            ok = vals.notna().to_numpy()
            v = vals.to_numpy()[ok].astype(np.int64)
            w = weight.to_numpy()[ok].astype(np.int64)
            row[f"{col}_median"] = weighted_median(v, w)
            row[f"{col}_p90"] = weighted_percentile(v, w, 90)
        rows.append(row)
    return pd.DataFrame(rows, columns=LAG_COLUMNS)


# -- fees --------------------------------------------------------------------------------------

FEE_COLUMNS = ["psp", "method", "currency", "transactions", "gross_minor", "fee_minor", "rate"]


def fees(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    *,
    by_method: bool = True,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
) -> pd.DataFrame:
    """PSP fees as an effective rate Σfee / Σgross, by PSP and payment method.

    Σfee = the fee of every PSP line in the period (the per-line fee column; a fee line with no
    fee column counts its amount); Σgross = the amounts of the charges. The method is the card
    network or payment method the PSP reports for the line, "all" when it reports none (fee lines
    never carry one, so with `by_method` they form the PSP's "all" row).

    Returns:
        one row per (psp, method, currency): psp, method, currency, transactions (charges),
        gross_minor, fee_minor (int minor units), rate (Decimal, None without charges).
    """
    return _cached(
        session,
        "fees",
        (date_from, date_to, by_method, sources, psps),
        lambda: _fees(session, date_from, date_to, by_method, sources, psps),
    )


def _fees(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    by_method: bool,
    sources: Collection[str] | None,
    psps: Collection[str] | None,
) -> pd.DataFrame:
    roll = _rollups(session, date_from, date_to, sources, psps)
    roll = roll[roll["source_kind"] == "psp"] if len(roll) else roll
    if roll.empty:
        return _empty(FEE_COLUMNS)
    roll = roll.copy()
    roll["psp"] = [psp_name(p, s) for p, s in zip(roll["provider"], roll["source"])]
    roll["method"] = [method_label(m) for m in roll["method"]] if by_method else "all"
    is_charge = roll["kind"] == "charge"
    roll["transactions"] = roll["n"].where(is_charge, 0)
    roll["gross_minor"] = roll["amount_minor"].where(is_charge, 0)
    out = roll.groupby(["psp", "method", "currency"], as_index=False)[
        ["transactions", "gross_minor", "fee_minor"]
    ].sum()
    out = out[(out["transactions"] > 0) | (out["fee_minor"] != 0)]
    for c in ("transactions", "gross_minor", "fee_minor"):
        out[c] = out[c].astype("int64")
    out["rate"] = [
        ratio(f, g) if g > 0 else None for f, g in zip(out["fee_minor"], out["gross_minor"])
    ]
    out["_all"] = out["method"] == "all"
    out = out.sort_values(["psp", "currency", "_all", "method"]).drop(columns="_all")
    return out.reset_index(drop=True)[FEE_COLUMNS]


# -- scheme monitoring -------------------------------------------------------------------------


def vamp_threshold(month: dt.date) -> Decimal:
    """Visa VAMP merchant "excessive" ratio for a month: 2.2 %, 1.5 % from 2026-04-01."""
    return VAMP_THRESHOLD_FROM_CHANGE if month >= VAMP_CHANGE_DATE else VAMP_THRESHOLD_BEFORE


@dataclass(frozen=True)
class VampAssessment:
    """VAMP arithmetic of one month."""

    count: int
    ratio: Decimal | None
    threshold: Decimal
    applies: bool  # count > 1,500
    excessive: bool


def assess_vamp(month: dt.date, fraud_reports: int, disputes: int, settled: int) -> VampAssessment:
    """VAMP ratio = (TC40 + TC15) / settled CNP transactions of the same month, and the verdict."""
    count = fraud_reports + disputes
    r = ratio(count, settled)
    threshold = vamp_threshold(month)
    applies = count > VAMP_MIN_COUNT
    return VampAssessment(
        count, r, threshold, applies, applies and r is not None and r >= threshold
    )


@dataclass(frozen=True)
class EcpAssessment:
    """Mastercard ECP arithmetic of one month."""

    ratio: Decimal | None
    basis_points: Decimal | None
    level: str | None  # "HECM", "ECM" or None


def assess_ecp(chargebacks: int, prior_month_transactions: int) -> EcpAssessment:
    """ECP ratio = chargebacks in month N / transactions in month N-1, and the program level."""
    r = ratio(chargebacks, prior_month_transactions)
    level = None
    if r is not None:
        if chargebacks >= HECM_MIN_COUNT and r >= HECM_RATIO:
            level = "HECM"
        elif chargebacks >= ECM_MIN_COUNT and r >= ECM_RATIO:
            level = "ECM"
    return EcpAssessment(r, None if r is None else r * _BPS, level)


@dataclass(frozen=True)
class VampMonth:
    """Visa VAMP for one month (counts, and amounts in `amount_currency`)."""

    month: dt.date
    fraud_reports: int
    disputes: int
    count: int
    settled: int
    ratio: Decimal | None
    threshold: Decimal
    applies: bool
    excessive: bool
    amount_currency: str | None
    disputed_minor: int
    settled_minor: int
    amount_ratio: Decimal | None
    transactions_unattributed: int  # PSP charges of the month with no reported network


@dataclass(frozen=True)
class EcpMonth:
    """Mastercard ECP (and EFM indicators) for one month."""

    month: dt.date
    chargebacks: int
    prior_month: dt.date
    prior_transactions: int
    ratio: Decimal | None
    basis_points: Decimal | None
    level: str | None
    amount_currency: str | None
    chargeback_minor: int
    prior_minor: int
    amount_ratio: Decimal | None
    fraud_chargebacks: int
    fraud_minor: int
    fraud_amount_ratio: Decimal | None
    efm_candidate: bool | None  # None: amounts are not in USD, the $50,000 test cannot be made
    transactions_unattributed: int


@dataclass
class SchemeData:
    """Inputs of the scheme ratios, per month: disputes by class and charges by network."""

    disputes: pd.DataFrame  # month, network, cls (tc40|tc15|inquiry), fraud, currency, n, minor
    charges: pd.DataFrame  # month, network, currency, n, minor
    amount_currency: str | None
    unattributed: dict[dt.date, int] = field(default_factory=dict)


def dispute_class(stage: str | None, psp_reason: str | None, category: str | None) -> str:
    """tc40 (fraud report), tc15 (dispute / chargeback) or inquiry — see the module docstring."""
    if (psp_reason or "").strip().upper() == FRAUD_REPORT_REASON:
        return "tc40"
    if (stage or "") == "inquiry":
        return "tc40" if (category or "").lower() == "fraud" else "inquiry"
    return "tc15"


def _scheme_data(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    psps: Collection[str] | None,
    currency: str | None,
) -> SchemeData:
    first = add_months(date_from, -1)
    last = month_end(date_to)
    month_list = months(date_from, date_to)
    lo, hi = _day_bounds(month_list[0], last)
    opened = func.coalesce(Dispute.opened_at, Dispute.created_at)
    # Month, class and fraud flag are computed by the database, which returns a handful of
    # groups instead of every dispute (the same rules as `dispute_class`, in SQL).
    month_idx = case(
        *[(opened < _day_bounds(m, m)[0] + _month_delta(m), i) for i, m in enumerate(month_list)],
        else_=len(month_list) - 1,
    )
    category = func.lower(func.coalesce(Dispute.reason_category, ""))
    cls = case(
        (func.upper(func.coalesce(Dispute.psp_reason, "")) == FRAUD_REPORT_REASON, "tc40"),
        (and_(Dispute.stage == "inquiry", category == "fraud"), "tc40"),
        (Dispute.stage == "inquiry", "inquiry"),
        else_="tc15",
    )
    fraud = case((or_(category == "fraud", Dispute.reason_code.in_(MC_FRAUD_CODES)), 1), else_=0)
    q = (
        select(
            month_idx,
            Dispute.network,
            cls,
            fraud,
            Dispute.currency,
            func.count(),
            func.sum(Dispute.amount_minor),
        )
        .where(opened >= lo, opened < hi)
        .group_by(month_idx, Dispute.network, cls, fraud, Dispute.currency)
    )
    if psps:
        q = q.where(func.lower(Dispute.psp).in_([p.lower() for p in psps]))
    cols = ["month", "network", "cls", "fraud", "currency", "n", "minor"]
    d = rollups.query_frame(session, q, cols)
    if len(d):
        d["month"] = [month_list[int(i)] for i in d["month"]]
        d["network"] = _map_unique(d["network"], lambda v: normalise_network(text_or_none(v)))
        d["fraud"] = d["fraud"].astype(bool)
        d["n"] = d["n"].astype("int64")
        d["minor"] = d["minor"].astype("int64")
        d = d.groupby(
            ["month", "network", "cls", "fraud", "currency"], as_index=False, dropna=False
        )[["n", "minor"]].sum()
    roll = _rollups(session, first, last, None, psps)
    unattributed: dict[dt.date, int] = {}
    if len(roll):
        roll = roll[(roll["kind"] == "charge") & (roll["source_kind"] == "psp")].copy()
        roll["month"] = [month_start(v) for v in roll["booked_on"]]
        roll["network"] = [normalise_network(text_or_none(m)) for m in roll["method"]]
        unknown = roll[roll["network"].isna()]
        unattributed = {k: int(v) for k, v in unknown.groupby("month")["n"].sum().items()}
        c = (
            roll[roll["network"].notna()]
            .groupby(["month", "network", "currency"], as_index=False)
            .agg(n=("n", "sum"), minor=("amount_minor", "sum"))
        )
    else:
        c = pd.DataFrame(columns=["month", "network", "currency", "n", "minor"])
    if currency is None and len(c):
        by_cur = c.groupby("currency")["n"].sum()
        top = by_cur.max()
        currency = sorted(k for k, v in by_cur.items() if v == top)[0]
    elif currency is None and len(d):
        currency = str(d["currency"].mode().sort_values().iloc[0])
    return SchemeData(d, c, currency, unattributed)


def _scheme(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    psps: Collection[str] | None,
    currency: str | None,
) -> SchemeData:
    """`_scheme_data`, computed once for VAMP and ECP of the same months."""
    return _cached(
        session,
        "scheme_data",
        (date_from, date_to, psps, currency),
        lambda: _scheme_data(session, date_from, date_to, psps, currency),
    )


def _month_delta(month: dt.date) -> dt.timedelta:
    return add_months(month, 1) - month


def _map_unique(values: pd.Series, fn: Callable[[Any], Any]) -> list[Any]:
    """`fn` applied once per distinct value (columns repeat a few values many times)."""
    cache: dict[Any, Any] = {}
    out = []
    for v in values:
        key = None if v is None or (isinstance(v, float) and v != v) else v
        if key not in cache:
            cache[key] = fn(key)
        out.append(cache[key])
    return out


def _sum(df: pd.DataFrame, col: str, **eq: Any) -> int:
    if df.empty:
        return 0
    mask = np.ones(len(df), dtype=bool)
    for k, v in eq.items():
        mask &= (df[k] == v).to_numpy()
    return int(df.loc[mask, col].sum())


def vamp(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    *,
    psps: Collection[str] | None = None,
    currency: str | None = None,
) -> list[VampMonth]:
    """Visa VAMP per month of [date_from, date_to] (see the module docstring for the mapping).

    Amount fields use `currency` (default: the currency of most card charges in the window) and
    leave other currencies out.
    """
    return _cached(
        session,
        "vamp",
        (date_from, date_to, psps, currency),
        lambda: _vamp(_scheme(session, date_from, date_to, psps, currency), date_from, date_to),
    )


def _vamp(data: SchemeData, date_from: dt.date, date_to: dt.date) -> list[VampMonth]:
    out = []
    d, c, cur = data.disputes, data.charges, data.amount_currency
    for m in months(date_from, date_to):
        tc40 = _sum(d, "n", month=m, network="visa", cls="tc40")
        tc15 = _sum(d, "n", month=m, network="visa", cls="tc15")
        settled = _sum(c, "n", month=m, network="visa")
        a = assess_vamp(m, tc40, tc15, settled)
        disputed_minor = _sum(d, "minor", month=m, network="visa", cls="tc40", currency=cur)
        disputed_minor += _sum(d, "minor", month=m, network="visa", cls="tc15", currency=cur)
        settled_minor = _sum(c, "minor", month=m, network="visa", currency=cur)
        out.append(
            VampMonth(
                month=m,
                fraud_reports=tc40,
                disputes=tc15,
                count=a.count,
                settled=settled,
                ratio=a.ratio,
                threshold=a.threshold,
                applies=a.applies,
                excessive=a.excessive,
                amount_currency=cur,
                disputed_minor=disputed_minor,
                settled_minor=settled_minor,
                amount_ratio=ratio(disputed_minor, settled_minor),
                transactions_unattributed=data.unattributed.get(m, 0),
            )
        )
    return out


def ecp(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    *,
    psps: Collection[str] | None = None,
    currency: str | None = None,
) -> list[EcpMonth]:
    """Mastercard ECP per month of [date_from, date_to], with the prior-month denominator.

    EFM indicators: fraud chargebacks (category fraud or 4837/4863), their amount and the
    fraud-to-sales amount ratio against the prior month; `efm_candidate` is True when the prior
    month had >= 1,000 transactions, fraud chargebacks reach USD 50,000 and the amount ratio is
    >= 0.50 % (the 3-D Secure share, also an EFM criterion, is not known here).
    """
    return _cached(
        session,
        "ecp",
        (date_from, date_to, psps, currency),
        lambda: _ecp(_scheme(session, date_from, date_to, psps, currency), date_from, date_to),
    )


def _ecp(data: SchemeData, date_from: dt.date, date_to: dt.date) -> list[EcpMonth]:
    out = []
    d, c, cur = data.disputes, data.charges, data.amount_currency
    mc = d[(d["network"] == "mastercard") & (d["cls"] != "inquiry")] if len(d) else d
    mc = mc[mc["cls"] == "tc15"] if len(mc) else mc  # fraud notifications are not chargebacks
    for m in months(date_from, date_to):
        prior = add_months(m, -1)
        cbs = _sum(mc, "n", month=m)
        prior_tx = _sum(c, "n", month=prior, network="mastercard")
        a = assess_ecp(cbs, prior_tx)
        cb_minor = _sum(mc, "minor", month=m, currency=cur)
        prior_minor = _sum(c, "minor", month=prior, network="mastercard", currency=cur)
        fraud = mc[mc["fraud"].astype(bool)] if len(mc) else mc
        fraud_n = _sum(fraud, "n", month=m)
        fraud_minor = _sum(fraud, "minor", month=m, currency=cur)
        fraud_ratio = ratio(fraud_minor, prior_minor)
        efm: bool | None = None
        if cur == "USD":
            efm = (
                prior_tx >= EFM_MIN_PRIOR_TRANSACTIONS
                and fraud_minor >= EFM_MIN_FRAUD_USD_MINOR
                and fraud_ratio is not None
                and fraud_ratio >= EFM_FRAUD_RATIO
            )
        out.append(
            EcpMonth(
                month=m,
                chargebacks=cbs,
                prior_month=prior,
                prior_transactions=prior_tx,
                ratio=a.ratio,
                basis_points=a.basis_points,
                level=a.level,
                amount_currency=cur,
                chargeback_minor=cb_minor,
                prior_minor=prior_minor,
                amount_ratio=ratio(cb_minor, prior_minor),
                fraud_chargebacks=fraud_n,
                fraud_minor=fraud_minor,
                fraud_amount_ratio=fraud_ratio,
                efm_candidate=efm,
                transactions_unattributed=data.unattributed.get(prior, 0),
            )
        )
    return out


# -- disputes ----------------------------------------------------------------------------------

DISPUTE_DIMENSIONS = ("reason_category", "network", "psp")
DISPUTE_STATS_COLUMNS = [
    "key",
    "currency",
    "disputes",
    "open",
    "won",
    "lost",
    "accepted",
    "expired",
    "win_rate",
    "disputed_minor",
    "closed_minor",
    "won_minor",
    "recovery_rate",
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
    return _cached(
        session,
        "dispute_stats",
        (date_from, date_to, by, psps, networks),
        lambda: _dispute_stats(session, date_from, date_to, by, psps, networks),
    )


def _dispute_groups(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    psps: Collection[str] | None,
) -> pd.DataFrame:
    """Disputes opened in the period, counted and summed by psp, network, category, status and
    currency in SQL (shared by the three `dispute_stats` dimensions)."""
    lo, hi = _day_bounds(date_from, date_to)
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
    d = rollups.query_frame(session, q, cols)
    if len(d):
        d["network"] = _map_unique(
            d["network"], lambda t: normalise_network(t) or (str(t).lower() if t else None)
        )
        d["n"] = d["n"].astype("int64")
        d["amount_minor"] = d["amount_minor"].astype("int64")
    return d


def _dispute_stats(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    by: str,
    psps: Collection[str] | None,
    networks: Collection[str] | None,
) -> pd.DataFrame:
    d = _cached(
        session,
        "dispute_groups",
        (date_from, date_to, psps),
        lambda: _dispute_groups(session, date_from, date_to, psps),
    ).copy()
    if d.empty:
        return _empty(DISPUTE_STATS_COLUMNS)
    if networks:
        wanted = {normalise_network(n) or n.lower() for n in networks}
        d = d[d["network"].isin(wanted)].copy()
    d["key"] = [text_or_none(v) or "unknown" for v in d[by]]
    st = d["status"]
    n = d["n"]
    d["disputes"] = n
    d["open"] = n.where(st.isin(OPEN_DISPUTE_STATUSES), 0)
    for name in ("won", "lost", "accepted", "expired"):
        d[name] = n.where(st == name, 0)
    d["closed_minor"] = d["amount_minor"].where(st.isin(CLOSED_DISPUTE_STATUSES), 0)
    d["won_minor"] = d["amount_minor"].where(st == "won", 0)
    out = d.groupby(["key", "currency"], as_index=False)[
        [
            "disputes",
            "open",
            "won",
            "lost",
            "accepted",
            "expired",
            "amount_minor",
            "closed_minor",
            "won_minor",
        ]
    ].sum()
    out = out.rename(columns={"amount_minor": "disputed_minor"})
    out["win_rate"] = [ratio(w, w + lo) for w, lo in zip(out["won"], out["lost"])]
    out["recovery_rate"] = [ratio(w, c) for w, c in zip(out["won_minor"], out["closed_minor"])]
    for col in DISPUTE_STATS_COLUMNS:
        if col not in ("key", "currency", "win_rate", "recovery_rate"):
            out[col] = out[col].astype("int64")
    return out.sort_values(["key", "currency"]).reset_index(drop=True)[DISPUTE_STATS_COLUMNS]


def combine_currencies(stats: pd.DataFrame) -> pd.DataFrame:
    """`dispute_stats` rows summed over currencies: counts and win_rate per key (no amounts)."""
    cols = ["key", "disputes", "open", "won", "lost", "accepted", "expired", "win_rate"]
    if stats.empty:
        return _empty(cols)
    g = stats.groupby("key", as_index=False)[
        ["disputes", "open", "won", "lost", "accepted", "expired"]
    ].sum()
    g["win_rate"] = [ratio(w, w + lo) for w, lo in zip(g["won"], g["lost"])]
    return g[cols]


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
    return _cached(
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
        return _empty(DUE_COLUMNS)
    out = pd.DataFrame.from_records(
        [
            (
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                int(r[8]),
                r[9],
                r[10],
                int((r[10] - now).total_seconds() // 3600),
                r[11],
            )
            for r in rows
        ],
        columns=DUE_COLUMNS,
    )
    for col in ("network", "reason_code", "reason_category", "assignee"):
        out[col] = pd.Series([text_or_none(v) for v in out[col]], index=out.index, dtype=object)
    return out


# -- work throughput ---------------------------------------------------------------------------

THROUGHPUT_COLUMNS = ["assignee", "resolved", "days", "per_day", "reopened", "reopen_rate"]


def agent_throughput(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
) -> pd.DataFrame:
    """Exception cases resolved per day per assignee, and the reopen rate.

    resolved = cases whose last resolution (`resolved_at`) falls in the period and that are still
    resolved; reopened = those of them that were reopened at least once before (`reopen_count`,
    kept by the case workflow, which also writes each step to the audit log); per_day = resolved
    / calendar days of the period; reopen_rate = reopened / resolved.

    Returns:
        one row per assignee ("unassigned" for none), most resolved first: assignee, resolved,
        days, reopened (ints), per_day, reopen_rate (Decimal).
    """
    return _cached(
        session,
        "throughput",
        (date_from, date_to),
        lambda: _throughput(session, date_from, date_to),
    )


def _throughput(session: Session, date_from: dt.date, date_to: dt.date) -> pd.DataFrame:
    lo, hi = _day_bounds(date_from, date_to)
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
        return _empty(THROUGHPUT_COLUMNS)
    days = (date_to - date_from).days + 1
    out = pd.DataFrame.from_records(
        [(login or "unassigned", int(n), days, int(re or 0)) for login, n, re in rows],
        columns=["assignee", "resolved", "days", "reopened"],
    )
    out = out.groupby("assignee", as_index=False)[["resolved", "reopened"]].sum()
    out["days"] = days
    out["per_day"] = [ratio(int(n), days) for n in out["resolved"]]
    out["reopen_rate"] = [ratio(r, n) for r, n in zip(out["reopened"], out["resolved"])]
    out = out.sort_values(["resolved", "assignee"], ascending=[False, True])
    return out.reset_index(drop=True)[THROUGHPUT_COLUMNS]


# -- headline numbers and the dashboard bundle ---------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """A tile: a number, its kind (percent, money, count, days, text) and an optional drill."""

    key: str
    label: str
    value: Decimal | int | str | None
    kind: str
    currency: str | None = None
    detail: str = ""
    drill: dict[str, Any] | None = None


@dataclass
class Dashboard:
    """Every KPI the dashboard shows, for one period and filter set."""

    date_from: dt.date
    date_to: dt.date
    as_of: dt.date
    match_rate: pd.DataFrame
    match_rate_series: pd.DataFrame
    ageing: pd.DataFrame
    lag: pd.DataFrame
    fees: pd.DataFrame
    vamp: list[VampMonth]
    ecp: list[EcpMonth]
    disputes_by_category: pd.DataFrame
    disputes_by_network: pd.DataFrame
    disputes_by_psp: pd.DataFrame
    due: pd.DataFrame
    throughput: pd.DataFrame
    headlines: list[Headline]


def dashboard(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    *,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
) -> Dashboard:
    """All dashboard KPIs for the period (one data-version check for the lot)."""
    as_of = as_of or date_to
    with pinned_version(session):
        grain = auto_grain(date_from, date_to)
        mr = match_rate(session, date_from, date_to, grain="month", sources=sources, psps=psps)
        series = match_rate(session, date_from, date_to, grain=grain, sources=sources, psps=psps)
        ageing = unmatched_ageing(session, None, date_to, as_of=as_of, sources=sources, psps=psps)
        lag = settlement_lag(session, date_from, date_to, sources=sources, psps=psps)
        fee = fees(session, date_from, date_to, by_method=True, sources=sources, psps=psps)
        v = vamp(session, date_from, date_to, psps=psps)
        e = ecp(session, date_from, date_to, psps=psps)
        by_cat = dispute_stats(session, date_from, date_to, by="reason_category", psps=psps)
        by_net = dispute_stats(session, date_from, date_to, by="network", psps=psps)
        by_psp = dispute_stats(session, date_from, date_to, by="psp", psps=psps)
        due = disputes_due(session, as_of=now, psps=psps)
        work = agent_throughput(session, date_from, date_to)
    heads = headlines(mr, ageing, lag, fee, v, e, by_cat, due, date_from, date_to)
    return Dashboard(
        date_from,
        date_to,
        as_of,
        mr,
        series,
        ageing,
        lag,
        fee,
        v,
        e,
        by_cat,
        by_net,
        by_psp,
        due,
        work,
        heads,
    )


def _main_currency(frames: list[tuple[pd.DataFrame, str]]) -> str | None:
    for df, col in frames:
        if len(df) and "currency" in df.columns:
            g = df.groupby("currency")[col].sum()
            top = g.max()
            return str(sorted(k for k, v in g.items() if v == top)[0])
    return None


def headlines(
    mr: pd.DataFrame,
    ageing: pd.DataFrame,
    lag: pd.DataFrame,
    fee: pd.DataFrame,
    v: list[VampMonth],
    e: list[EcpMonth],
    by_cat: pd.DataFrame,
    due: pd.DataFrame,
    date_from: dt.date,
    date_to: dt.date,
) -> list[Headline]:
    """The tiles: match rate, open value, latest VAMP/ECP, win rate, due soon, fees, lag."""
    out: list[Headline] = []
    period = {"booked_from": date_from.isoformat(), "booked_to": date_to.isoformat()}
    rec, tot = (
        int(mr["reconciled"].sum()) if len(mr) else 0,
        int(mr["records"].sum()) if len(mr) else 0,
    )
    out.append(
        Headline(
            "match_rate",
            "Match rate",
            ratio(rec, tot),
            "percent",
            detail=f"{rec:,} of {tot:,} lines reconciled",
            drill={"page": "exceptions", "filters": dict(period)},
        )
    )
    cur = _main_currency([(ageing, "value_minor")])
    if cur is not None:
        part = ageing[ageing["currency"] == cur]
        others = sorted(set(ageing["currency"]) - {cur})
        out.append(
            Headline(
                "unmatched_value",
                "Open (unmatched) value",
                int(part["value_minor"].sum()),
                "money",
                cur,
                detail=f"{int(part['records'].sum()):,} lines"
                + (f"; also in {', '.join(others)}" if others else ""),
                drill={"page": "exceptions", "filters": {"currency": cur}},
            )
        )
    else:
        out.append(Headline("unmatched_value", "Open (unmatched) value", 0, "count", detail="none"))
    if v:
        last = v[-1]
        out.append(
            Headline(
                "vamp",
                f"Visa VAMP {last.month:%b %Y}",
                last.ratio,
                "percent",
                detail=f"{last.count:,} / {last.settled:,}; threshold {last.threshold:.1%}"
                + ("; EXCESSIVE" if last.excessive else ""),
                drill={"page": "disputes", "filters": _month_filter(last.month, "visa")},
            )
        )
    if e:
        last_e = e[-1]
        out.append(
            Headline(
                "ecp",
                f"Mastercard ECP {last_e.month:%b %Y}",
                last_e.ratio,
                "percent",
                detail=f"{last_e.chargebacks:,} / {last_e.prior_transactions:,} (prior month)"
                + (f"; {last_e.level}" if last_e.level else ""),
                drill={"page": "disputes", "filters": _month_filter(last_e.month, "mastercard")},
            )
        )
    comb = combine_currencies(by_cat)
    won, lost = (int(comb["won"].sum()), int(comb["lost"].sum())) if len(comb) else (0, 0)
    out.append(
        Headline(
            "win_rate",
            "Dispute win rate",
            ratio(won, won + lost),
            "percent",
            detail=f"{won:,} won, {lost:,} lost",
            drill={
                "page": "disputes",
                "filters": {
                    "opened_from": date_from.isoformat(),
                    "opened_to": date_to.isoformat(),
                    "status": ["won", "lost"],
                },
            },
        )
    )
    due_cur = _main_currency([(due.assign(_n=1), "_n")]) if len(due) else None
    out.append(
        Headline(
            "due_7d",
            "Disputes due in 7 days",
            len(due),
            "count",
            due_cur,
            detail=(
                format_minor(
                    int(due.loc[due["currency"] == due_cur, "amount_minor"].sum()),
                    due_cur,
                    symbol=True,
                )
                + " at risk"
                if due_cur
                else "nothing due"
            ),
            drill={"page": "disputes", "filters": {"due_within_days": 7}},
        )
    )
    if len(fee):
        fcur = _main_currency([(fee, "gross_minor")])
        f = fee[fee["currency"] == fcur]
        g, fsum = int(f["gross_minor"].sum()), int(f["fee_minor"].sum())
        out.append(
            Headline(
                "fees",
                "Effective PSP fee rate",
                ratio(fsum, g),
                "percent",
                fcur,
                detail=f"fees on {fcur} card volume",
            )
        )
    if len(lag):
        n = lag["charges"].to_numpy()
        med = [x for x in lag["capture_to_bank_median"] if x is not None]
        out.append(
            Headline(
                "lag",
                "Capture to bank (median days)",
                max(med) if med else None,
                "days",
                detail=f"slowest PSP median over {int(n.sum()):,} charges",
            )
        )
    return out


def _month_filter(month: dt.date, network: str) -> dict[str, Any]:
    return {
        "network": network,
        "opened_from": month.isoformat(),
        "opened_to": month_end(month).isoformat(),
    }


SPILLOVER_SHARE = Decimal("0.1")


def default_period(session: Session, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The calendar month of the latest booked records (this month when there are none).

    A month's payouts and bank credits spill a few days into the next month; when the latest
    month holds less than a tenth of the lines of the month before, that earlier month is the
    one being worked on.
    """
    span = rollups.data_span(session)
    if span is None:
        last = today or dt.date.today()
        return month_start(last), month_end(last)
    last = month_start(span[1])
    prev = add_months(last, -1)
    roll = _rollups(session, prev, month_end(last))
    if len(roll):
        starts = pd.Series([month_start(d) for d in roll["booked_on"]], index=roll.index)
        n_last = int(roll.loc[starts == last, "n"].sum())
        n_prev = int(roll.loc[starts == prev, "n"].sum())
        if n_prev and Decimal(n_last) < SPILLOVER_SHARE * n_prev:
            last = prev
    return last, month_end(last)


def vamp_frame(rows: list[VampMonth]) -> pd.DataFrame:
    """`vamp` result as a DataFrame (one row per month, the dataclass fields as columns)."""
    return pd.DataFrame([r.__dict__ for r in rows])


def ecp_frame(rows: list[EcpMonth]) -> pd.DataFrame:
    """`ecp` result as a DataFrame (one row per month, the dataclass fields as columns)."""
    return pd.DataFrame([r.__dict__ for r in rows])


__all__ = [
    "AGE_BUCKETS",
    "Dashboard",
    "EcpAssessment",
    "EcpMonth",
    "Headline",
    "VampAssessment",
    "VampMonth",
    "agent_throughput",
    "assess_ecp",
    "assess_vamp",
    "clear_cache",
    "dashboard",
    "default_period",
    "dispute_stats",
    "disputes_due",
    "ecp",
    "fees",
    "match_rate",
    "settlement_lag",
    "unmatched_ageing",
    "vamp",
    "vamp_threshold",
]
