"""Eight clerks apply workbooks exported from the same state at once: each row is applied once.

Every worker is a separate process with its own engine (multiprocessing spawn calling the
services, or the `workstation roundtrip apply` CLI); the assertions count rows: applied changes
over all processes, `roundtrip.apply` audit events, the services' own case events, and cases
whose state is the winner's decision.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from workstation.db import Database
from workstation.models import AuditEvent, Dispute, DisputeEvent, ExceptionCase, User
from workstation.services.disputes.queue import QueueFilters
from workstation.services.reconcile.cases import RESOLUTIONS
from workstation.services.roundtrip import decisions

from .conftest import CLERKS, run_cli, run_processes
from .workers import apply_workbook

pytestmark = pytest.mark.slow

ROWS = 24


def _export(db: Database, queue: str, path: Path) -> None:
    with db.session() as s:
        filters = QueueFilters() if queue == "disputes" else None
        decisions.export_roundtrip(s, queue, path, filters, actor="tester")


def _fill(path: Path, cells: dict[int, str]) -> None:
    wb = load_workbook(path)
    ws = wb[wb.sheetnames[0]]
    header = [c.value for c in ws[1]]
    dcol = header.index("decision") + 1
    where = {int(r[0].value): r[0].row for r in ws.iter_rows(min_row=2) if r[0].value is not None}
    for rid, decision in cells.items():
        ws.cell(where[rid], dcol, decision)
    wb.save(path)


def _open_cases(db: Database, n: int) -> dict[int, int]:
    """record id -> case id of `n` open, unassigned cases."""
    with db.session() as s:
        rows = s.execute(
            select(ExceptionCase.record_id, ExceptionCase.id)
            .where(ExceptionCase.status == "open", ExceptionCase.assignee_id.is_(None))
            .order_by(ExceptionCase.id)
            .limit(n)
        ).all()
    assert len(rows) == n
    return {int(r): int(c) for r, c in rows}


def _exception_decision(clerk: int, k: int) -> str:
    """A different decision per clerk on each row (no two clerks want the same), each of which
    changes an open, unassigned case."""
    options = [
        *(f"resolve:{r}" for r in RESOLUTIONS),
        *(f"assign:{c}" for c in CLERKS),
        "pending",
    ]
    return options[(clerk + k) % len(options)]


def _workbooks(db: Database, tmp_path: Path, queue: str) -> Path:
    base = tmp_path / f"{queue}.xlsx"
    _export(db, queue, base)
    return base


def _copies(base: Path, fill: dict[int, dict[int, str]]) -> list[Path]:
    paths = []
    for i, cells in fill.items():
        p = base.with_name(f"{base.stem}-{CLERKS[i]}.xlsx")
        shutil.copy(base, p)
        _fill(p, cells)
        paths.append(p)
    return paths


def _case_matches(case: ExceptionCase, decision: str, login_of: dict[int | None, str]) -> bool:
    action, _, arg = decision.partition(":")
    if action == "resolve":
        return case.status == "resolved" and case.resolution == arg
    if action == "assign":
        return case.status == "assigned" and login_of.get(case.assignee_id) == arg
    return case.status == "pending" and case.assignee_id is None


def _winners(results: dict, rows: list[int]) -> dict[int, str]:
    """Row id -> the one clerk that applied it; checks every other clerk got a conflict."""
    for actor, r in results.items():
        assert "error" not in r, f"{actor} raised:\n{r['error']}"
        assert r["failed"] == [], (actor, r["failed"])
        assert sorted(r["planned"]) == sorted(rows)  # every clerk read the same clean state
        assert sorted(r["applied"] + r["conflicts"]) == sorted(rows)
    applied = Counter(rid for r in results.values() for rid in r["applied"])
    assert applied == Counter({rid: 1 for rid in rows})  # each row applied by exactly one
    assert sum(len(r["applied"]) for r in results.values()) == len(rows)
    assert sum(len(r["conflicts"]) for r in results.values()) == len(rows) * (len(results) - 1)
    for r in results.values():
        assert all(t.startswith("changed since the export; now ") for t in r["conflict_texts"])
    return {rid: actor for actor, r in results.items() for rid in r["applied"]}


def _check_exceptions(db: Database, by_record: dict[int, int], winners: dict[int, str]) -> None:
    case_ids = [str(c) for c in by_record.values()]
    with db.session() as s:
        per_case = dict(
            s.execute(
                select(AuditEvent.entity_id, func.count())
                .where(AuditEvent.action == "roundtrip.apply", AuditEvent.entity_id.in_(case_ids))
                .group_by(AuditEvent.entity_id)
            ).all()
        )
        assert per_case == {c: 1 for c in case_ids}  # one apply event per applied change
        service_events = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action.in_(("case.resolve", "case.assign", "case.pending")),
                AuditEvent.entity_id.in_(case_ids),
            )
        )
        assert service_events == len(case_ids)
        login_of = {u.id: u.login for u in s.scalars(select(User))}
        cases = {c.id: c for c in s.scalars(select(ExceptionCase))}
        audited = {
            int(e.entity_id): e
            for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "roundtrip.apply"))
        }
        matching = 0
        for rid, cid in by_record.items():
            event = audited[cid]
            assert event.actor == winners[rid]
            matching += _case_matches(cases[cid], event.detail["decision"], login_of)
        assert matching == len(by_record)  # the database holds each winner's decision


def _exception_fill(by_record: dict[int, int]) -> dict[int, dict[int, str]]:
    return {
        i: {rid: _exception_decision(i, k) for k, rid in enumerate(by_record)}
        for i in range(len(CLERKS))
    }


def test_eight_processes_apply_each_exceptions_row_once(store: Database, tmp_path: Path) -> None:
    base = _workbooks(store, tmp_path, "exceptions")
    by_record = _open_cases(store, ROWS)
    paths = _copies(base, _exception_fill(by_record))
    url = store.connect_url
    results = run_processes(
        apply_workbook,
        [
            (
                url,
                str(p),
                CLERKS[i],
            )
            for i, p in enumerate(paths)
        ],
    )
    winners = _winners(results, list(by_record))
    _check_exceptions(store, by_record, winners)


def test_eight_processes_apply_dispute_decisions_once(store: Database, tmp_path: Path) -> None:
    base = _workbooks(store, tmp_path, "disputes")
    with store.session() as s:
        status = {d.id: d.status for d in s.scalars(select(Dispute))}
    open_ids = sorted(i for i, st in status.items() if st == "needs_response")
    assert len(open_ids) >= 2 and len(status) > len(open_ids)

    def cell(i: int, did: int) -> str:
        if status[did] == "needs_response":
            return "accept" if (i + did) % 2 == 0 else "fight"
        return f"assign:{CLERKS[i]}"

    paths = _copies(base, {i: {d: cell(i, d) for d in status} for i in range(len(CLERKS))})
    results = run_processes(
        apply_workbook, [(store.connect_url, str(p), CLERKS[i]) for i, p in enumerate(paths)]
    )
    winners = _winners(results, list(status))
    with store.session() as s:
        decided = Counter(
            s.scalars(
                select(DisputeEvent.dispute_id).where(
                    DisputeEvent.kind == "decision", DisputeEvent.actor.in_(CLERKS)
                )
            )
        )
        assert decided == Counter({d: 1 for d in open_ids})  # one decision per open dispute
        assigned = Counter(
            s.scalars(
                select(DisputeEvent.dispute_id).where(
                    DisputeEvent.kind == "assigned", DisputeEvent.actor.in_(CLERKS)
                )
            )
        )
        assert assigned == Counter({d: 1 for d in status if d not in open_ids})
        applies = Counter(
            s.scalars(select(AuditEvent.entity_id).where(AuditEvent.action == "roundtrip.apply"))
        )
        assert applies == Counter({str(d): 1 for d in status})
        for did in open_ids:
            (event,) = s.scalars(
                select(DisputeEvent).where(
                    DisputeEvent.dispute_id == did, DisputeEvent.kind == "decision"
                )
            )
            assert event.actor == winners[did]
            want = "accepted" if event.detail["decision"] == "accept" else "needs_response"
            assert s.get(Dispute, did).status == want


def test_eight_cli_appliers_report_applied_or_conflict(store: Database, tmp_path: Path) -> None:
    base = _workbooks(store, tmp_path, "exceptions")
    by_record = _open_cases(store, ROWS)
    paths = _copies(base, _exception_fill(by_record))
    done = run_cli(
        store.connect_url,
        [(CLERKS[i], ["roundtrip", "apply", str(p), "--json"]) for i, p in enumerate(paths)],
    )
    results = {}
    for actor, proc in done:
        assert proc.returncode == 0, (actor, proc.stderr)
        assert "Traceback" not in proc.stderr and "database is locked" not in proc.stderr
        out = json.loads(proc.stdout)
        applied = out["applied"]
        results[actor] = {
            "planned": [c["id"] for c in out["plan"]["changes"] + out["plan"]["conflicts"]],
            "applied": [c["id"] for c in applied["applied"]],
            "conflicts": [c["id"] for c in applied["conflicts"]],
            "conflict_texts": [c["conflict"] for c in applied["conflicts"]],
            "failed": applied["failed"],
        }
    winners = _winners(results, list(by_record))
    _check_exceptions(store, by_record, winners)
