"""Table queries for the exceptions and matches pages: SQL filters, SQL sort, keyset pages.

The GUI's tables never load a whole queue: `fetch_page` returns `limit` rows after a keyset key
(sort value, id) and the key of the last row; `count` counts with the same filters; `fetch_ids`
returns every id in order for models that keep only ids and fetch rows (`rows_for_ids`) as they
are painted. Filters are plain dataclasses that round-trip through dicts (`table_filters`, saved
by `saved_filters`); their SQL is `table_selects`.

Open records are served by partial indexes on (booked_on, id) and (amount_minor, id) restricted to
match states unmatched/suggested, so the queue stays fast when most records are matched.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Select, and_, func, literal, select, tuple_
from sqlalchemy.orm import Session

from ...errors import UserError
from .saved_filters import delete_filter, list_filters, load_filter, save_filter
from .table_filters import (
    AGE_BUCKETS,
    CASE_STATUSES,
    MATCH_STATUSES,
    OPEN_STATES,
    STATES,
    ExceptionFilters,
    Filters,
    MatchFilters,
    Sort,
    as_date,
    filters_from_dict,
)
from .table_selects import (
    EXCEPTION_SORTS,
    MATCH_SORTS,
    MM,
    RR,
    M,
    R,
    S,
    exception_from,
    exception_select,
    exception_where,
    match_select,
    match_where,
    sort_key,
)

__all__ = [
    "AGE_BUCKETS",
    "CASE_STATUSES",
    "MATCH_STATUSES",
    "OPEN_STATES",
    "STATES",
    "ExceptionFilters",
    "Filters",
    "MatchFilters",
    "Page",
    "Sort",
    "as_date",
    "count",
    "delete_filter",
    "fetch_ids",
    "fetch_page",
    "filters_from_dict",
    "iter_pages",
    "key_at",
    "list_filters",
    "load_filter",
    "match_members",
    "position_of",
    "references_of",
    "rows_for_ids",
    "save_filter",
]


@dataclass
class Page:
    """Rows of one page and the key to pass as `after_key` for the next (None: last page)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    next_key: tuple[Any, int] | None = None


def _default_sort(filters: Filters, sort: Sort | None) -> Sort:
    """`sort`, or the table's default order: booking date for exceptions, id for matches."""
    return sort or Sort("booked_on" if isinstance(filters, ExceptionFilters) else "id")


def _plan(
    session: Session, filters: Filters, sort: Sort
) -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any]]:
    if isinstance(filters, MatchFilters):
        sorts, q, idcol = MATCH_SORTS, match_select(filters), M.c.id
    else:
        sorts, q, idcol = EXCEPTION_SORTS, exception_select(session, filters), R.c.id
    if sort.column not in sorts:
        raise UserError(f"cannot sort by {sort.column!r}; choose from {', '.join(sorts)}")
    return q, sorts[sort.column], idcol


_OPEN_INDEX = {"booked_on": "ix_records_open_booked", "amount_minor": "ix_records_open_amount"}
_DATE_COLUMNS = ("booked_on", "due_on", "_key")


def _open_index(f: Filters, sort: Sort) -> str | None:
    if isinstance(f, ExceptionFilters) and tuple(f.states or OPEN_STATES) == OPEN_STATES:
        return _OPEN_INDEX.get(sort.column)
    return None


def _rows(session: Session, q: Select[Any], index: str | None) -> list[dict[str, Any]]:
    """Run `q`; on SQLite with `index`, walk that partial index of the open records.

    Without statistics SQLite prefers the (match_state, booked_on) index and sorts every open
    row for each page; naming the partial index (INDEXED BY, which SQLAlchemy cannot emit for
    SQLite) returns the first page in index order.
    """
    conn = session.connection()
    if index is None or conn.dialect.name != "sqlite":
        return [dict(r._mapping) for r in session.execute(q)]
    compiled = q.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    sql = str(compiled)
    head = "FROM records "
    at = sql.find(head)
    if at < 0:
        return [dict(r._mapping) for r in session.execute(q)]
    sql = sql[:at] + f"FROM records INDEXED BY {index} " + sql[at + len(head) :]
    params = compiled.construct_params()
    positional = tuple(params[k] for k in (compiled.positiontup or []))
    cur = conn.exec_driver_sql(sql, positional)
    names = list(cur.keys())
    out = []
    for row in cur:
        d = dict(zip(names, row, strict=True))
        for c in _DATE_COLUMNS:
            if isinstance(d.get(c), str):
                d[c] = as_date(d[c])
        out.append(d)
    return out


