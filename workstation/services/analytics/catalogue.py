"""The metric catalogue: every KPI defined once, and the one way in to analytics for pages, the CLI
and the exporters.

An entry (`reading.Metric`) gives a KPI's name, label, unit, how it is computed over a `Scope`
(period and filters), how its table rolls up (by day/source/currency, amounts per currency,
never summed), its scheme thresholds, its headline number and where it is shown: a dashboard
tile, charts, workbook sheets. Tiles (`tiles`), charts (`charts`) and the workbook (`workbook`)
are built from a `Reader` over these entries, never from the store; the catalogue test
(tests/unit/kpis/test_catalogue.py) walks the entries and checks each surface reads what they
declare.

Adding a KPI: its computation in the module of its concern (`reconciliation`, `settlement`,
`scheme_ratios`, `dispute_metrics`, `throughput`), one entry below, and its test. A headline and a
`tile` key are enough for a dashboard tile and a Summary line; a chart or sheet of its own is a
builder in `charts.CHARTS` or `workbook.SHEETS` named in `charts` / `sheets`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from ...errors import UserError
from . import dispute_metrics, headlines, reconciliation, scheme_ratios, settlement, throughput
from .cache import clear_cache, pinned_version
from .charts import CHARTS, ChartData, ChartSpec, Series, fmt_percent, minor_decimals
from .periods import auto_grain, month_end, month_start, months
from .reading import (
    NO_AMOUNTS,
    ONE_CURRENCY,
    PER_CURRENCY,
    UNITS,
    Headline,
    Metric,
    Reader,
    Rollup,
    Scope,
    Threshold,
)
from .rollups import default_period
from .workbook import SHEETS, KpiExportReport, Progress, write_kpi_workbook

_DISPUTE_SHEETS = ("Disputes by category", "Disputes by network", "Disputes by PSP")
_GRAIN = {"grain": ("month", "week", "day")}


def _match_rate_table(session: Session, scope: Scope, grain: str = "month") -> pd.DataFrame:
    """Lines and Σ|amount|, reconciled and open, per period, source and currency."""
    return reconciliation.match_rate(
        session, scope.date_from, scope.date_to, grain=grain, sources=scope.sources, psps=scope.psps
    )


def _dispute_table(session: Session, scope: Scope, by: str = "reason_category") -> pd.DataFrame:
    """Dispute counts and amounts by outcome, per `by` value and currency."""
    return dispute_metrics.dispute_stats(
        session, scope.date_from, scope.date_to, by=by, psps=scope.psps
    )


# In dashboard order: the tiles and the Summary sheet list the metrics as they stand here.
_ENTRIES: tuple[Metric, ...] = (
    Metric(
        "match_rate",
        "Match rate",
        "percent",
        (
            "Reconciled (matched or written off) share of the period's lines by count; ignored "
            "lines are out of scope"
        ),
        compute=_match_rate_table,
        rollup=Rollup(("period", "source", "currency"), "line counts, over every currency"),
        options=_GRAIN,
        headline=headlines.match_rate,
        tile="match_rate",
        charts=("match_rate",),
        sheets=("Match rate",),
    ),
    Metric(
        "match_value",
        "Match rate (value)",
        "percent",
        "Reconciled share of the absolute amounts of the period's lines, per currency",
        compute=_match_rate_table,
        rollup=Rollup(("period", "source", "currency"), "Σ|amount| within a currency"),
        options=_GRAIN,
        tile="match_value",
        sheets=("Match rate",),
    ),
    Metric(
        "unmatched_value",
        "Open (unmatched) value",
        "money",
        "Unmatched and suggested lines up to the period's end by age bucket, every age",
        compute=lambda s, sc: reconciliation.unmatched_ageing(
            s, None, sc.date_to, as_of=sc.as_of, sources=sc.sources, psps=sc.psps
        ),
        rollup=Rollup(("source", "currency", "bucket"), "lines; Σ|amount| within a currency"),
        headline=headlines.unmatched_value,
        tile="unmatched_value",
        charts=("unmatched_ageing",),
        sheets=("Unmatched ageing",),
    ),
    Metric(
        "vamp",
        "Visa VAMP",
        "percent",
        (
            "(TC40 fraud reports + TC15 disputes) / settled Visa card-not-present transactions "
            "of the same month"
        ),
        compute=lambda s, sc: scheme_ratios.vamp(s, sc.date_from, sc.date_to, psps=sc.psps),
        rollup=Rollup(("month",), "counts per month; never over months", ONE_CURRENCY),
        thresholds=(scheme_ratios.VAMP_EXCESSIVE,),
        headline=headlines.vamp,
        tile="vamp",
        charts=("chargeback_ratio",),
        sheets=("Visa VAMP",),
    ),
    Metric(
        "ecp",
        "Mastercard ECP",
        "percent",
        "Mastercard chargebacks in a month / Mastercard transactions the month before",
        compute=lambda s, sc: scheme_ratios.ecp(s, sc.date_from, sc.date_to, psps=sc.psps),
        rollup=Rollup(("month",), "counts per month; never over months", ONE_CURRENCY),
        thresholds=(scheme_ratios.ECM, scheme_ratios.HECM),
        headline=headlines.ecp,
        tile="ecp",
        charts=("chargeback_ratio",),
        sheets=("Mastercard ECP",),
    ),
    Metric(
        "win_rate",
        "Dispute win rate",
        "percent",
        "Won / (won + lost) of the disputes opened in the period",
        compute=_dispute_table,
        rollup=Rollup(("key", "currency"), "dispute counts, over every currency"),
        options={"by": dispute_metrics.DISPUTE_DIMENSIONS},
        headline=headlines.win_rate,
        tile="win_rate",
        charts=("win_rate_by_category",),
        sheets=_DISPUTE_SHEETS,
    ),
    Metric(
        "recovery_rate",
        "Recovery rate",
        "percent",
        "Value won / value of the closed disputes (won, lost, accepted, expired)",
        compute=_dispute_table,
        rollup=Rollup(("key", "currency"), "won and closed amounts within a currency"),
        options={"by": dispute_metrics.DISPUTE_DIMENSIONS},
        tile="recovery_rate",
        sheets=_DISPUTE_SHEETS,
    ),
    Metric(
        "due_7d",
        "Disputes due in 7 days",
        "count",
        "Disputes needing a response with a deadline in the next 7 days",
        compute=lambda s, sc: dispute_metrics.disputes_due(s, as_of=sc.now, psps=sc.psps),
        rollup=Rollup(("id",), "disputes; the amount at risk within a currency"),
        headline=headlines.due_7d,
        tile="due_7d",
        sheets=("Due in 7 days",),
    ),
    Metric(
        "fees",
        "Effective PSP fee rate",
        "percent",
        "Σ fees of the PSP lines / Σ gross card charges",
        compute=lambda s, sc, by_method=True: settlement.fees(
            s, sc.date_from, sc.date_to, by_method=by_method, sources=sc.sources, psps=sc.psps
        ),
        rollup=Rollup(("psp", "method", "currency"), "fees and gross within a currency"),
        options={"by_method": (True, False)},
        headline=headlines.fees,
        tile="fees",
        charts=("fees_by_psp",),
        sheets=("Fees",),
    ),
    Metric(
        "lag",
        "Capture to bank (median days)",
        "days",
        "Days from a charge to the bank credit of its payout, median and p90 per PSP",
        compute=lambda s, sc: settlement.settlement_lag(
            s, sc.date_from, sc.date_to, sources=sc.sources, psps=sc.psps
        ),
        rollup=Rollup(("psp",), "charges; medians never add up", NO_AMOUNTS),
        headline=headlines.lag,
        tile="lag",
        sheets=("Settlement lag",),
    ),
    Metric(
        "throughput",
        "Cases resolved per day",
        "ratio",
        "Exception cases resolved per calendar day per assignee, and the reopen rate",
        compute=lambda s, sc: throughput.agent_throughput(s, sc.date_from, sc.date_to),
        rollup=Rollup(("assignee",), "resolved and reopened cases", NO_AMOUNTS),
        sheets=("Agent throughput",),
    ),
)
METRICS: dict[str, Metric] = {m.name: m for m in _ENTRIES}


def metric(name: str) -> Metric:
    """The catalogue entry `name` (KeyError if there is none)."""
    return METRICS[name]


@contextmanager
def reading(session: Session, scope: Scope) -> Iterator[Reader]:
    """A reader of the catalogue's metrics for `scope`, all at one data version."""
    with pinned_version(session):
        yield Reader(session, scope, METRICS)


