"""Audit log: every change a user makes is appended here (the table refuses UPDATE/DELETE)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ...models import AuditEvent


def log(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event in the caller's transaction."""
    event = AuditEvent(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        detail=detail,
    )
    session.add(event)
    return event