def _ordered(
    q: Select[Any], key: ColumnElement[Any], idcol: ColumnElement[Any], desc: bool
) -> Select[Any]:
    if key is idcol:
        return q.order_by(idcol.desc() if desc else idcol.asc())
    if desc:
        return q.order_by(key.desc(), idcol.desc())
    return q.order_by(key.asc(), idcol.asc())


def fetch_page(
    session: Session,
    filters: Filters,
    sort: Sort | None = None,
    after_key: tuple[Any, int] | None = None,
    limit: int = 100,
) -> Page:
    """One page of rows after `after_key` (None: the first page) in `sort` order.

    Rows are dicts (see the select lists in `table_selects`); `next_key` is (sort value, id) of
    the last row, or None when no rows follow. Ties on the sort value are broken by id, so paging
    is stable.
    """
    sort = _default_sort(filters, sort)
    q, key, idcol = _plan(session, filters, sort)
    q = q.add_columns(key.label("_key"))
    if after_key is not None:
        value, last_id = after_key
        if value is None or key is idcol:
            cond = idcol < last_id if sort.descending else idcol > last_id
        elif sort.descending:
            cond = tuple_(key, idcol) < tuple_(literal(value), literal(int(last_id)))
        else:
            cond = tuple_(key, idcol) > tuple_(literal(value), literal(int(last_id)))
        q = q.where(cond)
    q = _ordered(q, key, idcol, sort.descending).limit(int(limit) + 1)
    rows = _rows(session, q, _open_index(filters, sort))
    more = len(rows) > limit
    rows = rows[:limit]
    for r in rows:
        r["_key"] = _plain(r["_key"])
    next_key = (rows[-1]["_key"], int(rows[-1]["id"])) if more and rows else None
    for r in rows:
        r.pop("_key")
        if "booked_on" in r and isinstance(filters, ExceptionFilters):
            today = filters.today or dt.date.today()
            r["age_days"] = (today - as_date(r["booked_on"])).days
    return Page(rows, next_key)


def _plain(v: Any) -> Any:
    if isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-":
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            return v
    return v


def count(session: Session, filters: Filters) -> int:
    """Rows the filters select."""
    if isinstance(filters, MatchFilters):
        q = select(func.count()).select_from(M).where(and_(*match_where(filters)))
    else:
        q = (
            select(func.count())
            .select_from(exception_from(filters, None))
            .where(and_(*exception_where(session, filters)))
        )
    return int(session.scalar(q) or 0)


def fetch_ids(session: Session, filters: Filters, sort: Sort | None = None) -> np.ndarray:
    """Every selected id in sort order (int64 array), for id-holding table models."""
    sort = _default_sort(filters, sort)
    key = sort_key(filters, sort)
    if isinstance(filters, MatchFilters):
        q = select(M.c.id).where(and_(*match_where(filters)))
        q = _ordered(q, key, M.c.id, sort.descending)
    else:
        q = (
            select(R.c.id)
            .select_from(exception_from(filters, sort))
            .where(and_(*exception_where(session, filters)))
        )
        q = _ordered(q, key, R.c.id, sort.descending)
        ids = [r["id"] for r in _rows(session, q, _open_index(filters, sort))]
        return np.fromiter(ids, dtype=np.int64, count=len(ids))
    values = session.execute(q).scalars().all()
    return np.fromiter(values, dtype=np.int64, count=len(values))


