"""SQL of the exceptions and matches tables: filters as WHERE terms, select lists, sort keys.

The exceptions table is records joined with their source, exception case and assignee; the
matches table is matches with a member count. Joins are added only where a filter or the sort
needs them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import ExceptionCase, Match, MatchMember, Record, RecordReference, Source, User
from ..common.reference_tokens import normalise
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
)

R = Record.__table__
C = ExceptionCase.__table__
S = Source.__table__
U = User.__table__
M = Match.__table__
MM = MatchMember.__table__
RR = RecordReference.__table__

# --- exceptions -------------------------------------------------------------------------------

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


def exception_where(session: Session, f: ExceptionFilters) -> list[ColumnElement[bool]]:
    """WHERE terms of the exceptions table for `f` (unknown values raise UserError)."""
    states = tuple(f.states) or OPEN_STATES
    _check_values(states, STATES, "state")
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


def exception_from(f: ExceptionFilters, sort: Sort | None) -> Any:
    """records, joined with sources / cases only when a filter or the sort needs them."""
    src: Any = R
    if f.source_kinds:
        src = src.join(S, S.c.id == R.c.source_id)
    case_sort = sort is not None and sort.column in ("priority", "due_on")
    if f.case_statuses or f.assignee is not None or case_sort:
        src = src.outerjoin(C, C.c.record_id == R.c.id)
    return src


def exception_select(session: Session, f: ExceptionFilters) -> Select[Any]:
    """The exceptions table: records with source, case and assignee, filtered by `f`."""
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
        .where(and_(*exception_where(session, f)))
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


def match_where(f: MatchFilters) -> list[ColumnElement[bool]]:
    """WHERE terms of the matches table for `f` (unknown statuses raise UserError)."""
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


def match_select(f: MatchFilters) -> Select[Any]:
    """The matches table: matches with their member count, filtered by `f`."""
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
    ).where(and_(*match_where(f)))


def sort_key(filters: Filters, sort: Sort) -> ColumnElement[Any]:
    """The sort column of `sort` in the table `filters` select from."""
    sorts = MATCH_SORTS if isinstance(filters, MatchFilters) else EXCEPTION_SORTS
    key = sorts.get(sort.column)
    if key is None:
        raise UserError(f"cannot sort by {sort.column!r}")
    return key
