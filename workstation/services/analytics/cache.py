"""The KPI cache: a cheap version of everything the metrics read, and an LRU of results keyed by it.

A metric is cached per database, name, arguments and data version (`cached`), so a dashboard
redraw costs a few indexed lookups; `pinned_version` checks the version once for several metrics
read together (a dashboard refresh, a chart, the workbook).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...models import AuditEvent, Dispute, DisputeEvent, ExceptionCase, ImportBatch, Match, Record

T = TypeVar("T")
P = ParamSpec("P")


def data_version(session: Session) -> tuple[Any, ...]:
    """A cheap fingerprint of everything the KPIs read; it changes whenever their inputs do.

    New records, batches, matches, disputes and cases, and every audited change (unmatching,
    match confirmations, write-offs, case moves, undone imports) move one of these numbers; all
    are index lookups, so checking costs milliseconds at a million records.
    """
    parts = (
        select(func.max(Record.id)).scalar_subquery(),
        select(func.max(ImportBatch.id)).scalar_subquery(),
        select(func.count())
        .select_from(ImportBatch)
        .where(ImportBatch.status == "committed")
        .scalar_subquery(),
        select(func.max(AuditEvent.id)).scalar_subquery(),
        select(func.max(Match.id)).scalar_subquery(),
        select(func.max(Dispute.id)).scalar_subquery(),
        select(func.max(Dispute.updated_at)).scalar_subquery(),
        select(func.max(DisputeEvent.id)).scalar_subquery(),
        select(func.max(ExceptionCase.id)).scalar_subquery(),
        select(func.max(ExceptionCase.updated_at)).scalar_subquery(),
    )
    row = session.execute(select(*parts)).one()
    return tuple(str(v) if isinstance(v, dt.datetime) else v for v in row)


def database_key(session: Session) -> str:
    """Identity of the database a session talks to (cache entries never cross databases)."""
    bind = session.get_bind()
    return bind.engine.url.render_as_string(hide_password=True)


class KpiCache:
    """Small LRU of computed KPI results, each stored with the data version it was computed at."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, version: Any, compute: Callable[[], T]) -> T:
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[0] == version:
                self._items.move_to_end(key)
                self.hits += 1
                return item[1]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self.misses += 1
            self._items[key] = (version, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0


CACHE = KpiCache()


def freeze(value: Any) -> Hashable:
    """A hashable, order-independent form of a filter value (lists become sorted tuples)."""
    if value is None or isinstance(value, str | int | dt.date | bool):
        return value
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, Collection):
        return tuple(sorted(str(v) for v in value))
    return str(value)


_VERSION: contextvars.ContextVar[tuple[int, Any] | None] = contextvars.ContextVar(
    "kpi_version", default=None
)


@contextmanager
def pinned_version(session: Session) -> Iterator[Any]:
    """Compute the data version once for several KPI calls (a dashboard refresh)."""
    version = data_version(session)
    token = _VERSION.set((id(session), version))
    try:
        yield version
    finally:
        _VERSION.reset(token)


def cached_value(
    session: Session, name: str, params: tuple[Any, ...], compute: Callable[[], T]
) -> T:
    """`compute()` once per database, `name`, `params` and data version."""
    pinned = _VERSION.get()
    if pinned is not None and pinned[0] == id(session):
        version = pinned[1]
    else:
        version = data_version(session)
    key = (database_key(session), name, tuple(freeze(p) for p in params))
    return CACHE.get_or_compute(key, version, compute)


def cached(
    name: str, *, copy: bool = False
) -> Callable[[Callable[Concatenate[Session, P], T]], Callable[Concatenate[Session, P], T]]:
    """Decorate `fn(session, ...)` so each distinct call is computed once per data version.

    The key is every argument but the session, defaults filled in, so `f(s, a)` and
    `f(s, a, grain="month")` share an entry. With `copy`, callers get a copy of the cached frame
    (for readers that change what they get).
    """

    def wrap(fn: Callable[Concatenate[Session, P], T]) -> Callable[Concatenate[Session, P], T]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def call(session: Session, *args: P.args, **kwargs: P.kwargs) -> T:
            bound = signature.bind(session, *args, **kwargs)
            bound.apply_defaults()
            params = tuple(bound.arguments.values())[1:]
            value = cached_value(session, name, params, lambda: fn(session, *args, **kwargs))
            return value.copy() if copy else value  # type: ignore[attr-defined, no-any-return]

        return call

    return wrap


def clear_cache() -> None:
    """Forget every cached KPI result (tests; after changes made outside the audit trail)."""
    CACHE.clear()
