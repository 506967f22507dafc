"""Drill-down filters (plain dicts from the dashboard) into the tables' filter objects (no Qt)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import Source
from ...services.reconcile.table_queries import ExceptionFilters, MatchFilters, as_date

SOURCE_KIND_WORDS = {"ledger", "psp", "bank", "other"}


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, list | tuple | set):
        return tuple(value)
    return (value,)


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return as_date(value)
    except ValueError as exc:
        raise UserError(f"not a date: {value!r}") from exc


def _fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _generic(cls: type, data: dict[str, Any], skip: set[str]) -> dict[str, Any]:
    """The keys of `data` that are fields of `cls`, converted to the field's shape."""
    out: dict[str, Any] = {}
    for name, f in _fields(cls).items():
        if name in skip or name not in data:
            continue
        value = data[name]
        default = f.default if f.default is not dataclasses.MISSING else None
        if isinstance(default, tuple):
            out[name] = _tuple(value)
        elif name in ("booked_from", "booked_to", "today"):
            out[name] = _date(value)
        else:
            out[name] = value
    return out


def exception_filters(session: Session, data: dict[str, Any]) -> ExceptionFilters:
    """ExceptionFilters from a drill dict: source (a source name or kind), currency,
    age_bucket, booked_from, booked_to, state, as_of, psp, and any ExceptionFilters field."""
    kw = _generic(ExceptionFilters, data, skip=set())
    ids = list(kw.get("source_ids", ()))
    kinds = list(kw.get("source_kinds", ()))
    for name in _tuple(data.get("source")):
        text = str(name)
        if text.lower() in SOURCE_KIND_WORDS:
            kinds.append(text.lower())
            continue
        found = session.scalar(select(Source.id).where(Source.name == text))
        if found is None:
            raise UserError(f"no account named {text!r}")
        ids.append(int(found))
    for psp in _tuple(data.get("psp")):
        ids += [
            int(i)
            for i in session.scalars(
                select(Source.id).where(
                    Source.kind == "psp", func.lower(Source.provider) == str(psp).lower()
                )
            )
        ]
    if ids:
        kw["source_ids"] = tuple(dict.fromkeys(int(i) for i in ids))
    if kinds:
        kw["source_kinds"] = tuple(dict.fromkeys(kinds))
    if data.get("currency"):
        kw["currencies"] = tuple(str(c).upper() for c in _tuple(data["currency"]))
    if data.get("state"):
        kw["states"] = tuple(str(s) for s in _tuple(data["state"]))
    if data.get("as_of"):
        kw["today"] = _date(data["as_of"])
    return ExceptionFilters(**kw)


def match_filters(data: dict[str, Any]) -> MatchFilters:
    """MatchFilters from a drill dict: psp, booked_from, booked_to, status, rule, currency and
    any MatchFilters field."""
    kw = _generic(MatchFilters, data, skip=set())
    if data.get("status"):
        kw["statuses"] = tuple(str(s) for s in _tuple(data["status"]))
    if data.get("rule"):
        kw["rules"] = tuple(str(s) for s in _tuple(data["rule"]))
    if data.get("currency"):
        kw["currencies"] = tuple(str(c).upper() for c in _tuple(data["currency"]))
    if kw.get("psp") is not None:
        kw["psp"] = str(kw["psp"]).lower() or None
    return MatchFilters(**kw)
