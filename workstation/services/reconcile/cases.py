"""Exception cases: one work item per open record, Open -> Assigned -> Pending -> Resolved.

Cases are created in bulk after a reconciliation run for every record left unmatched or suggested,
with a priority from the amount at risk and the record's age and a due date `cases.due_days` ahead.
Clerk changes (assign, pending, resolve, reopen, notes, due dates) work on lists of cases, write
one audit event per case, and return snapshots that `restore` puts back (undo).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ... import config
from ...errors import UserError
from ...models import CaseNote, ExceptionCase, Record, User, utcnow
from ...money import exponent
from ..common.bulk_write import bulk_insert
from ..common.card_numbers import mask_text
from ..common.dataframe_io import read_frame, timestamp_text, update_where_in
from ..common.row_locks import lock_rows

STATUSES = ("open", "assigned", "pending", "resolved")
# Allowed moves; Resolved -> Open only through `reopen`.
TRANSITIONS: dict[str, set[str]] = {
    "open": {"assigned", "pending", "resolved"},
    "assigned": {"open", "pending", "resolved"},
    "pending": {"assigned", "open", "resolved"},
    "resolved": set(),
}
RESOLUTIONS = ("matched", "written_off", "no_action", "duplicate", "refunded", "other")


@dataclass(frozen=True)
class CaseSnapshot:
    """A case's workflow fields before a change (what `restore` puts back)."""

    id: int
    status: str
    assignee_id: int | None
    due_on: dt.date | None
    resolution: str | None
    resolved_at: dt.datetime | None
    reopen_count: int
    priority: int


def priority_scores(amounts: np.ndarray, currencies: np.ndarray, ages: np.ndarray) -> np.ndarray:
    """0..100: up to 70 points for the amount at risk (log scale), up to 30 for age in days.

    1 major unit ~ 3, 100 ~ 20, 10,000 ~ 40, 1,000,000 ~ 60 points; one point per day of age.
    """
    exps = pd.Series(currencies, dtype=object).map(exponent).fillna(2).to_numpy(np.int64)
    major = np.abs(amounts).astype(np.float64) / np.power(10.0, exps)  # a score, not money
    amount_part = np.minimum(70.0, 10.0 * np.log10(1.0 + major))
    age_part = np.clip(ages, 0, 30)
    return np.round(amount_part + age_part).astype(np.int64)


def _audit_many(
    session: Session, actor: str, action: str, entries: Sequence[tuple[int, dict[str, Any]]]
) -> None:
    """One audit event per case, written in one bulk insert."""
    if not entries:
        return
    stamp = timestamp_text(session, utcnow())
    rows = [
        (stamp, actor, action, "exception_case", str(cid), json.dumps(detail, default=str))
        for cid, detail in entries
    ]
    bulk_insert(
        session,
        "audit_events",
        ("at", "actor", "action", "entity", "entity_id", "detail"),
        rows,
    )


# --- after a run -----------------------------------------------------------------------------


def sync_after_run(
    session: Session,
    *,
    open_ids: np.ndarray,
    amounts: np.ndarray,
    currencies: np.ndarray,
    days: np.ndarray,
    matched_ids: np.ndarray,
    suggested_match: pd.Series,
    now: dt.datetime,
    today: dt.date,
) -> tuple[int, int]:
    """Resolve the cases of records just matched; open a case for each open record without one.

    Args:
        open_ids, amounts, currencies, days: the records still open (days since 1970).
        matched_ids: records an auto match took.
        suggested_match: record id -> id of the suggested match it is in.

    Returns:
        (cases opened, cases resolved).
    """
    conn = session.connection()
    stamp = timestamp_text(session, now)
    has_cases = conn.execute(text("SELECT 1 FROM exception_cases LIMIT 1")).first() is not None
    resolved = 0
    existing = np.zeros(0, dtype=np.int64)
    if has_cases:
        resolved = update_where_in(
            session,
            "exception_cases",
            f"status = 'resolved', resolution = 'matched', resolved_at = '{stamp}',"
            f" updated_at = '{stamp}'",
            matched_ids,
            column="record_id",
            where="status <> 'resolved'",
        )
        existing = read_frame(
            session,
            "SELECT c.record_id FROM exception_cases c JOIN records r ON r.id = c.record_id"
            " WHERE r.match_state IN ('unmatched', 'suggested')",
            {"record_id": "int64"},
        )["record_id"].to_numpy(np.int64)
        upd = suggested_match[suggested_match.index.isin(existing)]
        if len(upd):
            raw = conn.connection.driver_connection
            sql = "UPDATE exception_cases SET match_id = %s WHERE record_id = %s"
            if conn.dialect.name == "sqlite":
                sql = sql.replace("%s", "?")
            cur = raw.cursor()  # type: ignore[union-attr]
            cur.executemany(
                sql, list(zip(upd.to_numpy(np.int64).tolist(), upd.index.tolist(), strict=True))
            )
            cur.close()
    new = ~np.isin(open_ids, existing)
    n = int(new.sum())
    if n:
        due_days = int(config.get(session, "cases.due_days"))
        ids = open_ids[new]
        epoch = dt.date(1970, 1, 1)
        ages = (today - epoch).days - days[new]
        prio = priority_scores(amounts[new], currencies[new], ages)
        due = (today + dt.timedelta(days=due_days)).isoformat()
        match_of = suggested_match.reindex(ids)
        rows = list(
            zip(
                ids.tolist(),
                [None if pd.isna(m) else int(m) for m in match_of.to_numpy()],
                ["open"] * n,
                prio.tolist(),
                [due] * n,
                np.abs(amounts[new]).astype(np.int64).tolist(),
                currencies[new].tolist(),
                [stamp] * n,
                [stamp] * n,
                [0] * n,
                strict=True,
            )
        )
        bulk_insert(
            session,
            "exception_cases",
            (
                "record_id",
                "match_id",
                "status",
                "priority",
                "due_on",
                "amount_at_risk_minor",
                "currency",
                "created_at",
                "updated_at",
                "reopen_count",
            ),
            rows,
        )
    return n, resolved


