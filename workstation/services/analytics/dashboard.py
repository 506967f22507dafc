"""What the dashboard page shows for a period: headline tiles with status, chart data, filters.

`load_dashboard(session, date_from, date_to, sources=..., psps=...)` runs in the background
(the catalogue's metrics cache per period and data version, so a redraw is cheap) and returns
plain data the page draws. Tiles (`tiles`) carry display text, a status (`ok`, `warn`, `alert`,
`neutral`) for their colour, and the drill filter of the queue behind them; charts come from
`catalogue.chart_data`.

Drill filters use the vocabulary of `services.analytics.charts` (exceptions: source, currency,
age_bucket, booked_from, booked_to, state; disputes: network, reason_category, psp, status,
opened_from, opened_to, due_within_days; matches: psp, booked_from, booked_to). `scoped_drill`
adds the dashboard's own account/PSP filter to them, and `as_of` (ISO date the ages are counted
from) to age-bucket drills, so the queue opened shows the lines the chart counted.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...models import Dispute, Source
from . import catalogue
from .charts import ChartData
from .periods import months
from .reading import Scope
from .rollups import data_span
from .tiles import Tile, build_tiles

Progress = Callable[[int, int, str], None]

MONTHS_OFFERED = 36  # months listed in the period picker, newest first
# Tile keys in display order: the catalogue's metrics that name a tile, as they stand there.
TILE_KEYS = tuple(m.tile for m in catalogue.METRICS.values() if m.tile)


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


def choices(session: Session) -> Choices:
    """Months with data (newest first), account names and PSP names for the pickers."""
    span = data_span(session)
    offered: list[dt.date] = []
    if span is not None:
        offered = months(span[0], span[1])[::-1][:MONTHS_OFFERED]
    rows = session.execute(select(Source.name, Source.kind, Source.provider)).all()
    sources = sorted(str(n) for n, _, _ in rows)
    psps = {str(p).lower() for _, k, p in rows if k == "psp" and p}
    psps |= {str(p).lower() for p in session.scalars(select(func.distinct(Dispute.psp))) if p}
    return Choices(months=offered, sources=sources, psps=sorted(psps))


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
    """The tiles and the picker choices for a period (default: `catalogue.default_period`); no
    charts yet (`load_charts` adds them, so a page can show the numbers first).

    Run it inside a committing session (`db.session()` or a background task): missing KPI
    rollups are written on first use and kept.
    """
    started = time.perf_counter()
    today = today or dt.date.today()
    if date_from is None or date_to is None:
        date_from, date_to = catalogue.default_period(session, today)
    src = tuple(sorted(sources or ()))
    ps = tuple(sorted(p.lower() for p in psps or ()))
    as_of = min(date_to, today)
    if progress is not None:
        progress(0, 2, "Reading the choices")
    pick = choices(session)
    if progress is not None:
        progress(1, 2, "Computing the headline numbers")
    scope = Scope.of(date_from, date_to, sources=src, psps=ps, as_of=as_of, now=now)
    with catalogue.reading(session, scope) as read:
        tiles = [replace(t, drill=_scope(t.drill, src, ps, as_of)) for t in build_tiles(read)]
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
    names = catalogue.chart_names()
    src, ps, as_of = view.sources, view.psps, view.as_of
    drawn: dict[str, ChartData] = {}
    for i, name in enumerate(names):
        if progress is not None:
            progress(i, len(names), f"Computing {name.replace('_', ' ')}")
        data = catalogue.chart_data(
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


def load_dashboard(session: Session, *args: Any, **kwargs: Any) -> DashboardView:
    """Tiles, every chart and the picker choices for a period: `load_headlines` (with the same
    arguments) then `load_charts`, in one Session."""
    started = time.perf_counter()
    view = load_headlines(session, *args, **kwargs)
    view.charts = load_charts(session, view, progress=kwargs.get("progress"))
    view.seconds = time.perf_counter() - started
    return view


def _scope(
    drill: dict[str, Any] | None, src: tuple[str, ...], ps: tuple[str, ...], as_of: dt.date
) -> dict[str, Any] | None:
    return scoped_drill(drill, sources=src, psps=ps, as_of=as_of)


__all__ = [
    "TILE_KEYS",
    "Choices",
    "DashboardView",
    "Tile",
    "choices",
    "load_charts",
    "load_dashboard",
    "load_headlines",
    "scoped_drill",
]
