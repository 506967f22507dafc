"""KPI inputs: per-batch record rollups, live match-state totals, a data version and a small cache.

Aggregating a million records with GROUP BY costs SQLite about a second (the sorter, not the
scan), so the immutable facts of each import batch (date, source, kind, currency, payment method,
payout, amounts, fees) are summed once into `kpi_rollups` and later read as a few thousand rows.
What changes after import, the records' `match_state`, is read live through the
`(match_state, booked_on)` index, and only for the states that are not reconciled, which after
reconciliation are a small share of the records.

Missing rollups are written into the caller's transaction: run KPI calls inside `db.session()`
(which commits) so they are kept, or call `ensure_rollups` after an import.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Sequence
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import (
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from ...models import (
    AuditEvent,
    Dispute,
    DisputeEvent,
    ExceptionCase,
    ImportBatch,
    KpiRollup,
    Match,
    Record,
    RecordRaw,
    Source,
)

T = TypeVar("T")

# Keys of a record's original row that name the payment method or card brand, most specific first
# (Stripe card_brand, Braintree Card Type, Adyen Payment Method, generic names).
METHOD_KEYS: tuple[str, ...] = (
    "card_brand",
    "Card Type",
    "Payment Method",
    "payment_method",
    "payment_method_type",
    "brand",
    "method",
)
# Kinds whose payment method is looked up (fees and payouts have none).
_METHOD_KINDS = ("charge", "refund")
# Kinds whose payout id is kept in the rollup (settlement lag).
_PAYOUT_KINDS = ("charge", "payout")
# Record states that count as reconciled, open, and out of scope.
RECONCILED_STATES = ("matched", "written_off")
OPEN_STATES = ("unmatched", "suggested")
EXCLUDED_STATES = ("ignored",)

ROLLUP_COLUMNS = (
    "source_id",
    "booked_on",
    "kind",
    "currency",
    "method",
    "payout_ref",
    "n",
    "abs_minor",
    "amount_minor",
    "fee_minor",
)


# -- rollups --------------------------------------------------------------------------------------


def _method_expr(dialect: str) -> Any:
    """SQL for the raw method text of a record (dialect-specific; parsed by `method_of`)."""
    if dialect == "sqlite":
        # One json_extract with several paths parses the JSON once and returns an array.
        paths = ['$."' + k.replace('"', '\\"') + '"' for k in METHOD_KEYS]
        return func.json_extract(RecordRaw.raw, *paths)
    return func.coalesce(*(RecordRaw.raw[k].as_string() for k in METHOD_KEYS))


def method_of(value: Any, dialect: str) -> str:
    """First non-empty method from the SQL expression's value, lower-case, ≤ 32 characters."""
    if value is None or (isinstance(value, float) and value != value):  # NULL, or NaN from pandas
        return ""
    if dialect == "sqlite":
        try:
            items = json.loads(value)
        except (TypeError, ValueError):
            items = [value]
        if not isinstance(items, list):
            items = [items]
    else:
        items = [value]
    for item in items:
        if item is not None and not isinstance(item, dict | list | float):
            text_value = str(item).strip().lower()
            if text_value:
                return text_value[:32]
    return ""


def _rollup_query(batch_ids: Sequence[int], dialect: str, with_method: bool) -> Select[Any]:
    method = (
        case((Record.kind.in_(_METHOD_KINDS), _method_expr(dialect)), else_=None)
        if with_method
        else literal(None)
    ).label("method")
    payout = case(
        (Record.kind.in_(_PAYOUT_KINDS), func.coalesce(Record.payout_ref, "")), else_=""
    ).label("payout_ref")
    fee = func.coalesce(
        Record.fee_minor, case((Record.kind == "fee", -Record.amount_minor), else_=0)
    )
    return (
        select(
            Record.batch_id,
            Record.source_id,
            Record.booked_on,
            Record.kind,
            Record.currency,
            method,
            payout,
            func.count().label("n"),
            func.sum(func.abs(Record.amount_minor)).label("abs_minor"),
            func.sum(Record.amount_minor).label("amount_minor"),
            func.sum(fee).label("fee_minor"),
        )
        .select_from(Record)
        .outerjoin(RecordRaw, RecordRaw.record_id == Record.id)
        .where(Record.batch_id.in_(batch_ids))
        .group_by(
            Record.batch_id,
            Record.source_id,
            Record.booked_on,
            Record.kind,
            Record.currency,
            method,
            payout,
        )
    )


