"""Eight agents decide the same disputes at once: one decision wins, the others are told by whom.

Separate processes, each with its own engine: `workstation dispute decide` through the CLI, and
the `decide` service through multiprocessing. Assertions count decision events and audit rows.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import func, select

from workstation.db import Database
from workstation.models import AuditEvent, Dispute, DisputeEvent

from .conftest import CLERKS, run_cli, run_processes
from .workers import decide_all

pytestmark = pytest.mark.slow


def _open_disputes(db: Database) -> list[int]:
    with db.session() as s:
        ids = sorted(s.scalars(select(Dispute.id).where(Dispute.status == "needs_response")))
    assert len(ids) >= 2
    return ids


def _decision_rows(db: Database, dispute_ids: list[int]) -> tuple[Counter, Counter]:
    with db.session() as s:
        events = Counter(
            s.scalars(
                select(DisputeEvent.dispute_id).where(
                    DisputeEvent.kind == "decision", DisputeEvent.dispute_id.in_(dispute_ids)
                )
            )
        )
        audited = Counter(
            s.scalars(
                select(AuditEvent.entity_id).where(
                    AuditEvent.action == "dispute_decision",
                    AuditEvent.entity_id.in_([str(d) for d in dispute_ids]),
                )
            )
        )
    return events, audited


def _winner(db: Database, did: int) -> tuple[str, str]:
    with db.session() as s:
        (event,) = s.scalars(
            select(DisputeEvent).where(
                DisputeEvent.dispute_id == did, DisputeEvent.kind == "decision"
            )
        )
        want = "accepted" if event.detail["decision"] == "accept" else "needs_response"
        assert s.get(Dispute, did).status == want  # the winner's decision is what is stored
        return event.actor, str(event.detail["decision"])


def test_eight_cli_decisions_on_one_dispute_one_wins(store: Database) -> None:
    did = _open_disputes(store)[0]
    with store.session() as s:
        ref = s.get(Dispute, did).psp_dispute_id
    done = run_cli(
        store.connect_url,
        [
            (clerk, ["dispute", "decide", ref, "accept" if i % 2 else "fight"])
            for i, clerk in enumerate(CLERKS)
        ],
    )
    for _, proc in done:
        assert "Traceback" not in proc.stderr and "database is locked" not in proc.stderr
    winners = [a for a, p in done if p.returncode == 0]
    assert len(winners) == 1
    winner, decision = _winner(store, did)
    assert winners == [winner]
    losers = [p for a, p in done if a != winner]
    assert [p.returncode for p in losers] == [1] * 7
    pattern = re.compile(
        rf"^error: dispute {re.escape(ref)} was already decided by {winner} \({decision}, "
    )
    assert all(pattern.match(p.stderr) for p in losers), [p.stderr for p in losers]
    events, audited = _decision_rows(store, [did])
    assert events == Counter({did: 1}) and audited == Counter({str(did): 1})


def test_eight_processes_decide_the_same_disputes(store: Database) -> None:
    ids = _open_disputes(store)
    results = run_processes(
        decide_all,
        [(store.connect_url, ids, "accept" if i % 2 else "fight", c) for i, c in enumerate(CLERKS)],
    )
    for actor, r in results.items():
        assert "error" not in r, f"{actor} raised:\n{r['error']}"
        assert sorted(r["won"] + list(r["refused"])) == ids
    won = Counter(did for r in results.values() for did in r["won"])
    assert won == Counter({did: 1 for did in ids})  # one winner per dispute
    assert sum(len(r["refused"]) for r in results.values()) == len(ids) * 7
    for did in ids:
        winner, decision = _winner(store, did)
        assert did in results[winner]["won"]
        for actor, r in results.items():
            if actor != winner:
                assert f"already decided by {winner} ({decision}, " in r["refused"][did]
    events, audited = _decision_rows(store, ids)
    assert events == Counter({d: 1 for d in ids})
    assert audited == Counter({str(d): 1 for d in ids})
    with store.session() as s:
        total = s.scalar(
            select(func.count()).select_from(DisputeEvent).where(DisputeEvent.kind == "decision")
        )
    assert total == len(ids)