def refresh_priorities(session: Session, *, today: dt.date | None = None) -> int:
    """Recompute the priority of every unresolved case (ages grow daily); returns the count."""
    today = today or dt.date.today()
    frame = read_frame(
        session,
        "SELECT c.id, c.amount_at_risk_minor, c.currency, CAST(r.booked_on AS TEXT) AS booked_on"
        " FROM exception_cases c JOIN records r ON r.id = c.record_id"
        " WHERE c.status <> 'resolved'",
        {"id": "int64", "amount_at_risk_minor": "int64", "currency": "string", "booked_on": "date"},
    )
    if frame.empty:
        return 0
    ages = (pd.Timestamp(today) - frame["booked_on"]).dt.days.fillna(0).to_numpy(np.int64)
    prio = priority_scores(
        frame["amount_at_risk_minor"].to_numpy(np.int64),
        frame["currency"].astype(object).to_numpy(),
        ages,
    )
    conn = session.connection()
    raw = conn.connection.driver_connection
    sql = "UPDATE exception_cases SET priority = %s WHERE id = %s"
    if conn.dialect.name == "sqlite":
        sql = sql.replace("%s", "?")
    cur = raw.cursor()  # type: ignore[union-attr]
    cur.executemany(sql, list(zip(prio.tolist(), frame["id"].tolist(), strict=True)))
    cur.close()
    return len(frame)


# --- records changed by clerk actions -------------------------------------------------------


def sync_records(session: Session, record_ids: Sequence[int], *, actor: str) -> None:
    """Bring the cases of `record_ids` in line with their match state after a clerk action.

    Matched / written-off records close their open case ("matched" / "written_off"); open
    records get a case, or their resolved case is reopened.
    """
    if not record_ids:
        return
    session.flush()
    ids = sorted({int(i) for i in record_ids})
    recs = session.execute(
        select(
            Record.id, Record.match_state, Record.amount_minor, Record.currency, Record.booked_on
        ).where(Record.id.in_(ids))
    ).all()
    by_record = {
        c.record_id: c
        for c in session.scalars(select(ExceptionCase).where(ExceptionCase.record_id.in_(ids)))
    }
    now = utcnow()
    today = dt.date.today()
    due_days = int(config.get(session, "cases.due_days"))
    log: dict[str, list[tuple[int, dict[str, Any]]]] = {"resolve": [], "reopen": [], "open": []}
    for rid, state, amount, currency, booked in recs:
        case = by_record.get(rid)
        if state in ("matched", "written_off"):
            if case is not None and case.status != "resolved":
                before = case.status
                case.status = "resolved"
                case.resolution = "matched" if state == "matched" else "written_off"
                case.resolved_at = now
                case.updated_at = now
                log["resolve"].append((case.id, {"from": before, "resolution": case.resolution}))
        elif state in ("unmatched", "suggested"):
            if case is None:
                prio = priority_scores(
                    np.array([amount]),
                    np.array([currency], dtype=object),
                    np.array([(today - booked).days]),
                )[0]
                case = ExceptionCase(
                    record_id=rid,
                    status="open",
                    priority=int(prio),
                    due_on=today + dt.timedelta(days=due_days),
                    amount_at_risk_minor=abs(int(amount)),
                    currency=currency,
                    created_at=now,
                    updated_at=now,
                )
                session.add(case)
                session.flush()
                log["open"].append((case.id, {"record_id": rid}))
            elif case.status == "resolved":
                case.status = "assigned" if case.assignee_id else "open"
                case.reopen_count += 1
                case.resolution = None
                case.resolved_at = None
                case.updated_at = now
                log["reopen"].append((case.id, {"reopen_count": case.reopen_count}))
    session.flush()
    for action, entries in log.items():
        _audit_many(session, actor, f"case.{action}", entries)


