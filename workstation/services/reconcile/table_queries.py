"""Table queries for the exceptions and matches pages: SQL filters, SQL sort, keyset pages.

The GUI's tables never load a whole queue: `fetch_page` returns `limit` rows after a keyset key
(sort value, id) and the key of the last row; `count` counts with the same filters; `fetch_ids`
returns every id in order for models that keep only ids and fetch rows (`rows_for_ids`) as they
are painted. Filters are plain dataclasses that round-trip through dicts (saved filters).

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
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import (
    ExceptionCase,
    Match,
    MatchMember,
    Record,
    RecordReference,
    SavedFilter,
    Source,
    User,
)
from ..common import audit
from ..common.reference_tokens import normalise

STATES = ("unmatched", "suggested", "matched", "written_off", "ignored")
OPEN_STATES = ("unmatched", "suggested")
CASE_STATUSES = ("open", "assigned", "pending", "resolved")
MATCH_STATUSES = ("auto", "suggested", "confirmed", "rejected")
AGE_BUCKETS = {"0-2": (0, 2), "3-7": (3, 7), "8-30": (8, 30), ">30": (31, None)}
PAGES = ("exceptions", "matches")


@dataclass
class ExceptionFilters:
    """Filters of the exceptions table (every field optional; empty means no filter).

    Amounts are minor units and compare with the absolute amount; `assignee` is a login, or ""
    for unassigned cases; `text` matches a reference token exactly or external id,
    counterparty and description as a substring; `booked_from`/`booked_to` bound the booking
    date (inclusive).
    """

    states: tuple[str, ...] = OPEN_STATES
    source_kinds: tuple[str, ...] = ()
    source_ids: tuple[int, ...] = ()
    currencies: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    age_bucket: str | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    case_statuses: tuple[str, ...] = ()
    assignee: str | None = None
    text: str | None = None
    booked_from: dt.date | None = None
    booked_to: dt.date | None = None
    today: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("today")
        return {"table": "exceptions", **{k: _plain_value(v) for k, v in d.items()}}


@dataclass
class MatchFilters:
    """Filters of the matches table.

    `psp` keeps matches with a member from a source of that provider (e.g. "stripe");
    `booked_from`/`booked_to` keep matches with a member booked in that range (inclusive).
    """

    statuses: tuple[str, ...] = ("auto", "confirmed", "suggested")
    rules: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    confidence_min: int | None = None
    confidence_max: int | None = None
    with_difference: bool | None = None
    written_off: bool | None = None
    created_by: str | None = None
    text: str | None = None
    psp: str | None = None
    booked_from: dt.date | None = None
    booked_to: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {"table": "matches", **{k: _plain_value(v) for k, v in d.items()}}


Filters = ExceptionFilters | MatchFilters
_DATE_FIELDS = ("booked_from", "booked_to")


def _plain_value(v: Any) -> Any:
    """A filter value as JSON: tuples become lists, dates ISO text."""
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def filters_from_dict(data: dict[str, Any]) -> Filters:
    """Inverse of `to_dict` (unknown keys are ignored)."""
    cls: type[ExceptionFilters] | type[MatchFilters] = (
        MatchFilters if data.get("table") == "matches" else ExceptionFilters
    )
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for k, v in data.items():
        if k in names and k != "today":
            if k in _DATE_FIELDS and isinstance(v, str) and v:
                v = as_date(v)
            kwargs[k] = tuple(v) if isinstance(v, list) else v
    return cls(**kwargs)


@dataclass(frozen=True)
class Sort:
    """Sort column (see EXCEPTION_SORTS / MATCH_SORTS) and direction; ties break on id."""

    column: str = "booked_on"
    descending: bool = False


@dataclass
class Page:
    """Rows of one page and the key to pass as `after_key` for the next (None: last page)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    next_key: tuple[Any, int] | None = None


# --- exceptions -------------------------------------------------------------------------------

R = Record.__table__
C = ExceptionCase.__table__
S = Source.__table__
U = User.__table__
M = Match.__table__
MM = MatchMember.__table__
RR = RecordReference.__table__

EXCEPTION_SORTS: dict[str, ColumnElement[Any]] = {
    "booked_on": R.c.booked_on,
    "amount_minor": R.c.amount_minor,
    "id": R.c.id,
    "priority": func.coalesce(C.c.priority, -1),
    "due_on": func.coalesce(C.c.due_on, literal(dt.date(9999, 12, 31))),
    "currency": R.c.currency,
    "source": R.c.source_id,
}


