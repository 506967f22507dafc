"""Dashboard chart data by name: series, exact hover labels and the queue filter behind each point.

No plotting here: `views.charts.render.build_plot` draws a `ChartData` with pyqtgraph (the
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
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from ...errors import UserError
from ...money import exponent, format_minor, from_minor
from . import kpis


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
    """A registered dashboard chart."""

    name: str
    title: str
    description: str
    build: Callable[..., ChartData] = field(repr=False)


def fmt_percent(value: Decimal | None, places: int = 2) -> str:
    """Display text of a ratio as a percentage ("1.23 %"); rounding happens only here."""
    if value is None:
        return "n/a"
    q = Decimal(1).scaleb(-places)
    return f"{(value * 100).quantize(q):,} %"


def _money(minor: int, currency: str) -> Decimal:
    return from_minor(int(minor), currency)


def _period_filter(date_from: dt.date, date_to: dt.date, prefix: str) -> dict[str, str]:
    return {f"{prefix}_from": date_from.isoformat(), f"{prefix}_to": date_to.isoformat()}


# -- chargeback ratio ------------------------------------------------------------------------

TREND_MONTHS = 6  # ratio charts show at least this many months, ending with the period


def _chargeback_ratio(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    *,
    psps: Collection[str] | None = None,
    **_: Any,
) -> ChartData:
    start = min(kpis.month_start(date_from), kpis.add_months(date_to, -(TREND_MONTHS - 1)))
    v = kpis.vamp(session, start, date_to, psps=psps)
    e = kpis.ecp(session, start, date_to, psps=psps)
    x = [m.month for m in v]
    x_labels = [f"{m:%b %Y}" for m in x]

    def drill(month: dt.date, network: str) -> dict[str, Any]:
        return {
            "page": "disputes",
            "filters": {
                "network": network,
                **_period_filter(month, kpis.month_end(month), "opened"),
            },
        }

    vamp_s = Series(
        "Visa VAMP",
        [m.ratio for m in v],
        [
            f"Visa VAMP {m.month:%b %Y}: {fmt_percent(m.ratio, 3)} = ({m.fraud_reports:,} fraud "
            f"reports + {m.disputes:,} disputes) / {m.settled:,} settled"
            + ("; EXCESSIVE" if m.excessive else "")
            for m in v
        ],
        [drill(m.month, "visa") for m in v],
    )
    ecp_s = Series(
        "Mastercard ECP",
        [m.ratio for m in e],
        [
            f"Mastercard ECP {m.month:%b %Y}: {fmt_percent(m.ratio, 3)} = {m.chargebacks:,} "
            f"chargebacks / {m.prior_transactions:,} transactions in {m.prior_month:%b %Y}"
            + (f"; {m.level}" if m.level else "")
            for m in e
        ],
        [drill(m.month, "mastercard") for m in e],
    )
    vamp_t = Series(
        "VAMP threshold",
        [m.threshold for m in v],
        [
            f"VAMP excessive threshold {m.month:%b %Y}: {fmt_percent(m.threshold, 1)} "
            f"(applies above {kpis.VAMP_MIN_COUNT:,} fraud reports + disputes)"
            for m in v
        ],
        [None] * len(v),
        "threshold",
    )
    ecm_t = Series(
        "ECM 1.5 %",
        [kpis.ECM_RATIO] * len(e),
        [f"Mastercard ECM: >= {kpis.ECM_MIN_COUNT} chargebacks and >= 1.5 %"] * len(e),
        [None] * len(e),
        "threshold",
    )
    hecm_t = Series(
        "HECM 3.0 %",
        [kpis.HECM_RATIO] * len(e),
        [f"Mastercard HECM: >= {kpis.HECM_MIN_COUNT} chargebacks and >= 3.0 %"] * len(e),
        [None] * len(e),
        "threshold",
    )
    return ChartData(
        name="chargeback_ratio",
        title="Chargeback ratios (Visa VAMP, Mastercard ECP)",
        kind="timeseries",
        x=x,
        x_labels=x_labels,
        y_label="ratio",
        y_format="percent",
        series=[vamp_s, ecp_s, vamp_t, ecm_t, hecm_t],
        note="VAMP: same-month denominator; ECP: prior-month denominator",
        period=(start, date_to),
    )


# -- win rate by reason category --------------------------------------------------------------


def _win_rate_by_category(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    *,
    psps: Collection[str] | None = None,
    **_: Any,
) -> ChartData:
    stats = kpis.combine_currencies(
        kpis.dispute_stats(session, date_from, date_to, by="reason_category", psps=psps)
    )
    keys = [str(k) for k in stats["key"]]
    values = list(stats["win_rate"])
    labels = [
        f"{k}: win rate {fmt_percent(r, 1)} ({int(w):,} won / {int(w) + int(lo):,} decided; "
        f"{int(n):,} disputes)"
        for k, r, w, lo, n in zip(keys, values, stats["won"], stats["lost"], stats["disputes"])
    ]
    drill: list[dict[str, Any] | None] = [
        {
            "page": "disputes",
            "filters": {
                "reason_category": k,
                "status": ["won", "lost"],
                **_period_filter(date_from, date_to, "opened"),
            },
        }
        for k in keys
    ]
    return ChartData(
        name="win_rate_by_category",
        title="Dispute win rate by reason category",
        kind="bars",
        x=keys,
        x_labels=[k.replace("_", " ") for k in keys],
        y_label="win rate (won / (won + lost))",
        y_format="percent",
        series=[Series("Win rate", values, labels, drill, "bar")],  # type: ignore[arg-type]
        period=(date_from, date_to),
    )


# -- unmatched ageing ---------------------------------------------------------------------------


def _unmatched_ageing(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    *,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
    as_of: dt.date | None = None,
    **_: Any,
) -> ChartData:
    df = kpis.unmatched_ageing(session, None, date_to, as_of=as_of, sources=sources, psps=psps)
    buckets = [b[0] for b in kpis.AGE_BUCKETS]
    series = []
    currencies = sorted(set(df["currency"])) if len(df) else []
    for (source, cur), part in df.groupby(["source", "currency"], sort=True):
        by_bucket = {r.bucket: r for r in part.itertuples()}
        values: list[Decimal | None] = []
        labels: list[str] = []
        drill: list[dict[str, Any] | None] = []
        for b in buckets:
            r = by_bucket.get(b)
            minor = int(r.value_minor) if r is not None else 0
            n = int(r.records) if r is not None else 0
            values.append(_money(minor, str(cur)))
            labels.append(
                f"{source}, {b} days: {format_minor(minor, str(cur), symbol=True)} open "
                f"({n:,} lines)"
            )
            drill.append(
                {
                    "page": "exceptions",
                    "filters": {"age_bucket": b, "source": str(source), "currency": str(cur)},
                }
            )
        name = f"{source} ({cur})" if len(currencies) > 1 else str(source)
        series.append(Series(name, values, labels, drill, "bar"))
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
        period=(date_from, date_to),
    )


# -- match rate over time -------------------------------------------------------------------------


def _match_rate(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    *,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
    **_: Any,
) -> ChartData:
    grain = kpis.auto_grain(date_from, date_to)
    df = kpis.match_rate(session, date_from, date_to, grain=grain, sources=sources, psps=psps)
    periods = sorted(set(df["period"])) if len(df) else []

    def end_of(p: dt.date) -> dt.date:
        if grain == "day":
            return p
        if grain == "week":
            return p + dt.timedelta(days=6)
        return kpis.month_end(p)

    def point(part: Any, p: dt.date, who: str, filters: dict[str, Any]) -> tuple[Any, str, Any]:
        rows = part[part["period"] == p]
        rec, tot = int(rows["reconciled"].sum()), int(rows["records"].sum())
        r = kpis.ratio(rec, tot)
        lo, hi = max(p, date_from), min(end_of(p), date_to)
        when = f"{lo}" if lo == hi else f"{lo} to {hi}"
        return (
            r,
            f"{who}, {when}: {fmt_percent(r, 2)} ({rec:,} of {tot:,} lines reconciled)",
            {"page": "exceptions", "filters": {**filters, **_period_filter(lo, hi, "booked")}},
        )

    series = []
    for source, part in df.groupby("source", sort=True):
        pts = [point(part, p, str(source), {"source": str(source)}) for p in periods]
        series.append(
            Series(
                str(source), [a for a, _, _ in pts], [b for _, b, _ in pts], [c for *_, c in pts]
            )
        )
    if len(series) > 1:
        pts = [point(df, p, "All sources", {}) for p in periods]
        series.append(
            Series(
                "All sources", [a for a, _, _ in pts], [b for _, b, _ in pts], [c for *_, c in pts]
            )
        )
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


def _fees_by_psp(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    *,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
    **_: Any,
) -> ChartData:
    df = kpis.fees(session, date_from, date_to, by_method=False, sources=sources, psps=psps)
    df = df[df["gross_minor"] > 0] if len(df) else df
    multi = len(set(df["currency"])) > 1 if len(df) else False
    keys: list[str] = []
    labels: list[str] = []
    values: list[Decimal | None] = []
    drill: list[dict[str, Any] | None] = []
    for r in df.itertuples():
        key = f"{r.psp} ({r.currency})" if multi else str(r.psp)
        keys.append(key)
        values.append(r.rate)
        labels.append(
            f"{key}: effective fee rate {fmt_percent(r.rate, 3)} "
            f"({format_minor(int(r.fee_minor), str(r.currency), symbol=True)} fees on "
            f"{format_minor(int(r.gross_minor), str(r.currency), symbol=True)} gross, "
            f"{int(r.transactions):,} charges)"
        )
        drill.append(
            {
                "page": "matches",
                "filters": {"psp": str(r.psp), **_period_filter(date_from, date_to, "booked")},
            }
        )
    return ChartData(
        name="fees_by_psp",
        title="Effective PSP fee rate",
        kind="bars",
        x=keys,
        x_labels=keys,
        y_label="fees / gross",
        y_format="percent",
        series=[Series("Fee rate", values, labels, drill, "bar")],
        period=(date_from, date_to),
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


def chart_names() -> list[str]:
    """Registered chart names, in dashboard order."""
    return list(CHARTS)


def chart_data(
    session: Session,
    name: str,
    date_from: dt.date,
    date_to: dt.date,
    *,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
    as_of: dt.date | None = None,
) -> ChartData:
    """Data of chart `name` for the period and filters.

    Raises:
        UserError: no chart has that name.
    """
    spec = CHARTS.get(name)
    if spec is None:
        raise UserError(f"no chart named {name!r}; charts: {', '.join(CHARTS)}")
    if date_to < date_from:
        raise UserError(f"the period ends ({date_to}) before it starts ({date_from})")
    return spec.build(session, date_from, date_to, sources=sources, psps=psps, as_of=as_of)


def minor_decimals(currency: str | None) -> int:
    """Decimals to show for amounts of `currency` (2 when mixed or unknown)."""
    return exponent(currency) if currency else 2


__all__ = [
    "CHARTS",
    "ChartData",
    "ChartSpec",
    "Series",
    "chart_data",
    "chart_names",
    "fmt_percent",
]