# --- workflow ----------------------------------------------------------------------------------


def _snapshot(c: ExceptionCase) -> CaseSnapshot:
    return CaseSnapshot(
        id=c.id,
        status=c.status,
        assignee_id=c.assignee_id,
        due_on=c.due_on,
        resolution=c.resolution,
        resolved_at=c.resolved_at,
        reopen_count=c.reopen_count,
        priority=c.priority,
    )


def _load(session: Session, case_ids: Sequence[int]) -> list[ExceptionCase]:
    """The cases, locked until commit and read fresh (a transition checks the state it changes:
    of two clerks moving the same case at once, the second sees what the first did)."""
    ids = sorted({int(i) for i in case_ids})
    if not ids:
        raise UserError("no case selected")
    lock_rows(session, ExceptionCase, ids)
    found: list[ExceptionCase] = []
    for i in range(0, len(ids), 500):
        found.extend(
            session.scalars(
                select(ExceptionCase)
                .where(ExceptionCase.id.in_(ids[i : i + 500]))
                .execution_options(populate_existing=True)
            )
        )
    missing = set(ids) - {c.id for c in found}
    if missing:
        raise UserError(f"no exception case {min(missing)}")
    return sorted(found, key=lambda c: c.id)


def _user_id(session: Session, login: str) -> int:
    uid = session.scalar(select(User.id).where(User.login == login, User.active.is_(True)))
    if uid is None:
        raise UserError(f"no active user {login!r}")
    return int(uid)


def _move(
    session: Session,
    case_ids: Sequence[int],
    target: str,
    *,
    actor: str,
    action: str,
    extra: dict[str, Any] | None = None,
    assignee_id: int | bool | None = False,
    resolution: str | None = None,
) -> list[CaseSnapshot]:
    cases = _load(session, case_ids)
    for c in cases:
        if target != c.status and target not in TRANSITIONS[c.status]:
            raise UserError(
                f"case {c.id} is {c.status}; it cannot become {target}"
                + (" (reopen it first)" if c.status == "resolved" else "")
            )
    now = utcnow()
    snaps = [_snapshot(c) for c in cases]
    entries = []
    for c in cases:
        detail: dict[str, Any] = {"from": c.status, "to": target, **(extra or {})}
        c.status = target
        if assignee_id is not False:
            c.assignee_id = assignee_id  # type: ignore[assignment]
        if target == "resolved":
            c.resolution = resolution
            c.resolved_at = now
        c.updated_at = now
        entries.append((c.id, detail))
    session.flush()
    _audit_many(session, actor, action, entries)
    return snaps


def assign(
    session: Session, case_ids: Sequence[int], assignee: str | None, *, actor: str
) -> list[CaseSnapshot]:
    """Give cases to `assignee` (a login) or take them back (None); returns the undo snapshots."""
    cases = _load(session, case_ids)
    uid = _user_id(session, assignee) if assignee else None
    for c in cases:
        if c.status == "resolved":
            raise UserError(f"case {c.id} is resolved; reopen it first")
    now = utcnow()
    snaps = [_snapshot(c) for c in cases]
    entries = []
    for c in cases:
        before = c.status
        if uid is None:
            c.status = "open" if c.status == "assigned" else c.status
        elif c.status == "open":
            c.status = "assigned"
        c.assignee_id = uid
        c.updated_at = now
        entries.append((c.id, {"from": before, "to": c.status, "assignee": assignee}))
    session.flush()
    _audit_many(session, actor, "case.assign", entries)
    return snaps


def set_pending(
    session: Session, case_ids: Sequence[int], *, actor: str, note: str | None = None
) -> list[CaseSnapshot]:
    """Mark cases as waiting (on the PSP, the bank, a colleague)."""
    snaps = _move(session, case_ids, "pending", actor=actor, action="case.pending")
    if note:
        for s in snaps:
            add_note(session, s.id, note, actor=actor)
    return snaps


