"""Dashboard chart data by name: series, exact hover labels and the queue filter behind each point.

Each chart is built from a `Reader` (the catalogue's metrics for one scope), never from the
store. No plotting here: `views.charts.render.build_plot` draws a `ChartData` with pyqtgraph (the
dashboard page and `workstation chart NAME --out FILE` share it). Values are exact Decimals
(ratios as fractions, money in major units); `labels` carry the exact text a hover shows; `drill`
says which queue rows are behind a point: `{"page": "exceptions", "filters": {...}}` with filter
names the queue pages understand:
- exceptions: source, currency, age_bucket ("0-2", "3-7", "8-30", ">30"), booked_from, booked_to
  (ISO dates), state;
- disputes: network (visa, mastercard, ...), reason_category, psp, status (list),
  opened_from, opened_to (ISO dates), due_within_days;
- matches: psp, booked_from, booked_to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from ...money import exponent, format_minor, from_minor
from .dispute_metrics import combine_currencies
from .headlines import month_filter, period_filter
from .measures import ratio
from .periods import auto_grain, bucket_names, period_end, trend_start
from .reading import Reader

Drill = dict[str, Any] | None


@dataclass
class Series:
    """One plotted series: a value, a hover label and a drill filter per x position."""

    name: str
    values: list[Decimal | None]
    labels: list[str]
    drill: list[dict[str, Any] | None]
    style: str = "line"  # line, bar, threshold


@dataclass
class ChartData:
    """Everything needed to draw one chart (and nothing about how)."""

    name: str
    title: str
    kind: str  # timeseries, bars, stacked_bars
    x: list[Any]  # dates (timeseries) or category keys (bars)
    x_labels: list[str]
    y_label: str
    y_format: str  # percent, money, count
    series: list[Series]
    currency: str | None = None
    note: str = ""
    period: tuple[dt.date, dt.date] | None = None

    def is_empty(self) -> bool:
        return not any(
            v is not None for s in self.series if s.style != "threshold" for v in s.values
        )


@dataclass(frozen=True)
class ChartSpec:
    """A dashboard chart: its name, title, one-line description and how it is built."""

    name: str
    title: str
    description: str
    build: Callable[[Reader], ChartData] = field(repr=False)


def fmt_percent(value: Decimal | None, places: int = 2) -> str:
    """Display text of a ratio as a percentage ("1.23 %"); rounding happens only here."""
    if value is None:
        return "n/a"
    q = Decimal(1).scaleb(-places)
    return f"{(value * 100).quantize(q):,} %"


def minor_decimals(currency: str | None) -> int:
    """Decimals to show for amounts of `currency` (2 when mixed or unknown)."""
    return exponent(currency) if currency else 2


def _points(
    name: str, points: list[tuple[Decimal | None, str, Drill]], style: str = "line"
) -> Series:
    """A series from (value, hover label, drill) per x position."""
    return Series(
        name, [p[0] for p in points], [p[1] for p in points], [p[2] for p in points], style
    )


def _threshold(name: str, values: list[Decimal | None], labels: list[str]) -> Series:
    """A dashed limit line: no drill behind its points."""
    return Series(name, values, labels, [None for _ in values], "threshold")


# -- chargeback ratio ------------------------------------------------------------------------


def _chargeback_ratio(read: Reader) -> ChartData:
    lo, hi = read.scope.date_from, read.scope.date_to
    trend = read.scope.between(trend_start(lo, hi), hi)
    v, e = read("vamp", trend), read("ecp", trend)
    vamp_limit = read.thresholds("vamp")[0]
    vamp_s = _points(
        "Visa VAMP",
        [
            (
                m.ratio,
                f"Visa VAMP {m.month:%b %Y}: {fmt_percent(m.ratio, 3)} = ({m.fraud_reports:,} "
                f"fraud reports + {m.disputes:,} disputes) / {m.settled:,} settled"
                + ("; EXCESSIVE" if m.excessive else ""),
                {"page": "disputes", "filters": month_filter(m.month, "visa")},
            )
            for m in v
        ],
    )
    ecp_s = _points(
        "Mastercard ECP",
        [
            (
                m.ratio,
                f"Mastercard ECP {m.month:%b %Y}: {fmt_percent(m.ratio, 3)} = {m.chargebacks:,} "
                f"chargebacks / {m.prior_transactions:,} transactions in {m.prior_month:%b %Y}"
                + (f"; {m.level}" if m.level else ""),
                {"page": "disputes", "filters": month_filter(m.month, "mastercard")},
            )
            for m in e
        ],
    )
    vamp_t = _threshold(
        "VAMP threshold",
        [m.threshold for m in v],
        [
            f"VAMP excessive threshold {m.month:%b %Y}: {fmt_percent(m.threshold, 1)} "
            f"(applies above {vamp_limit.min_count:,} fraud reports + disputes)"
            for m in v
        ],
    )
    levels = [
        _threshold(
            t.label,
            [t.at(m.month) for m in e],
            [f"Mastercard {t.name}: >= {t.min_count} chargebacks and >= {fmt_percent(t.ratio, 1)}"]
            * len(e),
        )
        for t in read.thresholds("ecp")
    ]
    return ChartData(
        name="chargeback_ratio",
        title="Chargeback ratios (Visa VAMP, Mastercard ECP)",
        kind="timeseries",
        x=[m.month for m in v],
        x_labels=[f"{m.month:%b %Y}" for m in v],
        y_label="ratio",
        y_format="percent",
        series=[vamp_s, ecp_s, vamp_t, *levels],
        note="VAMP: same-month denominator; ECP: prior-month denominator",
        period=(trend.date_from, hi),
    )


# -- win rate by reason category --------------------------------------------------------------


def _win_rate_by_category(read: Reader) -> ChartData:
    stats = combine_currencies(read("win_rate", by="reason_category"))
    opened = period_filter(read.scope.date_from, read.scope.date_to, "opened")
    keys = [str(k) for k in stats["key"]]
    points: list[tuple[Decimal | None, str, Drill]] = [
        (
            r,
            f"{k}: win rate {fmt_percent(r, 1)} ({int(w):,} won / {int(w) + int(lo):,} decided; "
            f"{int(n):,} disputes)",
            {
                "page": "disputes",
                "filters": {"reason_category": k, "status": ["won", "lost"], **opened},
            },
        )
        for k, r, w, lo, n in zip(
            keys, stats["win_rate"], stats["won"], stats["lost"], stats["disputes"]
        )
    ]
    return ChartData(
        name="win_rate_by_category",
        title="Dispute win rate by reason category",
        kind="bars",
        x=keys,
        x_labels=[k.replace("_", " ") for k in keys],
        y_label="win rate (won / (won + lost))",
        y_format="percent",
        series=[_points("Win rate", points, "bar")],
        period=(read.scope.date_from, read.scope.date_to),
    )


# -- unmatched ageing ---------------------------------------------------------------------------


def _unmatched_ageing(read: Reader) -> ChartData:
    df = read("unmatched_value")
    buckets = bucket_names()
    currencies = sorted(set(df["currency"])) if len(df) else []
    series = []
    for (source, cur), part in df.groupby(["source", "currency"], sort=True):
        by_bucket = {r.bucket: r for r in part.itertuples()}
        points: list[tuple[Decimal | None, str, Drill]] = []
        for b in buckets:
            r = by_bucket.get(b)
            minor = int(r.value_minor) if r is not None else 0
            n = int(r.records) if r is not None else 0
            points.append(
                (
                    from_minor(minor, str(cur)),
                    f"{source}, {b} days: {format_minor(minor, str(cur), symbol=True)} open "
                    f"({n:,} lines)",
                    {
                        "page": "exceptions",
                        "filters": {"age_bucket": b, "source": str(source), "currency": str(cur)},
                    },
                )
            )
        name = f"{source} ({cur})" if len(currencies) > 1 else str(source)
        series.append(_points(name, points, "bar"))
    return ChartData(
        name="unmatched_ageing",
        title="Unmatched value by age",
        kind="stacked_bars",
        x=buckets,
        x_labels=[f"{b} days" for b in buckets],
        y_label="open value" + (f" ({currencies[0]})" if len(currencies) == 1 else ""),
        y_format="money",
        series=series,
        currency=currencies[0] if len(currencies) == 1 else None,
        note="" if len(currencies) <= 1 else "mixed currencies: bars stack unconverted amounts",
        period=(read.scope.date_from, read.scope.date_to),
    )


# -- match rate over time -------------------------------------------------------------------------


def _match_rate(read: Reader) -> ChartData:
    date_from, date_to = read.scope.date_from, read.scope.date_to
    grain = auto_grain(date_from, date_to)
    df = read("match_rate", grain=grain)
    periods = sorted(set(df["period"])) if len(df) else []

    def line(part: pd.DataFrame, who: str, filters: dict[str, Any]) -> Series:
        points: list[tuple[Decimal | None, str, Drill]] = []
        for p in periods:
            rows = part[part["period"] == p]
            rec, tot = int(rows["reconciled"].sum()), int(rows["records"].sum())
            r = ratio(rec, tot)
            lo, hi = max(p, date_from), min(period_end(p, grain), date_to)
            when = f"{lo}" if lo == hi else f"{lo} to {hi}"
            drill = {**filters, **period_filter(lo, hi, "booked")}
            label = f"{who}, {when}: {fmt_percent(r, 2)} ({rec:,} of {tot:,} lines reconciled)"
            points.append((r, label, {"page": "exceptions", "filters": drill}))
        return _points(who, points)

    series = [
        line(part, str(source), {"source": str(source)})
        for source, part in df.groupby("source", sort=True)
    ]
    if len(series) > 1:
        series.append(line(df, "All sources", {}))
    return ChartData(
        name="match_rate",
        title=f"Match rate by {grain}",
        kind="timeseries",
        x=periods,
        x_labels=[p.isoformat() for p in periods],
        y_label="reconciled lines",
        y_format="percent",
        series=series,
        period=(date_from, date_to),
    )


# -- fees by PSP -----------------------------------------------------------------------------------


def _fees_by_psp(read: Reader) -> ChartData:
    df = read("fees", by_method=False)
    df = df[df["gross_minor"] > 0] if len(df) else df
    multi = len(set(df["currency"])) > 1 if len(df) else False
    booked = period_filter(read.scope.date_from, read.scope.date_to, "booked")
    keys: list[str] = []
    points: list[tuple[Decimal | None, str, Drill]] = []
    for r in df.itertuples():
        key = f"{r.psp} ({r.currency})" if multi else str(r.psp)
        keys.append(key)
        cur = str(r.currency)
        points.append(
            (
                r.rate,
                f"{key}: effective fee rate {fmt_percent(r.rate, 3)} "
                f"({format_minor(int(r.fee_minor), cur, symbol=True)} fees on "
                f"{format_minor(int(r.gross_minor), cur, symbol=True)} gross, "
                f"{int(r.transactions):,} charges)",
                {"page": "matches", "filters": {"psp": str(r.psp), **booked}},
            )
        )
    return ChartData(
        name="fees_by_psp",
        title="Effective PSP fee rate",
        kind="bars",
        x=keys,
        x_labels=keys,
        y_label="fees / gross",
        y_format="percent",
        series=[_points("Fee rate", points, "bar")],
        period=(read.scope.date_from, read.scope.date_to),
    )


CHARTS: dict[str, ChartSpec] = {
    s.name: s
    for s in (
        ChartSpec(
            "chargeback_ratio",
            "Chargeback ratios",
            "Visa VAMP and Mastercard ECP per month with their thresholds",
            _chargeback_ratio,
        ),
        ChartSpec(
            "win_rate_by_category",
            "Win rate by reason category",
            "Dispute win rate (won / decided) per reason category",
            _win_rate_by_category,
        ),
        ChartSpec(
            "unmatched_ageing",
            "Unmatched ageing",
            "Open unmatched value by age bucket, stacked by source",
            _unmatched_ageing,
        ),
        ChartSpec(
            "match_rate", "Match rate", "Share of reconciled lines over time by source", _match_rate
        ),
        ChartSpec(
            "fees_by_psp", "Fees by PSP", "Effective fee rate (fees / gross) per PSP", _fees_by_psp
        ),
    )
}
