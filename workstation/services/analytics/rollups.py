"""KPI inputs: per-batch record rollups, live match-state totals and the default period.

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
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, case, exists, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import ImportBatch, KpiRollup, Record, RecordRaw, Source
from .cache import cached
from .measures import empty_frame
from .periods import add_months, month_end, month_start

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

Names = Collection[str] | None  # account (source) or PSP names; None or empty: every one
Day = dt.date | None  # a period bound; None: open-ended

_KEYS = ("source_id", "booked_on", "kind", "currency")
_SUMS = ("n", "abs_minor", "amount_minor")
ROLLUP_COLUMNS = (*_KEYS, "method", "payout_ref", *_SUMS, "fee_minor")
# What the frames add about each line's source, after `source_id`.
SOURCE_COLUMNS = ("source", "source_kind", "provider")
# A share of the month before under which the latest month is only its spill-over.
SPILLOVER_SHARE = Decimal("0.1")


# Python types of the `kpi_rollups` columns that are not integers.
_DB_TYPES: dict[str, Callable[[Any], Any]] = {
    "booked_on": lambda v: v,
    **{c: str for c in ("kind", "currency", "method", "payout_ref")},
}


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


def _sums() -> tuple[Any, ...]:
    """Line count, Σ|amount| and Σ amount of a group of records, labelled as in the frames."""
    return (
        func.count().label("n"),
        func.sum(func.abs(Record.amount_minor)).label("abs_minor"),
        func.sum(Record.amount_minor).label("amount_minor"),
    )


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
    keys = (Record.batch_id, *(getattr(Record, k) for k in _KEYS), method, payout)
    return (
        select(*keys, *_sums(), func.sum(fee).label("fee_minor"))
        .select_from(Record)
        .outerjoin(RecordRaw, RecordRaw.record_id == Record.id)
        .where(Record.batch_id.in_(batch_ids))
        .group_by(*keys)
    )


def _build_rollups(session: Session, batch_ids: Sequence[int]) -> pd.DataFrame:
    dialect = session.get_bind().dialect.name
    try:
        rows = session.execute(_rollup_query(batch_ids, dialect, True)).all()
    except DatabaseError as exc:
        # SQLite: a row whose `raw` is not valid JSON. Keep the totals, without payment methods.
        # (PostgreSQL stores JSONB, which is always valid.)
        if "integer overflow" in str(exc.orig):
            raise _too_large("a money total") from None
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
    keys = ["batch_id", *_KEYS, "method", "payout_ref"]
    check_summable(df, [c for c in (*_SUMS, "fee_minor") if "minor" in c])
    df = df.groupby(keys, as_index=False, sort=False)[[*_SUMS, "fee_minor"]].sum()
    df["booked_on"] = dates_of(df["booked_on"])
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
        cols = list(df.columns)
        conv = [_DB_TYPES.get(c, int) for c in cols]
        rows = [
            {c: f(v) for c, f, v in zip(cols, conv, r, strict=True)}
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


def _with_source(columns: Sequence[Any]) -> list[Any]:
    """`source_id` (the first of `columns`), the source's name, kind and provider, the rest;
    given column names, their names (SOURCE_COLUMNS)."""
    if isinstance(columns[0], str):
        named: Sequence[Any] = SOURCE_COLUMNS
    else:
        named = (Source.name.label("source"), Source.kind.label("source_kind"), Source.provider)
    return [columns[0], *named, *columns[1:]]


@cached("rollups", copy=True)
def rollup_frame(
    session: Session, date_from: Day, date_to: Day, sources: Names = None, psps: Names = None
) -> pd.DataFrame:
    """Rollup rows of committed batches booked in [date_from, date_to], with source details.

    Cached and shared by every KPI of a refresh; callers get their own copy. Columns:
    source_id, source, source_kind, provider, booked_on (date), kind, currency, method,
    payout_ref, n, abs_minor, amount_minor, fee_minor (ints are exact int64).
    """
    ensure_rollups(session)
    q = (
        select(*_with_source([getattr(KpiRollup, c) for c in ROLLUP_COLUMNS]))
        .join(ImportBatch, ImportBatch.id == KpiRollup.batch_id)
        .join(Source, Source.id == KpiRollup.source_id)
        .where(ImportBatch.status == "committed")
    )
    if date_from is not None:
        q = q.where(KpiRollup.booked_on >= date_from)
    if date_to is not None:
        q = q.where(KpiRollup.booked_on <= date_to)
    cols = _with_source(ROLLUP_COLUMNS)
    frame = query_frame(session, _source_filter(q, sources, psps), cols)
    return _typed(frame, (*_SUMS, "fee_minor"))


def open_state_frame(
    session: Session, date_from: Day, date_to: Day, sources: Names = None, psps: Names = None
) -> pd.DataFrame:
    """Live totals of the not-reconciled records (open and ignored) per source, day, kind,
    currency and state, booked in [date_from, date_to]; callers get their own copy.

    Columns: source_id, source, source_kind, provider, booked_on, kind, currency, match_state,
    n, abs_minor, amount_minor.
    """
    # One read of every open line up to `date_to` serves the period (match rate) and all
    # history (ageing): open lines are few, and the index walk costs the same either way.
    df = _open_states_to(session, date_to, sources, psps)
    if date_from is not None and len(df):
        df = df[df["booked_on"] >= date_from]
    return df.copy()


@cached("open_states")
def _open_states_to(session: Session, date_to: Day, sources: Names, psps: Names) -> pd.DataFrame:
    """Every open or ignored line booked up to `date_to`, through the `(match_state, booked_on)`
    index, so it costs in proportion to those lines, not to the table."""
    conds: list[Any] = [Record.match_state.in_(OPEN_STATES + EXCLUDED_STATES)]
    if date_to is not None:
        conds.append(Record.booked_on <= date_to)
    keys = [getattr(Record, k) for k in (*_KEYS, "match_state")]
    inner = select(*keys, *_sums()).where(and_(*conds)).group_by(*keys).subquery()
    names = (*_KEYS, "match_state", *_SUMS)
    q = select(*_with_source([inner.c[c] for c in names])).join(
        Source, Source.id == inner.c.source_id
    )
    frame = query_frame(session, _source_filter(q, sources, psps), _with_source(names))
    return _typed(frame, _SUMS)


def query_frame(session: Session, q: Any, columns: Sequence[str]) -> pd.DataFrame:
    """Result of `q` as a DataFrame, built column-wise (much faster than row objects).

    Money columns (`*minor*`) are checked to be summable exactly (`check_summable`).
    """
    try:
        rows = session.execute(q).all()
    except OperationalError as exc:
        if "integer overflow" not in str(exc.orig):
            raise
        raise _too_large("a money total") from None
    if not rows:
        return empty_frame(columns)
    data = list(zip(*rows, strict=True))
    frame = pd.DataFrame({c: list(v) for c, v in zip(columns, data, strict=True)})
    check_summable(frame, [c for c in columns if "minor" in c])
    return frame


# Below this, every sum of any rows of a frame fits int64 with room to spare, so pandas' and
# numpy's int64 sums (which wrap silently on overflow) are exact.
_SUMMABLE = 2**62


def check_summable(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Refuse money columns whose total could overflow an int64 sum (never show a wrapped one).

    The bound is checked on Σ|value| in float64, whose rounding is far inside the margin.

    Raises:
        UserError: naming the column.
    """
    for c in columns:
        if c not in df.columns or df.empty:
            continue
        values = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=0.0)
        if float(np.abs(values).sum()) >= _SUMMABLE:
            raise _too_large(c)