def resolve(
    session: Session,
    case_ids: Sequence[int],
    resolution: str,
    *,
    actor: str,
    note: str | None = None,
) -> list[CaseSnapshot]:
    """Close cases with a resolution (one of RESOLUTIONS or free text up to 64 characters)."""
    resolution = (resolution or "").strip()
    if not resolution:
        raise UserError("a resolution is required")
    snaps = _move(
        session,
        case_ids,
        "resolved",
        actor=actor,
        action="case.resolve",
        extra={"resolution": resolution[:64]},
        resolution=resolution[:64],
    )
    if note:
        for s in snaps:
            add_note(session, s.id, note, actor=actor)
    return snaps


def reopen(
    session: Session, case_ids: Sequence[int], *, actor: str, note: str | None = None
) -> list[CaseSnapshot]:
    """Reopen resolved cases (counted in `reopen_count`)."""
    cases = _load(session, case_ids)
    for c in cases:
        if c.status != "resolved":
            raise UserError(f"case {c.id} is {c.status}, not resolved")
    now = utcnow()
    snaps = [_snapshot(c) for c in cases]
    entries = []
    for c in cases:
        c.status = "assigned" if c.assignee_id else "open"
        c.reopen_count += 1
        c.resolution = None
        c.resolved_at = None
        c.updated_at = now
        entries.append((c.id, {"from": "resolved", "to": c.status, "reopen_count": c.reopen_count}))
    session.flush()
    _audit_many(session, actor, "case.reopen", entries)
    if note:
        for c in cases:
            add_note(session, c.id, note, actor=actor)
    return snaps


def set_due(
    session: Session, case_ids: Sequence[int], due_on: dt.date | None, *, actor: str
) -> list[CaseSnapshot]:
    """Change the due date of cases."""
    cases = _load(session, case_ids)
    snaps = [_snapshot(c) for c in cases]
    now = utcnow()
    entries = []
    for c in cases:
        entries.append((c.id, {"from": c.due_on, "to": due_on}))
        c.due_on = due_on
        c.updated_at = now
    session.flush()
    _audit_many(session, actor, "case.due", entries)
    return snaps


def restore(session: Session, snapshots: Sequence[CaseSnapshot], *, actor: str) -> None:
    """Put cases back as the snapshots say (undo of any workflow change)."""
    if not snapshots:
        return
    cases = {c.id: c for c in _load(session, [s.id for s in snapshots])}
    now = utcnow()
    entries = []
    for s in snapshots:
        c = cases[s.id]
        entries.append((c.id, {"from": c.status, "to": s.status}))
        c.status = s.status
        c.assignee_id = s.assignee_id
        c.due_on = s.due_on
        c.resolution = s.resolution
        c.resolved_at = s.resolved_at
        c.reopen_count = s.reopen_count
        c.priority = s.priority
        c.updated_at = now
    session.flush()
    _audit_many(session, actor, "case.restore", entries)


def add_note(session: Session, case_id: int, text_: str, *, actor: str) -> int:
    """Append a note to a case; returns the note id (undo: `delete_note`)."""
    body = mask_text((text_ or "").strip())[0]
    if not body:
        raise UserError("a note cannot be empty")
    case = _load(session, [case_id])[0]
    note = CaseNote(case_id=case.id, author=actor, text=body)
    session.add(note)
    case.updated_at = utcnow()
    session.flush()
    _audit_many(session, actor, "case.note", [(case.id, {"note_id": note.id})])
    return int(note.id)


def delete_note(session: Session, note_id: int, *, actor: str) -> None:
    """Remove a note (undo of `add_note`; the audit log keeps that it existed)."""
    note = session.get(CaseNote, note_id)
    if note is None:
        raise UserError(f"no case note {note_id}")
    case_id = note.case_id
    session.delete(note)
    session.flush()
    _audit_many(session, actor, "case.note_delete", [(case_id, {"note_id": note_id})])


def case_for_record(session: Session, record_id: int) -> ExceptionCase | None:
    """The case of a record, if it has one."""
    return session.scalar(select(ExceptionCase).where(ExceptionCase.record_id == record_id))


def delete_for_batch(session: Session, batch_id: int) -> int:
    """Remove the cases (and notes) of the records of an import batch (before undoing it)."""
    ids = list(
        session.scalars(
            select(ExceptionCase.id)
            .join(Record, Record.id == ExceptionCase.record_id)
            .where(Record.batch_id == batch_id)
        )
    )
    if not ids:
        return 0
    for i in range(0, len(ids), 500):
        chunk = ",".join(str(v) for v in ids[i : i + 500])
        session.execute(text(f"DELETE FROM case_notes WHERE case_id IN ({chunk})"))
        session.execute(text(f"DELETE FROM exception_cases WHERE id IN ({chunk})"))
    return len(ids)
