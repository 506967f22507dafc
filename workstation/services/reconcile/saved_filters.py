"""Saved filters of the exceptions and matches pages: named, per owner, audited."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import SavedFilter
from ..common import audit
from .table_filters import Filters, filters_from_dict

PAGES = ("exceptions", "matches")


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