def rows_for_ids(session: Session, filters: Filters, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The rows of `ids` (in the given order) with the table's columns; missing ids are skipped."""
    wanted = [int(i) for i in ids]
    if not wanted:
        return []
    if isinstance(filters, MatchFilters):
        q = match_select(MatchFilters(statuses=MATCH_STATUSES)).where(M.c.id.in_(wanted))
    else:
        every = dataclasses.replace(ExceptionFilters(), states=STATES, today=filters.today)
        q = exception_select(session, every).where(R.c.id.in_(wanted))
    found = {int(r.id): dict(r._mapping) for r in session.execute(q)}
    out = []
    for i in wanted:
        row = found.get(i)
        if row is None:
            continue
        if isinstance(filters, ExceptionFilters):
            row["age_days"] = ((filters.today or dt.date.today()) - as_date(row["booked_on"])).days
        out.append(row)
    return out


def match_members(session: Session, match_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Members of matches with their record columns, by match id (for detail panes, exports)."""
    ids = [int(i) for i in match_ids]
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    q = (
        select(
            MM.c.match_id,
            MM.c.record_id,
            MM.c.side,
            MM.c.amount_minor.label("member_amount_minor"),
            S.c.kind.label("source_kind"),
            S.c.name.label("source"),
            R.c.kind,
            R.c.external_id,
            R.c.booked_on,
            R.c.amount_minor,
            R.c.currency,
            R.c.counterparty,
            R.c.description,
            R.c.payout_ref,
        )
        .select_from(MM.join(R, R.c.id == MM.c.record_id).join(S, S.c.id == R.c.source_id))
        .where(MM.c.match_id.in_(ids))
        .order_by(MM.c.match_id, MM.c.side, R.c.booked_on, MM.c.record_id)
    )
    for row in session.execute(q):
        out[int(row.match_id)].append(dict(row._mapping))
    return out


def references_of(session: Session, record_ids: Sequence[int]) -> dict[int, list[str]]:
    """Normalised reference tokens of records, sorted, by record id."""
    ids = sorted({int(i) for i in record_ids})
    out: dict[int, list[str]] = {}
    for i in range(0, len(ids), 500):
        q = (
            select(RR.c.record_id, RR.c.value)
            .where(RR.c.record_id.in_(ids[i : i + 500]))
            .order_by(RR.c.record_id, RR.c.value)
        )
        for rid, value in session.execute(q):
            out.setdefault(int(rid), []).append(str(value))
    return out


def iter_pages(
    session: Session, filters: Filters, sort: Sort | None = None, page_size: int = 5000
) -> Iterator[list[dict[str, Any]]]:
    """Every page of a table in order (exports stream through this)."""
    key: tuple[Any, int] | None = None
    while True:
        page = fetch_page(session, filters, sort, key, page_size)
        if page.rows:
            yield page.rows
        if page.next_key is None:
            return
        key = page.next_key


# --- far jumps and finding a row ----------------------------------------------------------------


def _narrow(session: Session, filters: Filters, sort: Sort) -> tuple[Select[Any], Any, Any]:
    """(select of the sort key and id only, with the filters; key; id column)."""
    key = sort_key(filters, sort)
    if isinstance(filters, MatchFilters):
        q = select(key.label("_key"), M.c.id).where(and_(*match_where(filters)))
        return q, key, M.c.id
    q = (
        select(key.label("_key"), R.c.id)
        .select_from(exception_from(filters, sort))
        .where(and_(*exception_where(session, filters)))
    )
    return q, key, R.c.id


def key_at(
    session: Session, filters: Filters, sort: Sort | None, offset: int
) -> tuple[Any, int] | None:
    """The `after_key` whose `fetch_page` starts at row `offset` (0: None, the first page).

    One OFFSET over the narrow (sort key, id) query, served by the open-records indexes for the
    date and amount orders: a scroll-bar jump anywhere costs one index walk, not a page walk.
    """
    if offset <= 0:
        return None
    sort = _default_sort(filters, sort)
    q, key, idcol = _narrow(session, filters, sort)
    q = _ordered(q, key, idcol, sort.descending).offset(int(offset) - 1).limit(1)
    rows = _rows(session, q, _open_index(filters, sort))
    if not rows:
        return None
    return _plain(rows[0]["_key"]), int(rows[0]["id"])


def position_of(session: Session, filters: Filters, sort: Sort | None, row_id: int) -> int | None:
    """Rows before `row_id` in `sort` order, or None when the filters do not select it."""
    sort = _default_sort(filters, sort)
    q, key, idcol = _narrow(session, filters, sort)
    found = session.execute(q.where(idcol == int(row_id))).first()
    if found is None:
        return None
    value = _plain(found[0])
    if isinstance(filters, ExceptionFilters) and sort.column in _DATE_COLUMNS:
        value = as_date(value)
    rid = int(row_id)
    if key is idcol:
        ahead: ColumnElement[bool] = idcol > rid if sort.descending else idcol < rid
    elif sort.descending:
        ahead = tuple_(key, idcol) > tuple_(literal(value), literal(rid))
    else:
        ahead = tuple_(key, idcol) < tuple_(literal(value), literal(rid))
    if isinstance(filters, MatchFilters):
        n = select(func.count().label("n")).where(and_(*match_where(filters)), ahead)
    else:
        n = (
            select(func.count().label("n"))
            .select_from(exception_from(filters, sort))
            .where(and_(*exception_where(session, filters)), ahead)
        )
    rows = _rows(session, n, _open_index(filters, sort))
    return int(rows[0]["n"]) if rows else 0
