"""Filters and sort of the exceptions and matches tables, as plain dataclasses.

Filters round-trip through dicts (saved filters, the roundtrip workbook's meta); an empty field
means no filter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

STATES = ("unmatched", "suggested", "matched", "written_off", "ignored")
OPEN_STATES = ("unmatched", "suggested")
CASE_STATUSES = ("open", "assigned", "pending", "resolved")
MATCH_STATUSES = ("auto", "suggested", "confirmed", "rejected")
AGE_BUCKETS = {"0-2": (0, 2), "3-7": (3, 7), "8-30": (8, 30), ">30": (31, None)}


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


def as_date(v: Any) -> dt.date:
    """A date, or ISO text starting with one, as a date."""
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])