def _build_rollups(session: Session, batch_ids: Sequence[int]) -> pd.DataFrame:
    dialect = session.get_bind().dialect.name
    try:
        rows = session.execute(_rollup_query(batch_ids, dialect, True)).all()
    except DatabaseError as exc:
        # SQLite: a row whose `raw` is not valid JSON. Keep the totals, without payment methods.
        # (PostgreSQL stores JSONB, which is always valid.)
        if dialect != "sqlite" or "JSON" not in str(exc.orig):
            raise
        rows = session.execute(_rollup_query(batch_ids, dialect, False)).all()
    cols = ["batch_id", *ROLLUP_COLUMNS]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame({c: list(v) for c, v in zip(cols, zip(*rows, strict=True), strict=True)})
    df["method"] = [method_of(v, dialect) for v in df["method"]]
    df["payout_ref"] = df["payout_ref"].fillna("").astype(str).str.slice(0, 128)
    # Two raw spellings of one method can now share a key: sum them.
    keys = ["batch_id", "source_id", "booked_on", "kind", "currency", "method", "payout_ref"]
    df = df.groupby(keys, as_index=False, sort=False)[
        ["n", "abs_minor", "amount_minor", "fee_minor"]
    ].sum()
    df["booked_on"] = pd.to_datetime(df["booked_on"]).dt.date
    return df


def ensure_rollups(
    session: Session, *, progress: Callable[[int, int, str], None] | None = None
) -> int:
    """Build the rollups of committed batches that have none; returns the batches rolled up.

    Written into the caller's transaction (no commit); concurrent builders do not clash
    (`ON CONFLICT DO NOTHING`).
    """
    missing = list(
        session.scalars(
            select(ImportBatch.id)
            .where(
                ImportBatch.status == "committed",
                ~exists().where(KpiRollup.batch_id == ImportBatch.id),
            )
            .order_by(ImportBatch.id)
        )
    )
    if not missing:
        return 0
    dialect = session.get_bind().dialect.name
    chunk = 200
    for i in range(0, len(missing), chunk):
        ids = missing[i : i + chunk]
        if progress is not None:
            progress(i, len(missing), "Summing imported lines")
        df = _build_rollups(session, ids)
        if df.empty:
            continue
        rows = [
            {
                "batch_id": int(r.batch_id),
                "source_id": int(r.source_id),
                "booked_on": r.booked_on,
                "kind": str(r.kind),
                "currency": str(r.currency),
                "method": str(r.method),
                "payout_ref": str(r.payout_ref),
                "n": int(r.n),
                "abs_minor": int(r.abs_minor),
                "amount_minor": int(r.amount_minor),
                "fee_minor": int(r.fee_minor),
            }
            for r in df.itertuples(index=False)
        ]
        table: Any = KpiRollup.__table__
        if dialect == "sqlite":
            stmt: Any = sqlite.insert(table).on_conflict_do_nothing()
        elif dialect == "postgresql":
            stmt = postgresql.insert(table).on_conflict_do_nothing()
        else:  # pragma: no cover - other backends: plain insert
            stmt = table.insert()
        session.execute(stmt, rows)
    return len(missing)


def rollup_frame(
    session: Session,
    date_from: dt.date | None,
    date_to: dt.date | None,
    *,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
) -> pd.DataFrame:
    """Rollup rows of committed batches booked in [date_from, date_to], with source details.

    Columns: source_id, source, source_kind, provider, booked_on (date), kind, currency, method,
    payout_ref, n, abs_minor, amount_minor, fee_minor (ints are exact int64).
    """
    ensure_rollups(session)
    q = (
        select(
            KpiRollup.source_id,
            Source.name.label("source"),
            Source.kind.label("source_kind"),
            Source.provider,
            KpiRollup.booked_on,
            KpiRollup.kind,
            KpiRollup.currency,
            KpiRollup.method,
            KpiRollup.payout_ref,
            KpiRollup.n,
            KpiRollup.abs_minor,
            KpiRollup.amount_minor,
            KpiRollup.fee_minor,
        )
        .join(ImportBatch, ImportBatch.id == KpiRollup.batch_id)
        .join(Source, Source.id == KpiRollup.source_id)
        .where(ImportBatch.status == "committed")
    )
    if date_from is not None:
        q = q.where(KpiRollup.booked_on >= date_from)
    if date_to is not None:
        q = q.where(KpiRollup.booked_on <= date_to)
    q = _source_filter(q, sources, psps)
    cols = [
        "source_id",
        "source",
        "source_kind",
        "provider",
        "booked_on",
        "kind",
        "currency",
        "method",
        "payout_ref",
        "n",
        "abs_minor",
        "amount_minor",
        "fee_minor",
    ]
    return _typed(query_frame(session, q, cols), ("n", "abs_minor", "amount_minor", "fee_minor"))


