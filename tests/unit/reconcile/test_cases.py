"""Exception cases: opened after a run, Open -> Assigned -> Pending -> Resolved, audited, undone."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import select

from workstation import config
from workstation.db import Database
from workstation.errors import UserError
from workstation.models import AuditEvent, CaseNote, ExceptionCase
from workstation.services.common.users import ensure_user
from workstation.services.reconcile import cases, run

from .helpers import bank, order, put, rid


def _open_cases(db: Database) -> list[int]:
    with db.session() as s:
        ensure_user(s, "lead")
        ensure_user(s, "anna")
        config.put(s, "cases.due_days", 3)
        put(s, [order("ORD-7000001", 150000, 1), order("ORD-7000002", 990, 20)], "l")
        put(s, [bank("BR7", -4500, 5, "SUPPLIER INVOICE 4711")], "b")
        run(s, today=dt.date(2026, 10, 31))
        return list(s.scalars(select(ExceptionCase.id).order_by(ExceptionCase.id)))


def test_cases_after_run_priority_and_due(db: Database) -> None:
    ids = _open_cases(db)
    assert len(ids) == 3
    with db.session() as s:
        big = s.scalar(
            select(ExceptionCase).where(ExceptionCase.record_id == rid(s, "ORD-7000001"))
        )
        small = s.scalar(
            select(ExceptionCase).where(ExceptionCase.record_id == rid(s, "ORD-7000002"))
        )
        assert big is not None and small is not None
        assert big.priority > small.priority  # more money at risk, older
        assert big.due_on == dt.date(2026, 11, 3)
        assert big.amount_at_risk_minor == 150000 and big.currency == "EUR"


def test_priority_scores() -> None:
    scores = cases.priority_scores(
        np.array([100, 1_000_000, 100]),
        np.array(["EUR", "EUR", "JPY"], dtype=object),
        np.array([0, 0, 45]),
    )
    assert scores.tolist() == [3, 40, 50]


def test_workflow_with_audit_and_undo(db: Database) -> None:
    ids = _open_cases(db)
    with db.session() as s:
        snaps = cases.assign(s, ids[:2], "anna", actor="lead")
        got = s.scalars(select(ExceptionCase).where(ExceptionCase.id.in_(ids[:2]))).all()
        assert {c.status for c in got} == {"assigned"} and {c.assignee_id for c in got} != {None}
        cases.set_pending(s, [ids[0]], actor="anna", note="asked the PSP")
        cases.resolve(s, [ids[0]], "no_action", actor="anna")
        c0 = s.get(ExceptionCase, ids[0])
        assert c0 is not None and c0.status == "resolved" and c0.resolved_at is not None
        with pytest.raises(UserError, match="reopen it first"):
            cases.set_pending(s, [ids[0]], actor="anna")
        cases.reopen(s, [ids[0]], actor="lead", note="customer called again")
        c0 = s.get(ExceptionCase, ids[0])
        assert c0 is not None and c0.status == "assigned" and c0.reopen_count == 1
        notes = s.scalars(select(CaseNote.text).where(CaseNote.case_id == ids[0])).all()
        assert notes == ["asked the PSP", "customer called again"]
        # undo of the bulk assignment puts both cases back as they were
        cases.restore(s, snaps, actor="lead")
        c1 = s.get(ExceptionCase, ids[1])
        assert c1 is not None and c1.status == "open" and c1.assignee_id is None
        actions = [
            a
            for (a,) in s.execute(
                select(AuditEvent.action)
                .where(AuditEvent.entity == "exception_case", AuditEvent.entity_id == str(ids[0]))
                .order_by(AuditEvent.id)
            )
        ]
        assert actions == [
            "case.assign",
            "case.pending",
            "case.note",
            "case.resolve",
            "case.reopen",
            "case.note",
            "case.restore",
        ]


def test_bulk_resolve_and_unknown_user(db: Database) -> None:
    ids = _open_cases(db)
    with db.session() as s:
        cases.resolve(s, ids, "duplicate", actor="lead")
        assert {c.status for c in s.scalars(select(ExceptionCase))} == {"resolved"}
        with pytest.raises(UserError, match="no active user"):
            cases.reopen(s, ids[:1], actor="lead")
            cases.assign(s, ids[:1], "nobody", actor="lead")
        with pytest.raises(UserError, match="not resolved"):
            cases.reopen(s, ids[:1], actor="lead")


def test_note_undo_and_due_dates(db: Database) -> None:
    ids = _open_cases(db)
    with db.session() as s:
        note = cases.add_note(s, ids[2], "check the invoice", actor="anna")
        cases.delete_note(s, note, actor="anna")
        assert s.get(CaseNote, note) is None
        snaps = cases.set_due(s, ids[2:], dt.date(2026, 12, 24), actor="lead")
        assert s.get(ExceptionCase, ids[2]).due_on == dt.date(2026, 12, 24)  # type: ignore[union-attr]
        cases.restore(s, snaps, actor="lead")
        assert s.get(ExceptionCase, ids[2]).due_on == dt.date(2026, 11, 3)  # type: ignore[union-attr]
        assert cases.refresh_priorities(s, today=dt.date(2026, 12, 31)) == 3