def _check_values(values: Sequence[str], allowed: Sequence[str], what: str) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise UserError(f"unknown {what} {bad[0]!r}; choose from {', '.join(allowed)}")


def _text_condition(value: str, columns: Sequence[Any], record_id: Any) -> ColumnElement[bool]:
    needle = value.strip()
    like = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    parts: list[ColumnElement[bool]] = [c.ilike(like, escape="\\") for c in columns]
    token = normalise(needle)
    if len(token) >= 4:
        parts.append(record_id.in_(select(RR.c.record_id).where(RR.c.value == token)))
    return or_(*parts)


def _exception_where(session: Session, f: ExceptionFilters) -> list[ColumnElement[bool]]:
    states = tuple(f.states) or OPEN_STATES
    _check_values(states, STATES, "state")
    # literal so SQLite can use the partial indexes on open records
    # literal values: SQLite uses a partial index only for the very term it was built with
    where: list[ColumnElement[bool]] = [
        R.c.match_state.in_([literal_column(f"'{state}'") for state in states])
    ]
    if f.source_kinds:
        where.append(S.c.kind.in_(list(f.source_kinds)))
    if f.source_ids:
        where.append(R.c.source_id.in_([int(i) for i in f.source_ids]))
    if f.currencies:
        where.append(R.c.currency.in_([c.upper() for c in f.currencies]))
    if f.kinds:
        where.append(R.c.kind.in_(list(f.kinds)))
    if f.age_bucket:
        if f.age_bucket not in AGE_BUCKETS:
            raise UserError(f"unknown age bucket {f.age_bucket!r}; use {', '.join(AGE_BUCKETS)}")
        today = f.today or dt.date.today()
        lo, hi = AGE_BUCKETS[f.age_bucket]
        where.append(R.c.booked_on <= today - dt.timedelta(days=lo))
        if hi is not None:
            where.append(R.c.booked_on >= today - dt.timedelta(days=hi))
    if f.booked_from is not None:
        where.append(R.c.booked_on >= as_date(f.booked_from))
    if f.booked_to is not None:
        where.append(R.c.booked_on <= as_date(f.booked_to))
    if f.amount_min is not None:
        where.append(func.abs(R.c.amount_minor) >= int(f.amount_min))
    if f.amount_max is not None:
        where.append(func.abs(R.c.amount_minor) <= int(f.amount_max))
    if f.case_statuses:
        _check_values(f.case_statuses, CASE_STATUSES, "case status")
        where.append(C.c.status.in_(list(f.case_statuses)))
    if f.assignee is not None:
        if f.assignee == "":
            where.append(C.c.assignee_id.is_(None))
        else:
            uid = session.scalar(select(User.id).where(User.login == f.assignee))
            where.append(C.c.assignee_id == (uid if uid is not None else -1))
    if f.text and f.text.strip():
        where.append(
            _text_condition(f.text, [R.c.external_id, R.c.counterparty, R.c.description], R.c.id)
        )
    return where


def _exception_from(f: ExceptionFilters, sort: Sort | None) -> Any:
    """records, joined with sources / cases only when a filter or the sort needs them."""
    src: Any = R
    if f.source_kinds:
        src = src.join(S, S.c.id == R.c.source_id)
    case_sort = sort is not None and sort.column in ("priority", "due_on")
    if f.case_statuses or f.assignee is not None or case_sort:
        src = src.outerjoin(C, C.c.record_id == R.c.id)
    return src


def _exception_select(session: Session, f: ExceptionFilters) -> Select[Any]:
    q = (
        select(
            R.c.id,
            R.c.match_state.label("state"),
            R.c.source_id,
            S.c.name.label("source"),
            S.c.kind.label("source_kind"),
            R.c.kind,
            R.c.external_id,
            R.c.booked_on,
            R.c.amount_minor,
            R.c.currency,
            R.c.counterparty,
            R.c.description,
            C.c.id.label("case_id"),
            C.c.status.label("case_status"),
            C.c.priority,
            C.c.due_on,
            U.c.login.label("assignee"),
            C.c.match_id,
        )
        .select_from(
            R.join(S, S.c.id == R.c.source_id)
            .outerjoin(C, C.c.record_id == R.c.id)
            .outerjoin(U, U.c.id == C.c.assignee_id)
        )
        .where(and_(*_exception_where(session, f)))
    )
    return q


# --- matches --------------------------------------------------------------------------------