def query_frame(session: Session, q: Any, columns: Sequence[str]) -> pd.DataFrame:
    """Result of `q` as a DataFrame, built column-wise (much faster than row objects)."""
    rows = session.execute(q).all()
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    data = list(zip(*rows, strict=True))
    return pd.DataFrame({c: list(v) for c, v in zip(columns, data, strict=True)})


def _source_filter(q: Any, sources: Collection[str] | None, psps: Collection[str] | None) -> Any:
    if sources:
        q = q.where(Source.name.in_(list(sources)))
    if psps:
        q = q.where(func.lower(Source.provider).in_([p.lower() for p in psps]))
    return q


def _typed(df: pd.DataFrame, int_cols: Sequence[str]) -> pd.DataFrame:
    for c in int_cols:
        df[c] = df[c].astype("int64") if len(df) else pd.Series(dtype="int64")
    if "booked_on" in df.columns and len(df):
        df["booked_on"] = pd.to_datetime(df["booked_on"]).dt.date
    return df


def open_state_frame(
    session: Session,
    date_from: dt.date | None,
    date_to: dt.date | None,
    *,
    states: Sequence[str] = OPEN_STATES + EXCLUDED_STATES,
    sources: Collection[str] | None = None,
    psps: Collection[str] | None = None,
) -> pd.DataFrame:
    """Live totals of records in `states` per source, day, kind, currency and state.

    Reads through the `(match_state, booked_on)` index, so it costs in proportion to the records
    in those states, not to the table. Columns: source_id, source, source_kind, provider,
    booked_on, kind, currency, match_state, n, abs_minor, amount_minor.
    """
    conds: list[Any] = [Record.match_state.in_(list(states))]
    if date_from is not None:
        conds.append(Record.booked_on >= date_from)
    if date_to is not None:
        conds.append(Record.booked_on <= date_to)
    inner = (
        select(
            Record.source_id,
            Record.booked_on,
            Record.kind,
            Record.currency,
            Record.match_state,
            func.count().label("n"),
            func.sum(func.abs(Record.amount_minor)).label("abs_minor"),
            func.sum(Record.amount_minor).label("amount_minor"),
        )
        .where(and_(*conds))
        .group_by(
            Record.source_id, Record.booked_on, Record.kind, Record.currency, Record.match_state
        )
        .subquery()
    )
    q = select(
        inner.c.source_id,
        Source.name.label("source"),
        Source.kind.label("source_kind"),
        Source.provider,
        inner.c.booked_on,
        inner.c.kind,
        inner.c.currency,
        inner.c.match_state,
        inner.c.n,
        inner.c.abs_minor,
        inner.c.amount_minor,
    ).join(Source, Source.id == inner.c.source_id)
    q = _source_filter(q, sources, psps)
    cols = [
        "source_id",
        "source",
        "source_kind",
        "provider",
        "booked_on",
        "kind",
        "currency",
        "match_state",
        "n",
        "abs_minor",
        "amount_minor",
    ]
    return _typed(query_frame(session, q, cols), ("n", "abs_minor", "amount_minor"))


def data_span(session: Session) -> tuple[dt.date, dt.date] | None:
    """First and last booking date of committed records (from the rollups), or None if empty."""
    ensure_rollups(session)
    lo, hi = session.execute(
        select(func.min(KpiRollup.booked_on), func.max(KpiRollup.booked_on))
        .join(ImportBatch, ImportBatch.id == KpiRollup.batch_id)
        .where(ImportBatch.status == "committed")
    ).one()
    if lo is None or hi is None:
        return None
    return as_date(lo), as_date(hi)


def as_date(value: Any) -> dt.date:
    """A date from a DATE column value (SQLite returns text from aggregates)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


# -- data version and cache ----------------------------------------------------------------------


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


__all__ = [
    "CACHE",
    "EXCLUDED_STATES",
    "METHOD_KEYS",
    "OPEN_STATES",
    "RECONCILED_STATES",
    "KpiCache",
    "as_date",
    "data_span",
    "data_version",
    "database_key",
    "ensure_rollups",
    "freeze",
    "method_of",
    "open_state_frame",
    "query_frame",
    "rollup_frame",
]
