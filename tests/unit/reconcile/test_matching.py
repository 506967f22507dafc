"""Clerk actions on matches and their undo: the database returns to where it was."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from workstation.db import Database
from workstation.errors import UserError
from workstation.models import AuditEvent, ExceptionCase, Match, MatchMember
from workstation.services.reconcile import clerk_actions, run

from .helpers import bank, charge, match_of, matches, order, put, rid, state


def _data(db: Database) -> None:
    with db.session() as s:
        put(
            s,
            [
                order("O1", 1000, 1, ref_order="ORDER-0001"),
                order("O2", 2000, 1, ref_order=None),
                order("O3", 3000, 2),
            ],
            "l",
        )
        put(
            s,
            [
                charge("C1", 1000, 1, ref_order="ORDER-0001"),
                charge("C2", 2000, 1),
                charge("C3", 2990, 2, fee_minor=10, net_minor=2980),
            ],
            "p",
        )
        put(s, [bank("B1", -12, 3, "ACCOUNT FEE")], "b")
        run(s)


def _snapshot(db: Database) -> tuple[list, dict[str, str], list]:
    with db.session() as s:
        states = {e: state(s, e) for e in ("O1", "O2", "O3", "C1", "C2", "C3", "B1")}
        cases = s.execute(
            select(ExceptionCase.record_id, ExceptionCase.status).order_by(ExceptionCase.record_id)
        ).all()
        return matches(s), states, [tuple(c) for c in cases]


def test_confirm_and_undo(db: Database) -> None:
    _data(db)
    before = _snapshot(db)
    with db.session() as s:
        sugg = match_of(s, "O2", "C2")
        assert sugg is not None and sugg[1] == "suggested"
        action = clerk_actions.confirm(s, sugg[0], actor="clerk")
        assert state(s, "O2") == "matched"
        m = s.get(Match, sugg[0])
        assert m is not None and m.confirmed_by == "clerk"
        case = s.scalar(select(ExceptionCase).where(ExceptionCase.record_id == rid(s, "O2")))
        assert case is not None and case.status == "resolved"
    with db.session() as s:
        clerk_actions.undo(s, action, actor="clerk")
    after = _snapshot(db)
    assert after[0] == before[0] and after[1] == before[1]
    with db.session() as s:
        case = s.scalar(select(ExceptionCase).where(ExceptionCase.record_id == rid(s, "O2")))
        assert case is not None and case.status == "open" and case.reopen_count == 1


def test_reject_and_undo(db: Database) -> None:
    _data(db)
    before = _snapshot(db)
    with db.session() as s:
        sugg = match_of(s, "O2", "C2")
        assert sugg is not None
        action = clerk_actions.reject(s, sugg[0], actor="clerk", note="different customer")
        assert state(s, "O2") == "unmatched"
    with db.session() as s:
        clerk_actions.undo(s, action, actor="clerk")
    assert _snapshot(db)[:2] == before[:2]


def test_manual_match_computes_difference_and_undo(db: Database) -> None:
    _data(db)
    before = _snapshot(db)
    with db.session() as s:
        action = clerk_actions.manual_match(s, [rid(s, "O3"), rid(s, "C3")], actor="clerk")
        m = s.get(Match, action.match_id)
        assert m is not None and m.status == "confirmed" and m.rule == "manual"
        assert m.difference_minor == -10 and m.created_by == "clerk"
        assert state(s, "O3") == "matched" and state(s, "C3") == "matched"
        with pytest.raises(UserError, match="already in match"):
            clerk_actions.manual_match(s, [rid(s, "O3"), rid(s, "C2")], actor="clerk")
    with db.session() as s:
        clerk_actions.undo(s, action, actor="clerk")
        assert s.get(Match, action.match_id) is None
    assert _snapshot(db)[:2] == before[:2]


def test_manual_match_rejects_stale_suggestion_and_undo_restores_it(db: Database) -> None:
    _data(db)
    before = _snapshot(db)
    with db.session() as s:
        sugg = match_of(s, "O2", "C2")
        assert sugg is not None
        action = clerk_actions.manual_match(s, [rid(s, "O2"), rid(s, "B1")], actor="clerk")
        assert s.get(Match, sugg[0]).status == "rejected"  # type: ignore[union-attr]
    with db.session() as s:
        clerk_actions.undo(s, action, actor="clerk")
    assert _snapshot(db)[:2] == before[:2]


def test_unmatch_blocks_rematching_and_undo(db: Database) -> None:
    _data(db)
    before = _snapshot(db)
    with db.session() as s:
        auto = match_of(s, "O1", "C1")
        assert auto is not None and auto[1] == "auto"
        action = clerk_actions.unmatch(s, auto[0], actor="clerk")
        assert state(s, "O1") == "unmatched"
    with db.session() as s:
        report = run(s)
        assert report.auto == 0 and state(s, "O1") == "unmatched"
    with db.session() as s:
        clerk_actions.undo(s, action, actor="clerk")
    assert _snapshot(db)[:2] == before[:2]


def test_split_and_undo(db: Database) -> None:
    _data(db)
    with db.session() as s:
        action = clerk_actions.manual_match(
            s, [rid(s, "O3"), rid(s, "C3"), rid(s, "B1")], actor="clerk"
        )
    before = _snapshot(db)
    with db.session() as s:
        split = clerk_actions.split(s, action.match_id, [rid(s, "B1")], actor="clerk")  # type: ignore[arg-type]
        assert state(s, "B1") == "unmatched"
        assert s.get(Match, action.match_id).difference_minor == -10  # type: ignore[union-attr]
        with pytest.raises(UserError, match="two records"):
            clerk_actions.split(s, action.match_id, [rid(s, "C3")], actor="clerk")  # type: ignore[arg-type]
    with db.session() as s:
        clerk_actions.undo(s, split, actor="clerk")
        n = s.scalar(
            select(func.count())
            .select_from(MatchMember)
            .where(MatchMember.match_id == action.match_id)
        )
        assert n == 3
    assert _snapshot(db)[:2] == before[:2]


def test_write_off_within_limit_and_undo(db: Database) -> None:
    _data(db)
    with db.session() as s:
        mm = clerk_actions.manual_match(s, [rid(s, "O3"), rid(s, "C3")], actor="clerk")
        action = clerk_actions.write_off(s, mm.match_id, "bank_fee", actor="clerk")  # type: ignore[arg-type]
        m = s.get(Match, mm.match_id)
        assert m is not None and (m.writeoff_reason, m.writeoff_minor) == ("bank_fee", -10)
        with pytest.raises(UserError, match="reason"):
            clerk_actions.write_off(s, mm.match_id, "lunch", actor="clerk")  # type: ignore[arg-type]
    with db.session() as s:
        clerk_actions.undo(s, action, actor="clerk")
        m = s.get(Match, mm.match_id)
        assert m is not None and m.writeoff_reason is None and m.writeoff_minor is None


def test_write_off_over_limit_is_refused(db: Database) -> None:
    with db.session() as s:
        put(s, [order("O9", 10000, 1)], "l")
        put(s, [charge("C9", 9000, 1)], "p")
        mm = clerk_actions.manual_match(s, [rid(s, "O9"), rid(s, "C9")], actor="clerk")
        with pytest.raises(UserError, match="over the write-off limit"):
            clerk_actions.write_off(s, mm.match_id, "rounding", actor="clerk")  # type: ignore[arg-type]


def test_write_off_record_and_undo(db: Database) -> None:
    _data(db)
    with db.session() as s:
        action = clerk_actions.write_off_record(s, rid(s, "B1"), "bank_fee", actor="clerk")
        assert state(s, "B1") == "written_off"
        case = s.scalar(select(ExceptionCase).where(ExceptionCase.record_id == rid(s, "B1")))
        assert case is not None and case.resolution == "written_off"
    with db.session() as s:
        done = clerk_actions.undo(s, action, actor="clerk")
        assert state(s, "B1") == "unmatched"
        for step in done:  # redo = undo of the undo
            clerk_actions.undo(s, step, actor="clerk")
        assert state(s, "B1") == "written_off"


def test_every_action_is_audited(db: Database) -> None:
    _data(db)
    with db.session() as s:
        sugg = match_of(s, "O2", "C2")
        assert sugg is not None
        a = clerk_actions.confirm(s, sugg[0], actor="clerk")
        clerk_actions.undo(s, a, actor="clerk")
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "match")))
        assert {"match.confirm", "match.unconfirm"} <= actions
