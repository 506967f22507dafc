"""Row state of the round trip: what a decision on a queue row depends on, and its row version.

The row version is a hash of the row's decision-relevant state (exceptions: match state, case,
status, assignee, resolution, reopen count; disputes: status, stage, assignee, deadline,
submission, latest decision), so a note or a priority refresh by someone else is not a conflict
but an assignment or a resolution is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import CaseNote, Dispute, DisputeEvent, ExceptionCase, Record, User
from ..disputes import intake as disputes

_CHUNK = 500


@dataclass(frozen=True)
class ExceptionState:
    """What a decision on an exceptions row depends on."""

    id: int  # record id
    label: str  # external id
    match_state: str
    case_id: int | None
    status: str | None
    assignee: str | None
    resolution: str | None
    reopen_count: int

    @property
    def target_id(self) -> int | None:
        return self.case_id

    def version(self) -> str:
        return _digest(
            "exceptions",
            self.id,
            self.match_state,
            self.case_id,
            self.status,
            self.assignee,
            self.resolution,
            self.reopen_count,
        )

    def describe(self) -> str:
        if self.case_id is None:
            return f"no case ({self.match_state})"
        if self.status == "resolved":
            return f"resolved ({self.resolution})"
        who = f"assigned to {self.assignee}" if self.assignee else "unassigned"
        return who if self.status in ("open", "assigned") else f"{self.status}, {who}"


@dataclass(frozen=True)
class DisputeState:
    """What a decision on a disputes row depends on."""

    id: int
    label: str  # the PSP's dispute id
    status: str
    stage: str
    assignee: str | None
    due_by: str | None
    locked: bool
    decision: str | None  # latest accept/fight decision
    decision_event: int | None

    @property
    def target_id(self) -> int:
        return self.id

    def version(self) -> str:
        return _digest(
            "disputes",
            self.id,
            self.status,
            self.stage,
            self.assignee,
            self.due_by,
            self.locked,
            self.decision_event,
        )

    def describe(self) -> str:
        parts = [self.status.replace("_", " ")]
        if self.locked:
            parts.append("submitted")
        elif self.decision and self.status == "needs_response":
            parts.append(self.decision)
        if self.status in ("needs_response", "under_review"):
            parts.append(f"assigned to {self.assignee}" if self.assignee else "unassigned")
        return ", ".join(parts)


State = ExceptionState | DisputeState


def _digest(*parts: Any) -> str:
    text = "|".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    ordered = sorted({int(i) for i in ids})
    for i in range(0, len(ordered), _CHUNK):
        yield ordered[i : i + _CHUNK]


def exception_states(session: Session, record_ids: Sequence[int]) -> dict[int, ExceptionState]:
    """Current decision-relevant state of exceptions rows (records) by record id."""
    out: dict[int, ExceptionState] = {}
    for chunk in _chunks(record_ids):
        q = (
            select(
                Record.id,
                Record.external_id,
                Record.match_state,
                ExceptionCase.id,
                ExceptionCase.status,
                User.login,
                ExceptionCase.resolution,
                ExceptionCase.reopen_count,
            )
            .select_from(Record)
            .outerjoin(ExceptionCase, ExceptionCase.record_id == Record.id)
            .outerjoin(User, User.id == ExceptionCase.assignee_id)
            .where(Record.id.in_(chunk))
        )
        for rid, ext, state, cid, status, login, resolution, reopens in session.execute(q):
            out[int(rid)] = ExceptionState(
                id=int(rid),
                label=str(ext or ""),
                match_state=str(state),
                case_id=None if cid is None else int(cid),
                status=status,
                assignee=login,
                resolution=resolution,
                reopen_count=int(reopens or 0),
            )
    return out


def dispute_states(session: Session, dispute_ids: Sequence[int]) -> dict[int, DisputeState]:
    """Current decision-relevant state of disputes rows by dispute id."""
    out: dict[int, DisputeState] = {}
    for chunk in _chunks(dispute_ids):
        decided = disputes.last_decisions(session, chunk)
        q = (
            select(
                Dispute.id,
                Dispute.psp_dispute_id,
                Dispute.status,
                Dispute.stage,
                User.login,
                Dispute.due_by,
                Dispute.evidence_locked,
            )
            .outerjoin(User, User.id == Dispute.assignee_id)
            .where(Dispute.id.in_(chunk))
        )
        for did, ref, status, stage, login, due_by, locked in session.execute(q):
            event, decision = decided.get(int(did), (None, None))
            out[int(did)] = DisputeState(
                id=int(did),
                label=str(ref),
                status=str(status),
                stage=str(stage),
                assignee=login,
                due_by=None if due_by is None else due_by.astimezone(dt.UTC).isoformat(),
                locked=bool(locked),
                decision=decision,
                decision_event=event,
            )
    return out


def existing_notes(session: Session, queue: str, states: dict[int, Any]) -> dict[int, set[str]]:
    """Note texts already on the rows' cases, by row id (re-applying a file adds no duplicate)."""
    out: dict[int, set[str]] = {}
    if queue == "exceptions":
        by_case = {st.case_id: rid for rid, st in states.items() if st.case_id is not None}
        for chunk in _chunks(list(by_case)):
            q = select(CaseNote.case_id, CaseNote.text).where(CaseNote.case_id.in_(chunk))
            for cid, text in session.execute(q):
                out.setdefault(by_case[int(cid)], set()).add(str(text).strip())
    else:
        for chunk in _chunks(list(states)):
            events = select(DisputeEvent.dispute_id, DisputeEvent.detail).where(
                DisputeEvent.dispute_id.in_(chunk), DisputeEvent.kind == "note"
            )
            for did, detail in session.execute(events):
                info: dict[str, Any] = dict(detail or {})
                out.setdefault(int(did), set()).add(str(info.get("text", "")).strip())
    return out


def row_states(session: Session, queue: str, ids: Sequence[int]) -> dict[int, Any]:
    """Current state of the rows `ids` of `queue`, by row id (unknown ids are left out)."""
    if queue == "exceptions":
        return exception_states(session, ids)
    return dispute_states(session, ids)


def states_and_notes(
    session: Session, queue: str, rows: Sequence[tuple[int, str]]
) -> tuple[dict[int, Any], dict[int, set[str]]]:
    """Current state of rows (id, note), and the note texts already on the rows with a note."""
    states = row_states(session, queue, [rid for rid, _ in rows])
    noted = existing_notes(
        session, queue, {rid: states[rid] for rid, note in rows if note and rid in states}
    )
    return states, noted
