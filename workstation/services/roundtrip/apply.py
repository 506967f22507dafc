"""Applying a decision plan: lock the rows, check them again, apply the clean ones.

The rows are locked before their state is read again (`common.row_locks`: FOR UPDATE on
PostgreSQL, the write lock on SQLite), so of several clerks applying workbooks exported from the
same state at once, one applies a row and the others find it changed: a conflict, not applied.
Changes go through the services the app uses (`cases.*`, `dispute_queue.assign`,
`disputes.decide`, notes), with one audit event per change (action `roundtrip.apply`, detail
`source: excel-roundtrip`) besides the services' own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from ...models import Dispute, ExceptionCase, Record
from ..common import audit
from ..common.row_locks import lock_rows
from ..disputes import intake as disputes
from ..disputes import queue as dispute_queue
from ..reconcile import cases
from .decision_grammar import evaluate_with_note
from .plan import Change, RoundtripPlan
from .row_state import DisputeState, State, states_and_notes

Progress = Callable[[int, int, str], None]

SOURCE = "excel-roundtrip"
AUDIT_ACTION = "roundtrip.apply"


@dataclass
class ApplyReport:
    """What `apply_roundtrip` did."""

    applied: list[Change] = field(default_factory=list)
    conflicts: list[Change] = field(default_factory=list)  # skipped: changed meanwhile
    failed: list[tuple[Change, str]] = field(default_factory=list)
    unchanged: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "applied": [c.as_json() for c in self.applied],
            "conflicts": [c.as_json() for c in self.conflicts],
            "failed": [{**c.as_json(), "error": e} for c, e in self.failed],
            "unchanged": self.unchanged,
        }

    def describe(self) -> str:
        lines = [f"applied {len(self.applied):,} change(s)"]
        if self.conflicts:
            lines.append(f"skipped {len(self.conflicts):,} row(s) changed by someone else:")
            lines += [f"  row {c.row}: {c.conflict}" for c in self.conflicts]
        if self.failed:
            lines.append(f"could not apply {len(self.failed):,} row(s):")
            lines += [f"  row {c.row}: {e}" for c, e in self.failed]
        if self.unchanged:
            lines.append(f"{self.unchanged:,} row(s) were already so")
        return "\n".join(lines)


def apply_roundtrip(
    session: Session,
    plan: RoundtripPlan,
    actor: str,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> ApplyReport:
    """Apply the plan's changes (and, with `force`, its conflicts) in the caller's transaction.

    Every row is locked and checked again against the database as it is now: a row changed
    since the export (also by someone applying at the same moment) is skipped unless forced; a
    decision no longer possible (say, the case was resolved meanwhile) is reported as failed;
    one already in effect is counted as unchanged.
    """
    report = ApplyReport()
    candidates = list(plan.changes) + (list(plan.conflicts) if force else [])
    report.conflicts = [] if force else list(plan.conflicts)
    _lock(session, plan.queue, candidates)
    states, noted = states_and_notes(session, plan.queue, [(c.id, c.note) for c in candidates])
    todo: list[tuple[Change, bool]] = []
    seen: dict[int, State] = {}
    for c in candidates:
        state = states.get(c.id)
        if state is None:
            report.failed.append((c, f"{c.id} no longer exists"))
            continue
        if c.note and c.note in noted.get(c.id, ()):
            c.note = ""
            if c.action == "note":
                report.unchanged += 1
                continue
        forced = state.version() != c.version
        if forced and not force:
            c.conflict = f"changed since the export; now {state.describe()}"
            report.conflicts.append(c)
            continue
        c.action, c.argument, verdict, text = evaluate_with_note(
            state, c.action, c.argument, c.note
        )
        if verdict == "same":
            report.unchanged += 1
            continue
        if verdict == "invalid":
            report.failed.append((c, text))
            continue
        c.before, c.after = state.describe(), text
        seen[c.target_id] = state
        todo.append((c, forced))
    total = len(todo)
    if progress is not None:
        progress(0, total, "Applying decisions")
    if plan.queue == "exceptions":
        _apply_exceptions(session, [c for c, _ in todo], actor)
    else:
        _apply_disputes(session, [c for c, _ in todo], actor, progress, seen)
    for c, forced in todo:
        audit.log(
            session,
            actor,
            AUDIT_ACTION,
            "exception_case" if plan.queue == "exceptions" else "dispute",
            c.target_id,
            {
                "source": SOURCE,
                "file": plan.path.name,
                "row": c.row,
                "record_id" if plan.queue == "exceptions" else "dispute_id": c.id,
                "decision": c.decision,
                "from": c.before,
                "to": c.after,
                "note": bool(c.note),
                "forced": forced,
            },
        )
        report.applied.append(c)
    session.flush()
    if progress is not None:
        progress(total, total, "Decisions applied")
    return report


def _lock(session: Session, queue: str, changes: Sequence[Change]) -> None:
    """Hold the rows the changes depend on until commit (see `common.row_locks`)."""
    if queue == "exceptions":
        lock_rows(session, Record, [c.id for c in changes])
        lock_rows(session, ExceptionCase, [c.target_id for c in changes if c.target_id])
    else:
        lock_rows(session, Dispute, [c.id for c in changes])


def _groups(changes: Sequence[Change]) -> dict[tuple[str, str | None], list[Change]]:
    out: dict[tuple[str, str | None], list[Change]] = {}
    for c in changes:
        if c.action != "note":
            out.setdefault((c.action, c.argument), []).append(c)
    return out


def _apply_exceptions(session: Session, changes: Sequence[Change], actor: str) -> None:
    for (action, arg), group in _groups(changes).items():
        ids = [c.target_id for c in group]
        if action == "resolve":
            cases.resolve(session, ids, str(arg), actor=actor)
        elif action == "assign":
            cases.assign(session, ids, arg, actor=actor)
        elif action == "unassign":
            cases.assign(session, ids, None, actor=actor)
        elif action == "pending":
            cases.set_pending(session, ids, actor=actor)
        elif action == "reopen":
            cases.reopen(session, ids, actor=actor)
    for c in changes:
        if c.note:
            cases.add_note(session, c.target_id, c.note, actor=actor)


def _apply_disputes(
    session: Session,
    changes: Sequence[Change],
    actor: str,
    progress: Progress | None,
    seen: dict[int, State],
) -> None:
    done = 0
    for (action, arg), group in _groups(changes).items():
        if action in ("assign", "unassign"):
            dispute_queue.assign(session, [c.target_id for c in group], arg, actor)
        else:
            for c in group:
                state = seen[c.target_id]
                last = state.decision_event if isinstance(state, DisputeState) else None
                disputes.decide(session, c.target_id, action, actor, seen_event=last)
                done += 1
                if progress is not None and done % 200 == 0:
                    progress(done, len(changes), "Applying decisions")
    for c in changes:
        if c.note:
            disputes.add_note(session, c.target_id, actor, c.note)
