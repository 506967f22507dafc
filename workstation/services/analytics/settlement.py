"""Settlement metrics: days from capture to payout to bank credit per PSP, and PSP fee rates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import Match, MatchMember, Record, Source
from .cache import cached
from .measures import as_int64, empty_frame, ratio, weighted_median, weighted_percentile
from .networks import method_label, psp_name
from .periods import add_days
from .rollups import RECONCILED_STATES, as_date, chunked_frame, query_frame, rollup_frame

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
# Each lag: its column prefix, the day difference it reads, and whether it counts each payout
# once (payout to bank) or each charge.
LAGS = (
    ("capture_to_payout", "c2p", False),
    ("payout_to_bank", "p2b", True),
    ("capture_to_bank", "c2b", False),
)
FEE_COLUMNS = ["psp", "method", "currency", "transactions", "gross_minor", "fee_minor", "rate"]


# -- settlement lag ----------------------------------------------------------------------------


@cached("lag")
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
    horizon = add_days(date_to, LAG_LOOKAHEAD_DAYS)
    roll = rollup_frame(session, date_from, horizon, sources, psps)
    if roll.empty:
        return empty_frame(LAG_COLUMNS)
    roll = roll[(roll["source_kind"] == "psp") & (roll["payout_ref"] != "")]
    charges = roll[(roll["kind"] == "charge") & (roll["booked_on"] <= date_to)]
    charges = charges.groupby(
        ["source_id", "source", "provider", "payout_ref", "booked_on"], as_index=False, dropna=False
    )["n"].sum()
    if charges.empty:
        return empty_frame(LAG_COLUMNS)
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
    df["c2p"] = _days(df["booked_on"], df["payout_on"])
    df["c2b"] = _days(df["booked_on"], df["bank_on"])
    df["p2b"] = _days(df["payout_on"], df["bank_on"])
    rows = []
    for psp, g in df.groupby("psp", sort=True):
        per_payout = g.drop_duplicates(["source_id", "payout_ref"])
        row: dict[str, Any] = {
            "psp": psp,
            "charges": int(g["n"].sum()),
            "paid_out": int(g.loc[g["c2p"].notna(), "n"].sum()),
            "credited": int(g.loc[g["c2b"].notna(), "n"].sum()),
        }
        for name, col, once_per_payout in LAGS:
            frame = per_payout if once_per_payout else g
            ok = frame[col].notna().to_numpy()
            v = frame[col].to_numpy()[ok].astype(np.int64)
            w = np.ones(len(v), dtype=np.int64) if once_per_payout else frame["n"].to_numpy()[ok]
            row[f"{name}_median"] = weighted_median(v, w.astype(np.int64))
            row[f"{name}_p90"] = weighted_percentile(v, w.astype(np.int64), 90)
        rows.append(row)
    return pd.DataFrame(rows, columns=LAG_COLUMNS)


def _days(a: pd.Series, b: pd.Series) -> pd.Series:
    """Days from each date of `a` to the date of `b` in the same row (NaN where one is missing)."""
    return pd.Series(
        [
            (y - x).days if isinstance(x, dt.date) and isinstance(y, dt.date) else np.nan
            for x, y in zip(a, b)
        ],
        index=a.index,
        dtype="float64",
    )


def _bank_dates(session: Session, date_from: dt.date, date_to: dt.date) -> pd.DataFrame:
    """(source_id, payout_ref, bank_on) of payouts matched to a bank line booked in the window.

    Three small steps rather than one join: bank lines are few and matched records are most of
    the table, and a single join lets the planner start from every matched record.
    """
    cols = ["source_id", "payout_ref", "bank_on"]
    bank_sources = list(session.scalars(select(Source.id).where(Source.kind == "bank")))
    if not bank_sources:
        return empty_frame(cols)
    bank = query_frame(
        session,
        select(Record.id, Record.booked_on, Record.match_state).where(
            Record.source_id.in_(bank_sources),
            Record.booked_on >= date_from,
            Record.booked_on <= date_to,
        ),
        ["bank_id", "bank_on", "state"],
    )
    bank = bank[bank["state"].isin(RECONCILED_STATES)] if len(bank) else bank
    if bank.empty:
        return empty_frame(cols)
    # Each step is a primary-key or record-id lookup; joining matches by status here would let
    # the planner walk every auto/confirmed match instead.
    ids = [int(i) for i in bank["bank_id"]]
    members = chunked_frame(
        session,
        ids,
        lambda chunk: select(MatchMember.record_id, MatchMember.match_id).where(
            MatchMember.record_id.in_(chunk)
        ),
        ["bank_id", "match_id"],
    )
    if members.empty:
        return empty_frame(cols)
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
    matches = chunked_frame(
        session,
        sorted({int(m) for m in members["match_id"]}),
        lambda chunk: select(Match.id, Match.status, psp_member).where(Match.id.in_(chunk)),
        ["match_id", "status", "psp_id"],
    )
    matches = matches[matches["status"].isin(("auto", "confirmed"))].dropna()
    link = members.merge(matches[["match_id", "psp_id"]], on="match_id")
    if link.empty:
        return empty_frame(cols)
    refs = chunked_frame(
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


# -- fees --------------------------------------------------------------------------------------


@cached("fees")
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
    roll = rollup_frame(session, date_from, date_to, sources, psps)
    roll = roll[roll["source_kind"] == "psp"] if len(roll) else roll
    if roll.empty:
        return empty_frame(FEE_COLUMNS)
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
    out = as_int64(out, ("transactions", "gross_minor", "fee_minor"))
    out["rate"] = [
        ratio(f, g) if g > 0 else None for f, g in zip(out["fee_minor"], out["gross_minor"])
    ]
    out["_all"] = out["method"] == "all"
    out = out.sort_values(["psp", "currency", "_all", "method"]).drop(columns="_all")
    return out.reset_index(drop=True)[FEE_COLUMNS]
