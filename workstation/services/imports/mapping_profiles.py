"""Saved, named column-mapping profiles for tabular imports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import MappingProfile


def load_profile(session: Session, name: str) -> dict[str, Any]:
    """The mapping of profile `name`."""
    prof = session.scalar(select(MappingProfile).where(MappingProfile.name == name))
    if prof is None:
        names = ", ".join(session.scalars(select(MappingProfile.name))) or "none saved yet"
        raise UserError(f"no mapping profile {name!r} (profiles: {names})")
    return dict(prof.mapping)


def save_profile(session: Session, name: str, mapping: dict[str, Any]) -> MappingProfile:
    """Create or replace profile `name`."""
    prof = session.scalar(select(MappingProfile).where(MappingProfile.name == name))
    if prof is None:
        prof = MappingProfile(name=name, mapping=mapping)
        session.add(prof)
    else:
        prof.mapping = mapping
    session.flush()
    return prof


def list_profiles(session: Session) -> list[MappingProfile]:
    """All profiles by name."""
    return list(session.scalars(select(MappingProfile).order_by(MappingProfile.name)))
