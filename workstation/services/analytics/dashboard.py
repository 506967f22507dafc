"""What the dashboard page shows for a period: headline tiles with status, chart data, filters.

`load_dashboard(session, date_from, date_to, sources=..., psps=...)` runs in the background
(`kpis.dashboard` and `charts.chart_data` cache per period and data version, so a redraw is cheap)
and returns plain data the page draws. Tiles carry display text, a status (`ok`, `warn`, `alert`,
`neutral`) for their colour, and the drill filter of the queue behind them.

Drill filters use the vocabulary of `services.analytics.charts` (exceptions: source, currency,
age_bucket,
booked_from, booked_to, state; disputes: network, reason_category, psp, status, opened_from,
opened_to, due_within_days; matches: psp, booked_from, booked_to). `scoped_drill` adds the
dashboard's own account/PSP filter to them, and `as_of` (ISO date the ages are counted from) to
age-bucket drills, so the queue opened shows the lines the chart counted.

Status rules of the ratio tiles: `alert` at or above the scheme threshold (Visa VAMP excessive
ratio of the month; Mastercard ECM 1.5 %, or an ECM/HECM level reached), `warn` from three
quarters of it, else `ok`; `neutral` when there is no ratio (no transactions to divide by).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...models import Dispute, Source
from ...money import format_minor
from . import charts, kpis, rollups
from .charts import ChartData, fmt_percent

Progress = Callable[[int, int, str], None]

WARN_SHARE = Decimal("0.75")  # a ratio tile turns amber at this share of its threshold
MONTHS_OFFERED = 36  # months listed in the period picker, newest first
STATUSES = ("ok", "warn", "alert", "neutral")
TILE_KEYS = (
    "match_rate",
    "match_value",
    "unmatched_value",
    "vamp",
    "ecp",
    "win_rate",
    "recovery_rate",
    "due_7d",
    "fees",
    "lag",
)


@dataclass(frozen=True)
class Tile:
    """One headline number as shown: label, value text, detail line, colour status, drill."""

    key: str
    label: str
    value: str
    detail: str = ""
    status: str = "neutral"
    tooltip: str = ""
    drill: dict[str, Any] | None = None


@dataclass
class Choices:
    """What the period and filter pickers offer."""

    months: list[dt.date] = field(default_factory=list)  # first days, newest first
    sources: list[str] = field(default_factory=list)  # account (source) names
    psps: list[str] = field(default_factory=list)  # lower-case PSP names


@dataclass
class DashboardView:
    """Everything the dashboard page draws for one period and filter set."""

    date_from: dt.date
    date_to: dt.date
    as_of: dt.date
    sources: tuple[str, ...]
    psps: tuple[str, ...]
    tiles: list[Tile]
    charts: dict[str, ChartData]
    choices: Choices
    seconds: float = 0.0

    def tile(self, key: str) -> Tile | None:
        return next((t for t in self.tiles if t.key == key), None)


# -- choices -----------------------------------------------------------------------------------


def choices(session: Session) -> Choices:
    """Months with data (newest first), account names and PSP names for the pickers."""
    span = rollups.data_span(session)
    months: list[dt.date] = []
    if span is not None:
        months = kpis.months(span[0], span[1])[::-1][:MONTHS_OFFERED]
    rows = session.execute(select(Source.name, Source.kind, Source.provider)).all()
    sources = sorted(str(n) for n, _, _ in rows)
    psps = {str(p).lower() for _, k, p in rows if k == "psp" and p}
    psps |= {str(p).lower() for p in session.scalars(select(func.distinct(Dispute.psp))) if p}
    return Choices(months=months, sources=sources, psps=sorted(psps))


# -- drill filters -------------------------------------------------------------------------------


def scoped_drill(
    drill: dict[str, Any] | None,
    *,
    sources: Collection[str] = (),
    psps: Collection[str] = (),
    as_of: dt.date | None = None,
) -> dict[str, Any] | None:
    """`drill` with the dashboard's account/PSP filter and the ageing date added.

    A single account becomes `source` on exceptions drills; a single PSP becomes `psp` on
    disputes and matches drills (filters the drill already names win). Several accounts or PSPs
    cannot be said in one queue filter and are left to the user.
    """
    if not drill:
        return None
    page = str(drill.get("page", ""))
    filters = dict(drill.get("filters") or {})
    srcs, ps = sorted(sources), sorted(psps)
    if page == "exceptions":
        if len(srcs) == 1:
            filters.setdefault("source", srcs[0])
        if "age_bucket" in filters and as_of is not None:
            filters.setdefault("as_of", as_of.isoformat())
    elif page in ("disputes", "matches") and len(ps) == 1:
        filters.setdefault("psp", ps[0])
    return {"page": page, "filters": filters}


# -- tiles -----------------------------------------------------------------------------------------


def _status(ratio: Decimal | None, threshold: Decimal, reached: bool = False) -> str:
    if ratio is None:
        return "neutral"
    if reached or ratio >= threshold:
        return "alert"
    if ratio >= threshold * WARN_SHARE:
        return "warn"
    return "ok"


def _main_currency(df: pd.DataFrame, col: str) -> str | None:
    if df.empty:
        return None
    g = df.groupby("currency")[col].sum()
    top = g.max()
    return str(sorted(str(k) for k, v in g.items() if v == top)[0])


def _money(minor: int, currency: str) -> str:
    return format_minor(int(minor), currency, symbol=True)


def _period_drill(page: str, prefix: str, d: kpis.Dashboard, **extra: Any) -> dict[str, Any]:
    return {
        "page": page,
        "filters": {
            f"{prefix}_from": d.date_from.isoformat(),
            f"{prefix}_to": d.date_to.isoformat(),
            **extra,
        },
    }


def build_tiles(d: kpis.Dashboard) -> list[Tile]:
    """The headline tiles of a `kpis.Dashboard`, in display order (see TILE_KEYS)."""
    heads = {h.key: h for h in d.headlines}
    out: list[Tile] = []

    mr = heads.get("match_rate")
    out.append(
        Tile(
            "match_rate",
            "Match rate (lines)",
            fmt_percent(mr.value if mr else None, 1),  # type: ignore[arg-type]
            mr.detail if mr else "",
            tooltip="Share of the period's lines (not ignored) that are matched or written off",
            drill=mr.drill if mr else None,
        )
    )

    cur = _main_currency(d.match_rate, "value_minor")
    if cur is not None:
        part = d.match_rate[d.match_rate["currency"] == cur]
        rec, tot = int(part["reconciled_minor"].sum()), int(part["value_minor"].sum())
        others = sorted(set(d.match_rate["currency"]) - {cur})
        out.append(
            Tile(
                "match_value",
                "Match rate (value)",
                fmt_percent(kpis.ratio(rec, tot), 1),
                f"{_money(rec, cur)} of {_money(tot, cur)}",
                tooltip=f"Reconciled share of the absolute {cur} amounts of the period"
                + (f"; also {', '.join(others)} lines (not converted)" if others else ""),
                drill=_period_drill("exceptions", "booked", d, currency=cur),
            )
        )
    else:
        out.append(Tile("match_value", "Match rate (value)", "n/a", "no lines in the period"))

    uv = heads.get("unmatched_value")
    if uv is not None and uv.kind == "money" and uv.currency:
        out.append(
            Tile(
                "unmatched_value",
                "Open (unmatched) value",
                _money(int(uv.value or 0), uv.currency),  # type: ignore[arg-type]
                uv.detail,
                tooltip=f"Unmatched and suggested lines up to {d.as_of}, every age",
                drill=uv.drill,
            )
        )
    else:
        out.append(Tile("unmatched_value", "Open (unmatched) value", "0", "nothing open"))

    if d.vamp:
        v = d.vamp[-1]
        limit = fmt_percent(v.threshold, 1)
        note = (
            ""
            if v.applies
            else f" The program does not apply this month ({v.count:,} is not above "
            f"{kpis.VAMP_MIN_COUNT:,})."
        )
        out.append(
            Tile(
                "vamp",
                f"Visa VAMP {v.month:%b %Y}",
                fmt_percent(v.ratio, 2),
                f"{v.count:,} / {v.settled:,} · limit {limit}",
                _status(v.ratio, v.threshold, v.excessive),
                tooltip=(
                    f"(TC40 fraud reports {v.fraud_reports:,} + TC15 disputes {v.disputes:,}) / "
                    f"{v.settled:,} settled Visa card-not-present transactions; excessive at "
                    f">= {limit} with more than {kpis.VAMP_MIN_COUNT:,} fraud reports + disputes."
                    + note
                ),
                drill=heads["vamp"].drill if "vamp" in heads else None,
            )
        )
    if d.ecp:
        e = d.ecp[-1]
        out.append(
            Tile(
                "ecp",
                f"Mastercard ECP {e.month:%b %Y}",
                fmt_percent(e.ratio, 2),
                f"{e.chargebacks:,} / {e.prior_transactions:,} · limit 1.5 %"
                + (f" · {e.level}" if e.level else ""),
                _status(e.ratio, kpis.ECM_RATIO, e.level is not None),
                tooltip=(
                    f"{e.chargebacks:,} chargebacks / {e.prior_transactions:,} Mastercard "
                    f"transactions in {e.prior_month:%b %Y}; ECM at >= {kpis.ECM_MIN_COUNT} "
                    f"chargebacks and 1.5 %, HECM at >= {kpis.HECM_MIN_COUNT} and 3.0 %"
                ),
                drill=heads["ecp"].drill if "ecp" in heads else None,
            )
        )

    wr = heads.get("win_rate")
    out.append(
        Tile(
            "win_rate",
            "Dispute win rate",
            fmt_percent(wr.value if wr else None, 1),  # type: ignore[arg-type]
            wr.detail if wr else "",
            tooltip="Won / (won + lost) of the disputes opened in the period",
            drill=wr.drill if wr else None,
        )
    )

    cats = d.disputes_by_category
    rcur = _main_currency(cats, "closed_minor")
    if rcur is not None:
        part = cats[cats["currency"] == rcur]
        won, closed = int(part["won_minor"].sum()), int(part["closed_minor"].sum())
        out.append(
            Tile(
                "recovery_rate",
                "Recovery rate",
                fmt_percent(kpis.ratio(won, closed), 1),
                f"{_money(won, rcur)} of {_money(closed, rcur)} closed",
                tooltip="Value won / value of closed disputes (won, lost, accepted, expired)",
                drill=_period_drill(
                    "disputes", "opened", d, status=list(kpis.CLOSED_DISPUTE_STATUSES)
                ),
            )
        )
    else:
        out.append(Tile("recovery_rate", "Recovery rate", "n/a", "no disputes in the period"))

    due = heads.get("due_7d")
    n_due = int(due.value or 0) if due else 0  # type: ignore[arg-type]
    out.append(
        Tile(
            "due_7d",
            "Disputes due in 7 days",
            f"{n_due:,}",
            due.detail if due else "",
            "warn" if n_due else "ok",
            tooltip="Disputes needing a response with a deadline in the next 7 days",
            drill=due.drill if due else {"page": "disputes", "filters": {"due_within_days": 7}},
        )
    )

    fee = heads.get("fees")
    out.append(
        Tile(
            "fees",
            "Effective fee rate",
            fmt_percent(fee.value if fee else None, 2),  # type: ignore[arg-type]
            fee.detail if fee else "no card volume",
            tooltip="PSP fees / gross card volume of the period",
            drill=_period_drill("matches", "booked", d),
        )
    )
    lag = heads.get("lag")
    if lag is not None:
        days = lag.value
        out.append(
            Tile(
                "lag",
                "Capture to bank",
                "n/a" if days is None else f"{days:,} days",  # type: ignore[str-format]
                lag.detail,
                tooltip="Median days from a charge to the bank credit of its payout, slowest PSP",
                drill=_period_drill("matches", "booked", d),
            )
        )
    return out


# -- the bundle ------------------------------------------------------------------------------------


def load_headlines(
    session: Session,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    *,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> DashboardView:
    """The tiles and the picker choices for a period (default: `kpis.default_period`); no
    charts yet (`load_charts` adds them, so a page can show the numbers first).

    Run it inside a committing session (`db.session()` or a background task): missing KPI
    rollups are written on first use and kept.
    """
    started = time.perf_counter()
    today = today or dt.date.today()
    if date_from is None or date_to is None:
        date_from, date_to = kpis.default_period(session, today)
    src = tuple(sorted(sources or ()))
    ps = tuple(sorted(p.lower() for p in psps or ()))
    as_of = min(date_to, today)
    if progress is not None:
        progress(0, 2, "Reading the choices")
    pick = choices(session)
    if progress is not None:
        progress(1, 2, "Computing the headline numbers")
    d = kpis.dashboard(
        session, date_from, date_to, as_of=as_of, now=now, sources=src or None, psps=ps or None
    )
    tiles = [
        Tile(
            t.key, t.label, t.value, t.detail, t.status, t.tooltip, _scope(t.drill, src, ps, as_of)
        )
        for t in build_tiles(d)
    ]
    if progress is not None:
        progress(2, 2, "Headline numbers done")
    return DashboardView(
        date_from=date_from,
        date_to=date_to,
        as_of=as_of,
        sources=src,
        psps=ps,
        tiles=tiles,
        charts={},
        choices=pick,
        seconds=time.perf_counter() - started,
    )


def load_charts(
    session: Session, view: DashboardView, *, progress: Progress | None = None
) -> dict[str, ChartData]:
    """Every dashboard chart for the period and filters of `view`, drills scoped alike."""
    names = charts.chart_names()
    src, ps, as_of = view.sources, view.psps, view.as_of
    drawn: dict[str, ChartData] = {}
    for i, name in enumerate(names):
        if progress is not None:
            progress(i, len(names), f"Computing {name.replace('_', ' ')}")
        data = charts.chart_data(
            session,
            name,
            view.date_from,
            view.date_to,
            sources=src or None,
            psps=ps or None,
            as_of=as_of,
        )
        for s in data.series:
            s.drill = [_scope(x, src, ps, as_of) for x in s.drill]
        drawn[name] = data
    if progress is not None:
        progress(len(names), len(names), "Done")
    return drawn


def load_dashboard(
    session: Session,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    *,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> DashboardView:
    """Tiles, every chart and the picker choices for a period: `load_headlines` then
    `load_charts` in one Session."""
    started = time.perf_counter()
    view = load_headlines(
        session,
        date_from,
        date_to,
        sources=sources,
        psps=psps,
        today=today,
        now=now,
        progress=progress,
    )
    view.charts = load_charts(session, view, progress=progress)
    view.seconds = time.perf_counter() - started
    return view


def _scope(
    drill: dict[str, Any] | None, src: tuple[str, ...], ps: tuple[str, ...], as_of: dt.date
) -> dict[str, Any] | None:
    return scoped_drill(drill, sources=src, psps=ps, as_of=as_of)


__all__ = [
    "Choices",
    "DashboardView",
    "Tile",
    "build_tiles",
    "choices",
    "load_charts",
    "load_dashboard",
    "load_headlines",
    "scoped_drill",
]
