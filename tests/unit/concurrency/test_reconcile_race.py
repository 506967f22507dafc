"""Two `workstation reconcile` processes at once: one run's matches, no record in two live ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from workstation.db import Database
from workstation.errors import UserError
from workstation.models import Match, MatchMember
from workstation.services.common.write_lock import WAITING, begin_write
from workstation.services.demo.merchant_month import load_demo
from workstation.services.reconcile.engine import run

from .helpers import LIVE_IN_TWO, count, start_cli, stderr_of, stdout_of, wait_until_waiting


def _expected_matches(db: Database) -> int:
    """What one run would write (a dry run over the same store)."""
    with db.sessions() as s:
        report = run(s, dry_run=True)
        s.rollback()
    return report.auto + report.suggested


def test_two_reconciles_at_once_write_one_run(any_db: Database, tmp_path: Path) -> None:
    with any_db.session() as s:
        load_demo(s, orders=1500, seed=11)
    expected = _expected_matches(any_db)
    assert expected > 1000
    logs = [tmp_path / f"run{i}" for i in range(2)]
    # The test holds the store's write lock first, so both runs are sure to overlap: both wait,
    # then one writes and the other finds nothing new.
    with any_db.sessions() as holder:
        begin_write(holder)
        procs = [start_cli(any_db.connect_url, ["reconcile"], log) for log in logs]
        wait_until_waiting(logs)
        holder.rollback()
    codes = [p.wait(timeout=240) for p in procs]
    assert codes == [0, 0], [stderr_of(p) for p in logs]
    reports = [json.loads(stdout_of(p)) for p in logs]
    for p, rep in zip(logs, reports, strict=True):
        assert "Traceback" not in stderr_of(p)
        assert WAITING in stderr_of(p) and rep["waited"] is True
    written = sorted(r["auto"] + r["suggested"] for r in reports)
    assert written == [0, expected]  # the second run found nothing new
    with any_db.sessions() as s:
        assert count(s, "SELECT COUNT(*) FROM matches") == expected
        assert count(s, LIVE_IN_TWO) == 0
        live = count(s, "SELECT COUNT(*) FROM match_members WHERE live")
        assert live == count(s, "SELECT COUNT(*) FROM match_members")
        assert count(s, "SELECT COUNT(*) FROM audit_events WHERE action = 'reconcile.run'") == 2


def test_two_reconciles_without_a_holder(any_db: Database, tmp_path: Path) -> None:
    """No staging: two runs started together still leave exactly one run's matches."""
    with any_db.session() as s:
        load_demo(s, orders=1500, seed=12)
    expected = _expected_matches(any_db)
    logs = [tmp_path / f"free{i}" for i in range(2)]
    procs = [start_cli(any_db.connect_url, ["reconcile"], log) for log in logs]
    assert [p.wait(timeout=240) for p in procs] == [0, 0], [stderr_of(p) for p in logs]
    assert not any("Traceback" in stderr_of(p) for p in logs)
    with any_db.sessions() as s:
        assert count(s, "SELECT COUNT(*) FROM matches") == expected
        assert count(s, LIVE_IN_TWO) == 0


def test_database_refuses_a_record_in_two_live_matches(any_db: Database) -> None:
    """The partial unique index is the last guard, whatever writes; rejected members stay out."""
    with any_db.session() as s:
        load_demo(s, orders=50, seed=3)
    with any_db.session() as s:
        run(s)
    with any_db.sessions() as s:
        member = s.scalars(select(MatchMember).where(MatchMember.live.is_(True))).first()
        assert member is not None
        record_id = member.record_id
        copy = Match(status="suggested", rule="x", confidence=1, currency="EUR", created_by="t")
        s.add(copy)
        s.flush()
        s.add(MatchMember(match_id=copy.id, record_id=record_id, side="bank", amount_minor=1))
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
    with any_db.sessions() as s:
        rejected = Match(status="rejected", rule="x", confidence=1, currency="EUR", created_by="t")
        s.add(rejected)
        s.flush()
        s.add(
            MatchMember(
                match_id=rejected.id,
                record_id=record_id,
                side="bank",
                amount_minor=1,
                live=False,
            )
        )
        s.commit()


@pytest.mark.postgres
def test_a_clerk_matching_during_the_run_wins(pg_db: Database) -> None:
    """A clerk's match committed while a run computes: the run drops its proposal for those
    records (re-checked at write time) instead of putting them in a second live match."""
    from workstation.services.reconcile import clerk_actions

    with pg_db.session() as s:
        load_demo(s, orders=300, seed=5)
    with pg_db.sessions() as s:  # which records the run will pair (then forget it)
        run(s)
        first = s.scalars(select(Match.id).where(Match.status == "auto")).first()
        pair = sorted(s.scalars(select(MatchMember.record_id).where(MatchMember.match_id == first)))
        s.rollback()
    expected = _expected_matches(pg_db)

    def clerk_acts(_done: int, _total: int, message: str) -> None:
        if message == "Writing matches":  # another connection, committed before the run writes
            with pg_db.session() as clerk:
                clerk_actions.manual_match(clerk, pair, actor="clerk")

    with pg_db.sessions() as s:
        report = run(s, progress=clerk_acts)
        s.commit()
    assert report.changed_meanwhile == 1
    with pg_db.sessions() as s:
        assert count(s, LIVE_IN_TWO) == 0
        assert count(s, "SELECT COUNT(*) FROM matches WHERE created_by = 'engine'") == expected - 1
        manual = count(
            s,
            "SELECT COUNT(*) FROM match_members mm JOIN matches m ON m.id = mm.match_id"
            " WHERE m.created_by = 'clerk' AND mm.live",
        )
        assert manual == len(pair)


def test_a_clerk_who_loses_the_race_for_a_line_gets_a_message(any_db: Database) -> None:
    """The index's refusal reaches a clerk as a message to reload, not as a crash."""
    with any_db.session() as s:
        load_demo(s, orders=50, seed=3)
    with any_db.session() as s:
        run(s)
    with any_db.session() as s:
        record_id = s.scalars(
            select(MatchMember.record_id).where(MatchMember.live.is_(True))
        ).first()
    with pytest.raises(UserError, match="matched meanwhile by someone else"), any_db.session() as s:
        late = Match(
            status="confirmed", rule="manual", confidence=100, currency="EUR", created_by="t"
        )
        s.add(late)
        s.flush()
        s.add(MatchMember(match_id=late.id, record_id=record_id, side="bank", amount_minor=1))
    with any_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Match).where(Match.rule == "manual")) == 0
