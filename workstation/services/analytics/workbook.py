"""Management workbook: each sheet built from a `Reader` (the catalogue's metrics for the period),
handed as plain rows to `exporters.workbook`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from ...exporters.table import Column
from ...exporters.workbook import ChartSpec, Sheet, SummaryLine, Workbook, write_workbook
from ...money import from_minor
from .dispute_metrics import combine_currencies
from .measures import ratio
from .periods import auto_grain, bucket_names, trend_start
from .reading import Headline, Reader
from .settlement import LAGS

Progress = Callable[[int, int, str], None]


@dataclass
class KpiExportReport:
    """What `export_kpis` wrote."""

    path: str
    date_from: dt.date
    date_to: dt.date
    sheets: list[str]
    rows: int

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "sheets": self.sheets,
            "rows": self.rows,
        }


def _money(minor: Any, currency: Any) -> Decimal | None:
    if minor is None or currency is None or pd.isna(minor):
        return None
    return from_minor(int(minor), str(currency))


def _v(value: Any) -> Any:
    """A cell value from a frame value (NaN/NaT -> None, numpy ints -> int)."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item") and not isinstance(value, Decimal | dt.date):
        return value.item()
    return value


def _sheet(
    title: str,
    items: Iterable[Any],
    columns: Mapping[str, Column],
    chart: ChartSpec | None,
    note: str,
    *,
    currency: str = "currency",
    shown: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Sheet:
    """A sheet of one row per item: each column reads the item's field of its key.

    Money fields become major units in the item's `currency` field; `shown` turns a field into
    the text a manager reads (yes/no, "-" for none).
    """
    shown = shown or {}

    def cell(item: Any, name: str, column: Column) -> Any:
        value = getattr(item, name)
        if name in shown:
            return shown[name](value)
        if column.kind == "money":
            return _money(value, getattr(item, currency))
        return _v(value)

    rows = [[cell(item, n, c) for n, c in columns.items()] for item in items]
    return Sheet(title, list(columns.values()), rows, chart, note)


_MATCH_RATE = {
    "period": Column("Period start", "date"),
    "source": Column("Source", "text", 24),
    "source_kind": Column("Source kind", "text"),
    "currency": Column("Currency", "text"),
    "records": Column("Lines", "int"),
    "reconciled": Column("Reconciled", "int"),
    "open": Column("Open", "int"),
    "count_rate": Column("Match rate (count)", "percent"),
    "value_minor": Column("Value", "money"),
    "reconciled_minor": Column("Reconciled value", "money"),
    "open_minor": Column("Open value", "money"),
    "value_rate": Column("Match rate (value)", "percent"),
}


def _match_rate_sheet(read: Reader, title: str) -> Sheet:
    grain = auto_grain(read.scope.date_from, read.scope.date_to)
    df = read("match_rate", grain=grain)
    chart = None
    if len(df):
        periods = sorted(set(df["period"]))
        series = []
        for source, part in df.groupby("source", sort=True):
            by = part.groupby("period")[["reconciled", "records"]].sum()
            values = [
                ratio(int(by.loc[p, "reconciled"]), int(by.loc[p, "records"]))
                if p in by.index
                else None
                for p in periods
            ]
            series.append((str(source), values))
        chart = ChartSpec(
            "line",
            f"Match rate by {grain} (count)",
            periods,
            series,
            y_title="reconciled lines",
            x_title="period",
            percent=True,
        )
    note = (
        "Reconciled = matched or written off; open = unmatched or suggested; "
        "ignored lines are left out."
    )
    return _sheet(title, df.itertuples(), _MATCH_RATE, chart, note)


_AGEING = {
    "source": Column("Source", "text", 24),
    "source_kind": Column("Source kind", "text"),
    "currency": Column("Currency", "text"),
    "bucket": Column("Age (days)", "text"),
    "records": Column("Open lines", "int"),
    "value_minor": Column("Open value (|amount|)", "money"),
    "net_minor": Column("Net amount", "money"),
}


def _ageing_sheet(read: Reader, title: str) -> Sheet:
    df = read("unmatched_value")
    chart = None
    if len(df):
        buckets = bucket_names()
        multi = df["currency"].nunique() > 1
        series = []
        for (source, cur), part in df.groupby(["source", "currency"], sort=True):
            by = dict(zip(part["bucket"], part["value_minor"], strict=True))
            name = f"{source} ({cur})" if multi else str(source)
            series.append((name, [_money(by.get(b, 0), cur) for b in buckets]))
        chart = ChartSpec(
            "stacked",
            "Unmatched value by age",
            [f"{b} days" for b in buckets],
            series,
            y_title="open value",
            x_title="age",
        )
    note = f"Age as of {read.scope.ages_from.isoformat()}."
    return _sheet(title, df.itertuples(), _AGEING, chart, note)


def _lag_label(name: str) -> str:
    return name.replace("_to_", " to ").replace("_", " ")


_LAG = {
    "psp": Column("PSP", "text", 16),
    "charges": Column("Charges", "int"),
    "paid_out": Column("Paid out", "int"),
    "credited": Column("Credited at bank", "int"),
    **{
        f"{name}_{stat}": Column(
            f"{_lag_label(name).capitalize()}, {stat} days", "number", decimals=1
        )
        for name, _, _ in LAGS
        for stat in ("median", "p90")
    },
}


def _lag_sheet(read: Reader, title: str) -> Sheet:
    df = read("lag")
    chart = None
    if len(df):
        chart = ChartSpec(
            "bar",
            "Settlement lag (median days)",
            list(df["psp"]),
            [(_lag_label(name), list(df[f"{name}_median"])) for name, _, _ in LAGS],
            y_title="days",
            x_title="PSP",
            number_format="0.0",
        )
    note = (
        "Median over charges (payout to bank: over payouts); "
        "p90 is the nearest-rank 90th percentile."
    )
    return _sheet(title, df.itertuples(), _LAG, chart, note)


_FEES = {
    "psp": Column("PSP", "text", 16),
    "method": Column("Method", "text", 14),
    "currency": Column("Currency", "text"),
    "transactions": Column("Charges", "int"),
    "gross_minor": Column("Gross", "money"),
    "fee_minor": Column("Fees", "money"),
    "rate": Column("Effective rate", "percent", decimals=3),
}


def _fees_sheet(read: Reader, title: str) -> Sheet:
    df = read("fees")
    chart = None
    part = df[df["rate"].notna()] if len(df) else df
    if len(part):
        multi = part["currency"].nunique() > 1
        chart = ChartSpec(
            "bar",
            "Effective fee rate by PSP and method",
            [
                f"{r.psp} {r.method}" + (f" ({r.currency})" if multi else "")
                for r in part.itertuples()
            ],
            [("Effective rate", list(part["rate"]))],
            y_title="fees / gross",
            x_title="PSP and method",
            percent=True,
            number_format="0.000%",
        )
    note = "Rate = Σ fees of all PSP lines / Σ gross charges."
    return _sheet(title, df.itertuples(), _FEES, chart, note)


def _ratio_chart(
    title: str, months: Sequence[dt.date], series: list[tuple[str, list[Any]]], dashed: set[str]
) -> ChartSpec:
    """A monthly ratio line chart with dashed threshold lines."""
    return ChartSpec(
        "line",
        title,
        list(months),
        series,
        y_title="ratio",
        x_title="month",
        percent=True,
        dashed=frozenset(dashed),
        number_format="0.000%",
        x_number_format="mmm yyyy",
    )


_VAMP = {
    "month": Column("Month", "date"),
    "fraud_reports": Column("Fraud reports (TC40)", "int"),
    "disputes": Column("Disputes (TC15)", "int"),
    "count": Column("Count", "int"),
    "settled": Column("Settled Visa transactions", "int"),
    "ratio": Column("VAMP ratio", "percent", decimals=3),
    "threshold": Column("Excessive threshold", "percent", decimals=1),
    "applies": Column("Applies (count > 1,500)", "text"),
    "excessive": Column("Excessive", "text"),
    "amount_currency": Column("Amount currency", "text"),
    "disputed_minor": Column("Disputed amount", "money"),
    "settled_minor": Column("Settled amount", "money"),
    "amount_ratio": Column("Ratio by amount", "percent", decimals=3),
    "transactions_unattributed": Column("Charges without network", "int"),
}


def _vamp_sheet(read: Reader, title: str) -> Sheet:
    lo, hi = read.scope.date_from, read.scope.date_to
    months = read("vamp", read.scope.between(trend_start(lo, hi), hi))
    chart = _ratio_chart(
        "Visa VAMP ratio",
        [m.month for m in months],
        [("VAMP ratio", [m.ratio for m in months]), ("Threshold", [m.threshold for m in months])],
        {"Threshold"},
    )
    note = (
        "VAMP = (TC40 fraud reports + TC15 disputes) / settled Visa transactions, same month; "
        "excessive at >= 2.2 % (>= 1.5 % from April 2026) when the count is above 1,500."
    )
    shown = {
        "applies": lambda v: "yes" if v else "no",
        "excessive": lambda v: "YES" if v else "no",
    }
    return _sheet(title, months, _VAMP, chart, note, currency="amount_currency", shown=shown)


_ECP = {
    "month": Column("Month", "date"),
    "chargebacks": Column("Chargebacks", "int"),
    "prior_month": Column("Prior month", "date"),
    "prior_transactions": Column("Prior-month transactions", "int"),
    "ratio": Column("ECP ratio", "percent", decimals=3),
    "basis_points": Column("Basis points", "number", decimals=1),
    "level": Column("Program", "text"),
    "amount_currency": Column("Amount currency", "text"),
    "chargeback_minor": Column("Chargeback amount", "money"),
    "prior_minor": Column("Prior-month amount", "money"),
    "amount_ratio": Column("Ratio by amount", "percent", decimals=3),
    "fraud_chargebacks": Column("Fraud chargebacks", "int"),
    "fraud_minor": Column("Fraud amount", "money"),
    "fraud_amount_ratio": Column("Fraud to sales (amount)", "percent", decimals=3),
    "efm_candidate": Column("EFM candidate", "text"),
}


def _ecp_sheet(read: Reader, title: str) -> Sheet:
    lo, hi = read.scope.date_from, read.scope.date_to
    months = read("ecp", read.scope.between(trend_start(lo, hi), hi))
    levels = read.thresholds("ecp")
    chart = _ratio_chart(
        "Mastercard ECP ratio",
        [m.month for m in months],
        [
            ("ECP ratio", [m.ratio for m in months]),
            *((t.label, [t.at(m.month) for m in months]) for t in levels),
        ],
        {t.label for t in levels},
    )
    note = (
        "ECP = chargebacks in month N / Mastercard transactions in month N-1; ECM at >= 100 "
        "chargebacks and >= 1.5 %, HECM at >= 300 and >= 3.0 %."
    )
    shown = {
        "level": lambda v: v or "-",
        "efm_candidate": lambda v: "n/a (not USD)" if v is None else "YES" if v else "no",
    }
    return _sheet(title, months, _ECP, chart, note, currency="amount_currency", shown=shown)


_DISPUTES = {
    "currency": Column("Currency", "text"),
    "disputes": Column("Disputes", "int"),
    "open": Column("Open", "int"),
    "won": Column("Won", "int"),
    "lost": Column("Lost", "int"),
    "accepted": Column("Accepted", "int"),
    "expired": Column("Expired", "int"),
    "win_rate": Column("Win rate", "percent", decimals=1),
    "disputed_minor": Column("Disputed", "money"),
    "closed_minor": Column("Closed", "money"),
    "won_minor": Column("Won value", "money"),
    "recovery_rate": Column("Recovery rate", "percent", decimals=1),
}


def _dispute_sheet(read: Reader, title: str, *, by: str, key: str) -> Sheet:
    df = read("win_rate", by=by)
    comb = combine_currencies(df)
    chart = None
    if len(comb):
        chart = ChartSpec(
            "bar",
            f"Win rate by {key.lower()}",
            [str(k) for k in comb["key"]],
            [("Win rate", list(comb["win_rate"]))],
            y_title="won / (won + lost)",
            x_title=key.lower(),
            percent=True,
            number_format="0.0%",
        )
    note = "Win rate = won / (won + lost); recovery = value won / value of closed cases."
    columns = {"key": Column(key, "text", 22), **_DISPUTES}
    return _sheet(title, df.itertuples(), columns, chart, note)


_DUE = {
    "dispute_id": Column("Dispute", "text", 26),
    "psp": Column("PSP", "text"),
    "network": Column("Network", "text"),
    "reason_code": Column("Reason code", "text"),
    "reason_category": Column("Category", "text", 18),
    "stage": Column("Stage", "text"),
    "amount_minor": Column("Amount", "money"),
    "currency": Column("Currency", "text"),
    "due_by": Column("Due by (UTC)", "datetime", 18),
    "hours_left": Column("Hours left", "int"),
    "assignee": Column("Assignee", "text"),
}


def _due_sheet(read: Reader, title: str) -> Sheet:
    now = read.scope.now or dt.datetime.now(dt.UTC)
    note = f"Needing a response, due within 7 days of {now:%Y-%m-%d %H:%M} UTC."
    return _sheet(title, read("due_7d").itertuples(), _DUE, None, note)


_THROUGHPUT = {
    "assignee": Column("Assignee", "text", 20),
    "resolved": Column("Resolved", "int"),
    "days": Column("Days", "int"),
    "per_day": Column("Resolved per day", "number", decimals=2),
    "reopened": Column("Reopened", "int"),
    "reopen_rate": Column("Reopen rate", "percent", decimals=1),
}


def _throughput_sheet(read: Reader, title: str) -> Sheet:
    df = read("throughput")
    chart = None
    if len(df):
        chart = ChartSpec(
            "bar",
            "Exception cases resolved per day",
            list(df["assignee"]),
            [("Resolved per day", list(df["per_day"]))],
            y_title="cases per day",
            x_title="assignee",
            number_format="0.00",
        )
    note = "Reopen rate = reopened / resolved."
    return _sheet(title, df.itertuples(), _THROUGHPUT, chart, note)


# The KPI sheets in workbook order, by title (what the catalogue's metrics name in `sheets`).
SHEETS: dict[str, Callable[[Reader, str], Sheet]] = {
    "Match rate": _match_rate_sheet,
    "Unmatched ageing": _ageing_sheet,
    "Settlement lag": _lag_sheet,
    "Fees": _fees_sheet,
    "Visa VAMP": _vamp_sheet,
    "Mastercard ECP": _ecp_sheet,
    "Disputes by category": partial(_dispute_sheet, by="reason_category", key="Reason category"),
    "Disputes by network": partial(_dispute_sheet, by="network", key="Network"),
    "Disputes by PSP": partial(_dispute_sheet, by="psp", key="PSP"),
    "Due in 7 days": _due_sheet,
    "Agent throughput": _throughput_sheet,
}


def summary(heads: Sequence[Headline]) -> list[SummaryLine]:
    """The Summary sheet's lines: every metric's headline, money in major units."""
    out = []
    for h in heads:
        value: Any = h.value
        if h.kind == "money" and isinstance(value, int) and h.currency:
            value = from_minor(value, h.currency)
        out.append(SummaryLine(h.label, value, h.kind, h.currency, h.detail))
    return out


def write_kpi_workbook(
    read: Reader, out_path: Path, progress: Progress | None = None
) -> KpiExportReport:
    """Build every sheet of the management workbook from `read` and write it to `out_path`."""
    scope = read.scope
    now = scope.now or dt.datetime.now(dt.UTC)
    steps = 3

    def report(done: int, text: str) -> None:
        if progress is not None:
            progress(done, steps, text)

    report(0, "Computing KPIs")
    heads = read.headlines()
    report(1, "Building sheets")
    sheets = [build(read, title) for title, build in SHEETS.items()]
    filters = []
    if scope.sources:
        filters.append("sources " + ", ".join(sorted(scope.sources)))
    if scope.psps:
        filters.append("PSPs " + ", ".join(sorted(scope.psps)))
    book = Workbook(
        title="Reconciliation and disputes: management KPIs",
        subtitle=(
            f"Period {scope.date_from.isoformat()} to {scope.date_to.isoformat()}"
            + (f" ({'; '.join(filters)})" if filters else "")
            + f"; generated {now:%Y-%m-%d %H:%M} UTC"
        ),
        summary=summary(heads),
        sheets=sheets,
        notes=[
            "Amounts are exact, in each row's currency; nothing is converted between currencies.",
            "Scheme ratio sheets show the last six months up to the period end.",
        ],
    )
    report(2, "Writing the workbook")
    write_workbook(out_path, book)
    report(3, "Done")
    return KpiExportReport(
        str(out_path),
        scope.date_from,
        scope.date_to,
        ["Summary", *(s.title for s in sheets)],
        sum(len(s.rows) for s in sheets),
    )
