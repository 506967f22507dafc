"""Headline numbers: the one value of each metric's table (match rate, open value, latest VAMP and
ECP, win rate, disputes due, fee rate, settlement lag), with a detail line and a drill filter.

Drill filters use the queue pages' vocabulary (see `charts`). The dashboard tiles and the
workbook's Summary sheet show these numbers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from ...money import format_minor
from .dispute_metrics import combine_currencies
from .measures import main_currency, ratio
from .periods import month_end
from .reading import Headline, Scope
from .scheme_ratios import EcpMonth, VampMonth


def period_filter(date_from: dt.date, date_to: dt.date, prefix: str) -> dict[str, str]:
    """`{prefix}_from` / `{prefix}_to` queue filters of an inclusive period."""
    return {f"{prefix}_from": date_from.isoformat(), f"{prefix}_to": date_to.isoformat()}


def month_filter(month: dt.date, network: str) -> dict[str, Any]:
    """Disputes queue filter: one network's disputes opened in `month`."""
    return {"network": network, **period_filter(month, month_end(month), "opened")}


def match_rate(mr: pd.DataFrame, scope: Scope) -> Headline:
    """Reconciled share of the period's lines (not ignored), by count over every currency."""
    rec, tot = (
        int(mr["reconciled"].sum()) if len(mr) else 0,
        int(mr["records"].sum()) if len(mr) else 0,
    )
    return Headline(
        "match_rate",
        "Match rate",
        ratio(rec, tot),
        "percent",
        detail=f"{rec:,} of {tot:,} lines reconciled",
        drill={
            "page": "exceptions",
            "filters": period_filter(scope.date_from, scope.date_to, "booked"),
        },
    )


def unmatched_value(ageing: pd.DataFrame, scope: Scope) -> Headline:
    """Open value in the main currency (the one with most open value), other currencies named."""
    cur = main_currency(ageing, "value_minor")
    if cur is None:
        return Headline("unmatched_value", "Open (unmatched) value", 0, "count", detail="none")
    part = ageing[ageing["currency"] == cur]
    others = sorted(set(ageing["currency"]) - {cur})
    return Headline(
        "unmatched_value",
        "Open (unmatched) value",
        int(part["value_minor"].sum()),
        "money",
        cur,
        detail=f"{int(part['records'].sum()):,} lines"
        + (f"; also in {', '.join(others)}" if others else ""),
        drill={"page": "exceptions", "filters": {"currency": cur}},
    )


def _scheme(
    key: str, label: str, network: str, last: VampMonth | EcpMonth, detail: str
) -> Headline:
    """A scheme ratio of the period's last month; the drill opens that month's disputes."""
    return Headline(
        key,
        f"{label} {last.month:%b %Y}",
        last.ratio,
        "percent",
        detail=detail,
        drill={"page": "disputes", "filters": month_filter(last.month, network)},
    )


def vamp(months: list[VampMonth], scope: Scope) -> Headline | None:
    """Visa VAMP of the period's last month."""
    if not months:
        return None
    m = months[-1]
    detail = f"{m.count:,} / {m.settled:,}; threshold {m.threshold:.1%}"
    return _scheme("vamp", "Visa VAMP", "visa", m, detail + ("; EXCESSIVE" if m.excessive else ""))


def ecp(months: list[EcpMonth], scope: Scope) -> Headline | None:
    """Mastercard ECP of the period's last month."""
    if not months:
        return None
    m = months[-1]
    detail = f"{m.chargebacks:,} / {m.prior_transactions:,} (prior month)"
    return _scheme(
        "ecp", "Mastercard ECP", "mastercard", m, detail + (f"; {m.level}" if m.level else "")
    )


def win_rate(by_category: pd.DataFrame, scope: Scope) -> Headline:
    """Won / (won + lost) of the disputes opened in the period, every currency."""
    comb = combine_currencies(by_category)
    won, lost = (int(comb["won"].sum()), int(comb["lost"].sum())) if len(comb) else (0, 0)
    return Headline(
        "win_rate",
        "Dispute win rate",
        ratio(won, won + lost),
        "percent",
        detail=f"{won:,} won, {lost:,} lost",
        drill={
            "page": "disputes",
            "filters": {
                **period_filter(scope.date_from, scope.date_to, "opened"),
                "status": ["won", "lost"],
            },
        },
    )


def due_7d(due: pd.DataFrame, scope: Scope) -> Headline:
    """Disputes due within 7 days, and the amount at risk in their main currency."""
    cur = main_currency(due.assign(_n=1), "_n") if len(due) else None
    at_risk = (
        format_minor(int(due.loc[due["currency"] == cur, "amount_minor"].sum()), cur, symbol=True)
        + " at risk"
        if cur
        else "nothing due"
    )
    return Headline(
        "due_7d",
        "Disputes due in 7 days",
        len(due),
        "count",
        cur,
        detail=at_risk,
        drill={"page": "disputes", "filters": {"due_within_days": 7}},
    )


def fees(fee: pd.DataFrame, scope: Scope) -> Headline | None:
    """Σ fees / Σ gross of the PSP lines in the main currency (most gross volume)."""
    if not len(fee):
        return None
    cur = main_currency(fee, "gross_minor")
    part = fee[fee["currency"] == cur]
    return Headline(
        "fees",
        "Effective PSP fee rate",
        ratio(int(part["fee_minor"].sum()), int(part["gross_minor"].sum())),
        "percent",
        cur,
        detail=f"fees on {cur} card volume",
    )


def lag(lags: pd.DataFrame, scope: Scope) -> Headline | None:
    """The slowest PSP's median days from capture to bank credit."""
    if not len(lags):
        return None
    medians = [x for x in lags["capture_to_bank_median"] if x is not None]
    return Headline(
        "lag",
        "Capture to bank (median days)",
        max(medians) if medians else None,
        "days",
        detail=f"slowest PSP median over {int(lags['charges'].sum()):,} charges",
    )
