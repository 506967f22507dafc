"""The shapes of the metric catalogue: what a metric declares (unit, rollup, thresholds), the scope
a metric is read for (period and filters), its headline number, and the reader through which
tiles, charts and the workbook get metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

UNITS = ("count", "money", "percent", "days", "ratio")
# How a metric's amounts roll up (Rollup.money).
PER_CURRENCY = "per currency, never summed"
ONE_CURRENCY = "in one currency (most card charges); other currencies left out"
NO_AMOUNTS = "no amounts"


@dataclass(frozen=True)
class Scope:
    """What a metric is read for: an inclusive period, the account/PSP filters, the day ages are
    counted from (default: the period's last day) and the clock deadlines are counted from
    (default: now)."""

    date_from: dt.date
    date_to: dt.date
    sources: tuple[str, ...] | None = None
    psps: tuple[str, ...] | None = None
    as_of: dt.date | None = None
    now: dt.datetime | None = None

    @classmethod
    def of(
        cls,
        date_from: dt.date,
        date_to: dt.date,
        *,
        sources: Collection[str] | None = None,
        psps: Collection[str] | None = None,
        as_of: dt.date | None = None,
        now: dt.datetime | None = None,
    ) -> Scope:
        """A scope from any collections of filter names (empty ones mean no filter)."""
        names = tuple(sources or ()) or None, tuple(psps or ()) or None
        return cls(date_from, date_to, *names, as_of, now)

    @property
    def ages_from(self) -> dt.date:
        return self.as_of or self.date_to

    def between(self, date_from: dt.date, date_to: dt.date) -> Scope:
        """The same filters over another period."""
        return replace(self, date_from=date_from, date_to=date_to)


@dataclass(frozen=True)
class Headline:
    """A metric's one number: its value, kind (percent, money, count, days, text), a detail
    line and the drill filter of the queue behind it."""

    key: str
    label: str
    value: Decimal | int | str | None
    kind: str
    currency: str | None = None
    detail: str = ""
    drill: dict[str, Any] | None = None


@dataclass(frozen=True)
class Threshold:
    """A scheme limit on a ratio metric: `ratio` (another one from each change date on), reached
    once the count is at least `min_count` (above it, with `above`)."""

    name: str
    ratio: Decimal
    min_count: int
    above: bool = False
    changes: tuple[tuple[dt.date, Decimal], ...] = ()

    @property
    def label(self) -> str:
        """Name and ratio, as a chart's threshold line is called ("ECM 1.5 %")."""
        return f"{self.name} {self.ratio * 100:.1f} %"

    def at(self, month: dt.date) -> Decimal:
        """The limit in force in `month`."""
        current = self.ratio
        for since, value in self.changes:
            if month >= since:
                current = value
        return current

    def applies(self, count: int) -> bool:
        """Whether the program looks at a month with `count` events."""
        return count > self.min_count if self.above else count >= self.min_count


@dataclass(frozen=True)
class Rollup:
    """How a metric's table breaks down and what may be added up across its rows."""

    by: tuple[str, ...]  # key columns: one row per combination
    adds: str  # what adds up across rows, and so how the headline rolls them up
    money: str = PER_CURRENCY


@dataclass(frozen=True)
class Metric:
    """One KPI as the catalogue defines it; `compute(session, scope, **options)` returns its
    table (a DataFrame, or a list of monthly rows), `headline(table, scope)` its one number.

    `tile`, `charts` and `sheets` name where it is shown (a dashboard tile key, chart names,
    workbook sheet titles); the catalogue test checks each surface reads what it declares.
    """

    name: str
    label: str
    unit: str
    description: str
    compute: Callable[..., Any] = field(repr=False)
    rollup: Rollup
    options: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # first = default
    thresholds: tuple[Threshold, ...] = ()
    headline: Callable[[Any, Scope], Headline | None] | None = field(default=None, repr=False)
    tile: str | None = None
    charts: tuple[str, ...] = ()
    sheets: tuple[str, ...] = ()

    def read(self, session: Session, scope: Scope, **options: Any) -> Any:
        """The metric's table for `scope` (options the metric does not take are an error)."""
        unknown = set(options) - set(self.options)
        if unknown:
            raise ValueError(f"{self.name} takes no option {', '.join(sorted(unknown))}")
        return self.compute(session, scope, **options)


class Reader:
    """Metric tables and headlines for one scope, read through the catalogue's definitions;
    what tiles, charts and the workbook are given (they never query the store themselves)."""

    def __init__(self, session: Session, scope: Scope, metrics: Mapping[str, Metric]) -> None:
        self.session = session
        self.scope = scope
        self.metrics = metrics
        self.seen: list[str] = []  # metric names read, in order

    def __call__(self, name: str, scope: Scope | None = None, **options: Any) -> Any:
        """Metric `name`'s table for `scope` (default: the reader's)."""
        self.seen.append(name)
        return self.metrics[name].read(self.session, scope or self.scope, **options)

    def headline(self, name: str) -> Headline | None:
        """Metric `name`'s headline for the reader's scope (None if it has none)."""
        metric = self.metrics[name]
        if metric.headline is None:
            return None
        return metric.headline(self(name), self.scope)

    def headlines(self) -> list[Headline]:
        """The headline of every metric that has one, in catalogue order."""
        heads = (self.headline(name) for name, m in self.metrics.items() if m.headline)
        return [h for h in heads if h is not None]

    def thresholds(self, name: str) -> tuple[Threshold, ...]:
        return self.metrics[name].thresholds