def _too_large(what: str) -> UserError:
    return UserError(
        f"{what} of the stored lines is too large to be summed exactly (beyond "
        f"{_SUMMABLE:,} minor units); undo the import that holds the implausible amounts"
    )


def chunked_frame(
    session: Session,
    ids: list[int],
    query: Callable[[list[int]], Any],
    columns: list[str],
    size: int = 500,
) -> pd.DataFrame:
    """`query(chunk)` over `ids` in chunks (bounded IN lists), concatenated."""
    parts = [
        query_frame(session, query(ids[i : i + size]), columns) for i in range(0, len(ids), size)
    ]
    return pd.concat(parts, ignore_index=True) if parts else empty_frame(columns)


def _source_filter(q: Any, sources: Names, psps: Names) -> Any:
    if sources:
        q = q.where(Source.name.in_(list(sources)))
    if psps:
        q = q.where(func.lower(Source.provider).in_([p.lower() for p in psps]))
    return q


def _typed(df: pd.DataFrame, int_cols: Sequence[str]) -> pd.DataFrame:
    for c in int_cols:
        df[c] = df[c].astype("int64") if len(df) else pd.Series(dtype="int64")
    if "booked_on" in df.columns and len(df):
        df["booked_on"] = dates_of(df["booked_on"])
    return df


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


def dates_of(values: pd.Series) -> pd.Series:
    """`datetime.date` values of a stored date column (any year up to 9999: pandas' own
    timestamps end in 2262), read once per distinct value."""
    return values.map({v: as_date(v) for v in pd.unique(values) if v is not None})


def as_date(value: Any) -> dt.date:
    """A date from a DATE column value (SQLite returns text from aggregates)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def default_period(session: Session, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The calendar month of the latest booked records (this month when there are none).

    A month's payouts and bank credits spill a few days into the next month; when the latest
    month holds less than a tenth of the lines of the month before, that earlier month is the
    one being worked on.
    """
    span = data_span(session)
    if span is None:
        last = today or dt.date.today()
        return month_start(last), month_end(last)
    last = month_start(span[1])
    prev = add_months(last, -1)
    roll = rollup_frame(session, prev, month_end(last))
    if len(roll):
        starts = pd.Series([month_start(d) for d in roll["booked_on"]], index=roll.index)
        n_last = int(roll.loc[starts == last, "n"].sum())
        n_prev = int(roll.loc[starts == prev, "n"].sum())
        if n_prev and Decimal(n_last) < SPILLOVER_SHARE * n_prev:
            last = prev
    return last, month_end(last)
