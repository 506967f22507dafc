"""Management workbook export: computes the KPI tables and hands plain rows to the exporter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from ...errors import UserError
from ...exporters.table import Column
from ...exporters.workbook import ChartSpec, Sheet, SummaryLine, Workbook, write_workbook
from ...money import from_minor
from . import kpis
from .charts import TREND_MONTHS

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


def _match_rate_sheet(df: pd.DataFrame, grain: str) -> Sheet:
    cols = [
        Column("Period start", "date"),
        Column("Source", "text", 24),
        Column("Source kind", "text"),
        Column("Currency", "text"),
        Column("Lines", "int"),
        Column("Reconciled", "int"),
        Column("Open", "int"),
        Column("Match rate (count)", "percent"),
        Column("Value", "money"),
        Column("Reconciled value", "money"),
        Column("Open value", "money"),
        Column("Match rate (value)", "percent"),
    ]
    rows = [
        [
            r.period,
            r.source,
            r.source_kind,
            r.currency,
            _v(r.records),
            _v(r.reconciled),
            _v(r.open),
            r.count_rate,
            _money(r.value_minor, r.currency),
            _money(r.reconciled_minor, r.currency),
            _money(r.open_minor, r.currency),
            r.value_rate,
        ]
        for r in df.itertuples()
    ]
    chart = None
    if len(df):
        periods = sorted(set(df["period"]))
        series = []
        for source, part in df.groupby("source", sort=True):
            by = part.groupby("period")[["reconciled", "records"]].sum()
            series.append(
                (
                    str(source),
                    [
                        kpis.ratio(int(by.loc[p, "reconciled"]), int(by.loc[p, "records"]))
                        if p in by.index
                        else None
                        for p in periods
                    ],
                )
            )
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
    return Sheet("Match rate", cols, rows, chart, note)


def _ageing_sheet(df: pd.DataFrame, as_of: dt.date) -> Sheet:
    cols = [
        Column("Source", "text", 24),
        Column("Source kind", "text"),
        Column("Currency", "text"),
        Column("Age (days)", "text"),
        Column("Open lines", "int"),
        Column("Open value (|amount|)", "money"),
        Column("Net amount", "money"),
    ]
    rows = [
        [
            r.source,
            r.source_kind,
            r.currency,
            r.bucket,
            _v(r.records),
            _money(r.value_minor, r.currency),
            _money(r.net_minor, r.currency),
        ]
        for r in df.itertuples()
    ]
    chart = None
    if len(df):
        buckets = [b[0] for b in kpis.AGE_BUCKETS]
        multi = df["currency"].nunique() > 1
        series = []
        for (source, cur), part in df.groupby(["source", "currency"], sort=True):
            by = dict(zip(part["bucket"], part["value_minor"], strict=True))
            series.append(
                (
                    f"{source} ({cur})" if multi else str(source),
                    [_money(by.get(b, 0), cur) for b in buckets],
                )
            )
        chart = ChartSpec(
            "stacked",
            "Unmatched value by age",
            [f"{b} days" for b in buckets],
            series,
            y_title="open value",
            x_title="age",
        )
    return Sheet("Unmatched ageing", cols, rows, chart, f"Age as of {as_of.isoformat()}.")


def _lag_sheet(df: pd.DataFrame) -> Sheet:
    names = ("capture_to_payout", "payout_to_bank", "capture_to_bank")
    cols = [
        Column("PSP", "text", 16),
        Column("Charges", "int"),
        Column("Paid out", "int"),
        Column("Credited at bank", "int"),
    ]
    for n in names:
        label = n.replace("_to_", " to ").replace("_", " ").capitalize()
        cols += [
            Column(f"{label}, median days", "number", decimals=1),
            Column(f"{label}, p90 days", "number", decimals=1),
        ]
    rows = [
        [r["psp"], _v(r["charges"]), _v(r["paid_out"]), _v(r["credited"])]
        + [r[f"{n}_{s}"] for n in names for s in ("median", "p90")]
        for _, r in df.iterrows()
    ]
    chart = None
    if len(df):
        chart = ChartSpec(
            "bar",
            "Settlement lag (median days)",
            list(df["psp"]),
            [(n.replace("_to_", " to ").replace("_", " "), list(df[f"{n}_median"])) for n in names],
            y_title="days",
            x_title="PSP",
            number_format="0.0",
        )
    note = (
        "Median over charges (payout to bank: over payouts); "
        "p90 is the nearest-rank 90th percentile."
    )
    return Sheet("Settlement lag", cols, rows, chart, note)


def _fees_sheet(df: pd.DataFrame) -> Sheet:
    cols = [
        Column("PSP", "text", 16),
        Column("Method", "text", 14),
        Column("Currency", "text"),
        Column("Charges", "int"),
        Column("Gross", "money"),
        Column("Fees", "money"),
        Column("Effective rate", "percent", decimals=3),
    ]
    rows = [
        [
            r.psp,
            r.method,
            r.currency,
            _v(r.transactions),
            _money(r.gross_minor, r.currency),
            _money(r.fee_minor, r.currency),
            r.rate,
        ]
        for r in df.itertuples()
    ]
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
    return Sheet("Fees", cols, rows, chart, "Rate = Σ fees of all PSP lines / Σ gross charges.")


def _vamp_sheet(rows_in: Sequence[kpis.VampMonth]) -> Sheet:
    cols = [
        Column("Month", "date"),
        Column("Fraud reports (TC40)", "int"),
        Column("Disputes (TC15)", "int"),
        Column("Count", "int"),
        Column("Settled Visa transactions", "int"),
        Column("VAMP ratio", "percent", decimals=3),
        Column("Excessive threshold", "percent", decimals=1),
        Column("Applies (count > 1,500)", "text"),
        Column("Excessive", "text"),
        Column("Amount currency", "text"),
        Column("Disputed amount", "money"),
        Column("Settled amount", "money"),
        Column("Ratio by amount", "percent", decimals=3),
        Column("Charges without network", "int"),
    ]
    rows = [
        [
            m.month,
            m.fraud_reports,
            m.disputes,
            m.count,
            m.settled,
            m.ratio,
            m.threshold,
            "yes" if m.applies else "no",
            "YES" if m.excessive else "no",
            m.amount_currency,
            _money(m.disputed_minor, m.amount_currency),
            _money(m.settled_minor, m.amount_currency),
            m.amount_ratio,
            m.transactions_unattributed,
        ]
        for m in rows_in
    ]
    chart = ChartSpec(
        "line",
        "Visa VAMP ratio",
        [m.month for m in rows_in],
        [("VAMP ratio", [m.ratio for m in rows_in]), ("Threshold", [m.threshold for m in rows_in])],
        y_title="ratio",
        x_title="month",
        percent=True,
        dashed=frozenset({"Threshold"}),
        number_format="0.000%",
        x_number_format="mmm yyyy",
    )
    note = (
        "VAMP = (TC40 fraud reports + TC15 disputes) / settled Visa transactions, same month; "
        "excessive at >= 2.2 % (>= 1.5 % from April 2026) when the count is above 1,500."
    )
    return Sheet("Visa VAMP", cols, rows, chart, note)


def _ecp_sheet(rows_in: Sequence[kpis.EcpMonth]) -> Sheet:
    cols = [
        Column("Month", "date"),
        Column("Chargebacks", "int"),
        Column("Prior month", "date"),
        Column("Prior-month transactions", "int"),
        Column("ECP ratio", "percent", decimals=3),
        Column("Basis points", "number", decimals=1),
        Column("Program", "text"),
        Column("Amount currency", "text"),
        Column("Chargeback amount", "money"),
        Column("Prior-month amount", "money"),
        Column("Ratio by amount", "percent", decimals=3),
        Column("Fraud chargebacks", "int"),
        Column("Fraud amount", "money"),
        Column("Fraud to sales (amount)", "percent", decimals=3),
        Column("EFM candidate", "text"),
    ]
    rows = [
        [
            m.month,
            m.chargebacks,
            m.prior_month,
            m.prior_transactions,
            m.ratio,
            m.basis_points,
            m.level or "-",
            m.amount_currency,
            _money(m.chargeback_minor, m.amount_currency),
            _money(m.prior_minor, m.amount_currency),
            m.amount_ratio,
            m.fraud_chargebacks,
            _money(m.fraud_minor, m.amount_currency),
            m.fraud_amount_ratio,
            "n/a (not USD)" if m.efm_candidate is None else "YES" if m.efm_candidate else "no",
        ]
        for m in rows_in
    ]
    chart = ChartSpec(
        "line",
        "Mastercard ECP ratio",
        [m.month for m in rows_in],
        [
            ("ECP ratio", [m.ratio for m in rows_in]),
            ("ECM 1.5 %", [kpis.ECM_RATIO] * len(rows_in)),
            ("HECM 3.0 %", [kpis.HECM_RATIO] * len(rows_in)),
        ],
        y_title="ratio",
        x_title="month",
        percent=True,
        dashed=frozenset({"ECM 1.5 %", "HECM 3.0 %"}),
        number_format="0.000%",
        x_number_format="mmm yyyy",
    )
    note = (
        "ECP = chargebacks in month N / Mastercard transactions in month N-1; ECM at >= 100 "
        "chargebacks and >= 1.5 %, HECM at >= 300 and >= 3.0 %."
    )
    return Sheet("Mastercard ECP", cols, rows, chart, note)


def _dispute_sheet(df: pd.DataFrame, title: str, key: str) -> Sheet:
    cols = [
        Column(key, "text", 22),
        Column("Currency", "text"),
        Column("Disputes", "int"),
        Column("Open", "int"),
        Column("Won", "int"),
        Column("Lost", "int"),
        Column("Accepted", "int"),
        Column("Expired", "int"),
        Column("Win rate", "percent", decimals=1),
        Column("Disputed", "money"),
        Column("Closed", "money"),
        Column("Won value", "money"),
        Column("Recovery rate", "percent", decimals=1),
    ]
    rows = [
        [
            r.key,
            r.currency,
            _v(r.disputes),
            _v(r.open),
            _v(r.won),
            _v(r.lost),
            _v(r.accepted),
            _v(r.expired),
            r.win_rate,
            _money(r.disputed_minor, r.currency),
            _money(r.closed_minor, r.currency),
            _money(r.won_minor, r.currency),
            r.recovery_rate,
        ]
        for r in df.itertuples()
    ]
    comb = kpis.combine_currencies(df)
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
    return Sheet(title, cols, rows, chart, note)


def _due_sheet(df: pd.DataFrame, now: dt.datetime) -> Sheet:
    cols = [
        Column("Dispute", "text", 26),
        Column("PSP", "text"),
        Column("Network", "text"),
        Column("Reason code", "text"),
        Column("Category", "text", 18),
        Column("Stage", "text"),
        Column("Amount", "money"),
        Column("Currency", "text"),
        Column("Due by (UTC)", "datetime", 18),
        Column("Hours left", "int"),
        Column("Assignee", "text"),
    ]
    rows = [
        [
            r.dispute_id,
            r.psp,
            r.network,
            r.reason_code,
            r.reason_category,
            r.stage,
            _money(r.amount_minor, r.currency),
            r.currency,
            r.due_by,
            _v(r.hours_left),
            r.assignee,
        ]
        for r in df.itertuples()
    ]
    note = f"Needing a response, due within 7 days of {now:%Y-%m-%d %H:%M} UTC."
    return Sheet("Due in 7 days", cols, rows, None, note)


def _throughput_sheet(df: pd.DataFrame) -> Sheet:
    cols = [
        Column("Assignee", "text", 20),
        Column("Resolved", "int"),
        Column("Days", "int"),
        Column("Resolved per day", "number", decimals=2),
        Column("Reopened", "int"),
        Column("Reopen rate", "percent", decimals=1),
    ]
    rows = [
        [r.assignee, _v(r.resolved), _v(r.days), r.per_day, _v(r.reopened), r.reopen_rate]
        for r in df.itertuples()
    ]
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
    return Sheet("Agent throughput", cols, rows, chart, "Reopen rate = reopened / resolved.")


def _summary(heads: Sequence[kpis.Headline]) -> list[SummaryLine]:
    out = []
    for h in heads:
        value: Any = h.value
        if h.kind == "money" and isinstance(value, int) and h.currency:
            value = from_minor(value, h.currency)
        out.append(SummaryLine(h.label, value, h.kind, h.currency, h.detail))
    return out


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
    steps = 3

    def report(done: int, text: str) -> None:
        if progress is not None:
            progress(done, steps, text)

    report(0, "Computing KPIs")
    trend_from = min(kpis.month_start(date_from), kpis.add_months(date_to, -(TREND_MONTHS - 1)))
    grain = kpis.auto_grain(date_from, date_to)
    with kpis.pinned_version(session):
        dash = kpis.dashboard(session, date_from, date_to, now=now, sources=sources, psps=psps)
        mr = kpis.match_rate(session, date_from, date_to, grain=grain, sources=sources, psps=psps)
        v = kpis.vamp(session, trend_from, date_to, psps=psps)
        e = kpis.ecp(session, trend_from, date_to, psps=psps)
    report(1, "Building sheets")
    sheets = [
        _match_rate_sheet(mr, grain),
        _ageing_sheet(dash.ageing, dash.as_of),
        _lag_sheet(dash.lag),
        _fees_sheet(dash.fees),
        _vamp_sheet(v),
        _ecp_sheet(e),
        _dispute_sheet(dash.disputes_by_category, "Disputes by category", "Reason category"),
        _dispute_sheet(dash.disputes_by_network, "Disputes by network", "Network"),
        _dispute_sheet(dash.disputes_by_psp, "Disputes by PSP", "PSP"),
        _due_sheet(dash.due, now),
        _throughput_sheet(dash.throughput),
    ]
    filters = []
    if sources:
        filters.append("sources " + ", ".join(sorted(sources)))
    if psps:
        filters.append("PSPs " + ", ".join(sorted(psps)))
    book = Workbook(
        title="Reconciliation and disputes: management KPIs",
        subtitle=(
            f"Period {date_from.isoformat()} to {date_to.isoformat()}"
            + (f" ({'; '.join(filters)})" if filters else "")
            + f"; generated {now:%Y-%m-%d %H:%M} UTC"
        ),
        summary=_summary(dash.headlines),
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
        date_from,
        date_to,
        ["Summary", *(s.title for s in sheets)],
        sum(len(s.rows) for s in sheets),
    )
