"""What the match workspace shows for one record, read in one background Session (no Qt)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import CaseNote, ExceptionCase, Match, MatchMember
from ...services.reconcile import table_queries, why_not
from ...services.reconcile.why_not import Candidate


@dataclass
class WorkspaceData:
    """A record, its references, ranked candidates, its suggested match and its case notes."""

    record_id: int
    record: dict[str, Any]
    references: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    match: dict[str, Any] | None = None
    members: list[dict[str, Any]] = field(default_factory=list)
    case: dict[str, Any] | None = None
    notes: list[tuple[int, str, str, dt.datetime | None]] = field(default_factory=list)


def suggested_match_of(session: Session, record_id: int) -> int | None:
    """The suggested match a record is in, if any."""
    return session.scalar(
        select(Match.id)
        .join(MatchMember, MatchMember.match_id == Match.id)
        .where(MatchMember.record_id == int(record_id), Match.status == "suggested")
        .order_by(Match.id)
        .limit(1)
    )


def load(session: Session, record_id: int, *, limit: int = 10) -> WorkspaceData:
    """Everything the workspace shows for `record_id`."""
    rid = int(record_id)
    explained = why_not.why_not(session, rid, limit=limit)
    data = WorkspaceData(record_id=rid, record=explained.record, candidates=explained.candidates)
    data.references = table_queries.references_of(session, [rid]).get(rid, [])
    mid = suggested_match_of(session, rid)
    if mid is not None:
        rows = table_queries.rows_for_ids(session, table_queries.MatchFilters(), [mid])
        data.match = rows[0] if rows else None
        data.members = table_queries.match_members(session, [mid]).get(mid, [])
    case = session.scalar(select(ExceptionCase).where(ExceptionCase.record_id == rid))
    if case is not None:
        data.case = {
            "id": case.id,
            "status": case.status,
            "priority": case.priority,
            "due_on": case.due_on,
            "resolution": case.resolution,
            "reopen_count": case.reopen_count,
        }
        data.notes = [
            (n.id, n.author, n.text, n.created_at)
            for n in session.scalars(
                select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)
            )
        ]
    return data