MATCH_SORTS: dict[str, ColumnElement[Any]] = {
    "id": M.c.id,
    "confidence": M.c.confidence,
    "difference_minor": M.c.difference_minor,
    "created_at": M.c.created_at,
    "rule": M.c.rule,
}


def _match_where(f: MatchFilters) -> list[ColumnElement[bool]]:
    statuses = tuple(f.statuses) or MATCH_STATUSES
    _check_values(statuses, MATCH_STATUSES, "match status")
    where: list[ColumnElement[bool]] = [M.c.status.in_(list(statuses))]
    if f.rules:
        where.append(M.c.rule.in_(list(f.rules)))
    if f.currencies:
        where.append(M.c.currency.in_([c.upper() for c in f.currencies]))
    if f.confidence_min is not None:
        where.append(M.c.confidence >= int(f.confidence_min))
    if f.confidence_max is not None:
        where.append(M.c.confidence <= int(f.confidence_max))
    if f.with_difference is not None:
        where.append(M.c.difference_minor != 0 if f.with_difference else M.c.difference_minor == 0)
    if f.written_off is not None:
        where.append(
            M.c.writeoff_reason.is_not(None) if f.written_off else M.c.writeoff_reason.is_(None)
        )
    if f.created_by:
        where.append(or_(M.c.created_by == f.created_by, M.c.confirmed_by == f.created_by))
    if f.psp or f.booked_from is not None or f.booked_to is not None:
        member = select(MM.c.match_id).select_from(MM.join(R, R.c.id == MM.c.record_id))
        if f.psp:
            member = member.join(S, S.c.id == R.c.source_id).where(
                S.c.kind == "psp", func.lower(S.c.provider) == f.psp.strip().lower()
            )
        if f.booked_from is not None:
            member = member.where(R.c.booked_on >= as_date(f.booked_from))
        if f.booked_to is not None:
            member = member.where(R.c.booked_on <= as_date(f.booked_to))
        where.append(M.c.id.in_(member))
    if f.text and f.text.strip():
        hit = select(R.c.id).where(
            _text_condition(f.text, [R.c.external_id, R.c.counterparty, R.c.description], R.c.id)
        )
        where.append(
            or_(
                M.c.id.in_(select(MM.c.match_id).where(MM.c.record_id.in_(hit))),
                M.c.note.ilike("%" + f.text.strip() + "%"),
            )
        )
    return where


def _match_select(f: MatchFilters) -> Select[Any]:
    members = select(func.count()).where(MM.c.match_id == M.c.id).scalar_subquery().label("members")
    return select(
        M.c.id,
        M.c.status,
        M.c.rule,
        M.c.confidence,
        M.c.difference_minor,
        M.c.currency,
        M.c.writeoff_reason,
        M.c.writeoff_minor,
        M.c.note,
        M.c.created_at,
        M.c.created_by,
        M.c.confirmed_at,
        M.c.confirmed_by,
        members,
    ).where(and_(*_match_where(f)))


# --- paging ---------------------------------------------------------------------------------