def read(session: Session, name: str, scope: Scope, **options: Any) -> Any:
    """Metric `name`'s table for `scope`."""
    return METRICS[name].read(session, scope, **options)


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
    vamp: list[scheme_ratios.VampMonth]
    ecp: list[scheme_ratios.EcpMonth]
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
    scope = Scope.of(date_from, date_to, sources=sources, psps=psps, as_of=as_of, now=now)
    with reading(session, scope) as r:
        return Dashboard(
            date_from,
            date_to,
            as_of,
            match_rate=r("match_rate"),
            match_rate_series=r("match_rate", grain=auto_grain(date_from, date_to)),
            ageing=r("unmatched_value"),
            lag=r("lag"),
            fees=r("fees"),
            vamp=r("vamp"),
            ecp=r("ecp"),
            disputes_by_category=r("win_rate"),
            disputes_by_network=r("win_rate", by="network"),
            disputes_by_psp=r("win_rate", by="psp"),
            due=r("due_7d"),
            throughput=r("throughput"),
            headlines=r.headlines(),
        )


def chart_names() -> list[str]:
    """Dashboard chart names, in dashboard order."""
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
        UserError: no chart has that name, or the period ends before it starts.
    """
    spec = CHARTS.get(name)
    if spec is None:
        raise UserError(f"no chart named {name!r}; charts: {', '.join(CHARTS)}")
    if date_to < date_from:
        raise UserError(f"the period ends ({date_to}) before it starts ({date_from})")
    scope = Scope.of(date_from, date_to, sources=sources, psps=psps, as_of=as_of)
    with reading(session, scope) as r:
        return spec.build(r)


def export_kpis(
    session: Session,
    out_path: Path,
    date_from: dt.date,
    date_to: dt.date,
    progress: Progress | None = None,
    *,
    now: dt.datetime | None = None,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
) -> KpiExportReport:
    """Compute the management KPIs for [date_from, date_to] and write the workbook.

    Raises:
        UserError: bad period, or the file cannot be written.
    """
    if date_to < date_from:
        raise UserError(f"the period ends ({date_to}) before it starts ({date_from})")
    now = now or dt.datetime.now(dt.UTC)
    scope = Scope.of(date_from, date_to, sources=sources, psps=psps, as_of=date_to, now=now)
    with reading(session, scope) as r:
        return write_kpi_workbook(r, out_path, progress)


__all__ = [
    "CHARTS",
    "METRICS",
    "NO_AMOUNTS",
    "ONE_CURRENCY",
    "PER_CURRENCY",
    "SHEETS",
    "UNITS",
    "ChartData",
    "ChartSpec",
    "Dashboard",
    "Headline",
    "KpiExportReport",
    "Metric",
    "Reader",
    "Rollup",
    "Scope",
    "Series",
    "Threshold",
    "chart_data",
    "chart_names",
    "clear_cache",
    "dashboard",
    "default_period",
    "export_kpis",
    "fmt_percent",
    "metric",
    "minor_decimals",
    "month_end",
    "month_start",
    "months",
    "read",
    "reading",
]