def _plan(
    session: Session, filters: Filters, sort: Sort
) -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any]]:
    if isinstance(filters, MatchFilters):
        sorts, q, idcol = MATCH_SORTS, _match_select(filters), M.c.id
    else:
        sorts, q, idcol = EXCEPTION_SORTS, _exception_select(session, filters), R.c.id
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

    Rows are dicts (see the select lists above); `next_key` is (sort value, id) of the last row,
    or None when no rows follow. Ties on the sort value are broken by id, so paging is stable.
    """
    sort = sort or Sort("booked_on" if isinstance(filters, ExceptionFilters) else "id")
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


def as_date(v: Any) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])


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
        q = select(func.count()).select_from(M).where(and_(*_match_where(filters)))
    else:
        q = (
            select(func.count())
            .select_from(_exception_from(filters, None))
            .where(and_(*_exception_where(session, filters)))
        )
    return int(session.scalar(q) or 0)


def fetch_ids(session: Session, filters: Filters, sort: Sort | None = None) -> np.ndarray:
    """Every selected id in sort order (int64 array), for id-holding table models."""
    sort = sort or Sort("booked_on" if isinstance(filters, ExceptionFilters) else "id")
    if isinstance(filters, MatchFilters):
        key = MATCH_SORTS.get(sort.column)
        if key is None:
            raise UserError(f"cannot sort by {sort.column!r}")
        q = select(M.c.id).where(and_(*_match_where(filters)))
        q = _ordered(q, key, M.c.id, sort.descending)
    else:
        key = EXCEPTION_SORTS.get(sort.column)
        if key is None:
            raise UserError(f"cannot sort by {sort.column!r}")
        q = (
            select(R.c.id)
            .select_from(_exception_from(filters, sort))
            .where(and_(*_exception_where(session, filters)))
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
        q = _match_select(MatchFilters(statuses=MATCH_STATUSES)).where(M.c.id.in_(wanted))
    else:
        every = dataclasses.replace(ExceptionFilters(), states=STATES, today=filters.today)
        q = _exception_select(session, every).where(R.c.id.in_(wanted))
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


# --- saved filters ----------------------------------------------------------------------------


def save_filter(
    session: Session, page: str, owner: str, name: str, filters: Filters, *, actor: str
) -> int:
    """Store (or replace) a named filter of a page for its owner; returns its id."""
    if page not in PAGES:
        raise UserError(f"unknown page {page!r}")
    name = name.strip()
    if not name:
        raise UserError("a saved filter needs a name")
    row = session.scalar(
        select(SavedFilter).where(
            SavedFilter.page == page, SavedFilter.owner == owner, SavedFilter.name == name
        )
    )
    if row is None:
        row = SavedFilter(page=page, owner=owner, name=name, definition=filters.to_dict())
        session.add(row)
    else:
        row.definition = filters.to_dict()
    session.flush()
    audit.log(session, actor, "filter.save", "saved_filter", row.id, {"page": page, "name": name})
    return int(row.id)


def list_filters(session: Session, page: str, owner: str) -> list[tuple[int, str]]:
    """(id, name) of an owner's saved filters of a page, by name."""
    rows = session.execute(
        select(SavedFilter.id, SavedFilter.name)
        .where(SavedFilter.page == page, SavedFilter.owner == owner)
        .order_by(SavedFilter.name)
    ).all()
    return [(int(i), str(n)) for i, n in rows]


def load_filter(session: Session, filter_id: int) -> Filters:
    """The filters a saved filter holds."""
    row = session.get(SavedFilter, filter_id)
    if row is None:
        raise UserError(f"no saved filter {filter_id}")
    return filters_from_dict(dict(row.definition))


def delete_filter(session: Session, filter_id: int, *, actor: str) -> None:
    """Remove a saved filter."""
    row = session.get(SavedFilter, filter_id)
    if row is None:
        raise UserError(f"no saved filter {filter_id}")
    session.delete(row)
    audit.log(session, actor, "filter.delete", "saved_filter", filter_id, {"name": row.name})


# --- far jumps and finding a row ----------------------------------------------------------------


def _narrow(session: Session, filters: Filters, sort: Sort) -> tuple[Select[Any], Any, Any]:
    """(select of the sort key and id only, with the filters; key; id column)."""
    if isinstance(filters, MatchFilters):
        key = MATCH_SORTS.get(sort.column)
        if key is None:
            raise UserError(f"cannot sort by {sort.column!r}")
        q = select(key.label("_key"), M.c.id).where(and_(*_match_where(filters)))
        return q, key, M.c.id
    key = EXCEPTION_SORTS.get(sort.column)
    if key is None:
        raise UserError(f"cannot sort by {sort.column!r}")
    q = (
        select(key.label("_key"), R.c.id)
        .select_from(_exception_from(filters, sort))
        .where(and_(*_exception_where(session, filters)))
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
    sort = sort or Sort("booked_on" if isinstance(filters, ExceptionFilters) else "id")
    q, key, idcol = _narrow(session, filters, sort)
    q = _ordered(q, key, idcol, sort.descending).offset(int(offset) - 1).limit(1)
    rows = _rows(session, q, _open_index(filters, sort))
    if not rows:
        return None
    return _plain(rows[0]["_key"]), int(rows[0]["id"])


def position_of(session: Session, filters: Filters, sort: Sort | None, row_id: int) -> int | None:
    """Rows before `row_id` in `sort` order, or None when the filters do not select it."""
    sort = sort or Sort("booked_on" if isinstance(filters, ExceptionFilters) else "id")
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
        n = select(func.count().label("n")).where(and_(*_match_where(filters)), ahead)
    else:
        n = (
            select(func.count().label("n"))
            .select_from(_exception_from(filters, sort))
            .where(and_(*_exception_where(session, filters)), ahead)
        )
    rows = _rows(session, n, _open_index(filters, sort))
    return int(rows[0]["n"]) if rows else 0
