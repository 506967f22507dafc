"""Excel round trip: export a queue with decisions, fill it in, plan (changes, conflicts, invalid
rows), apply as audited actions; the `export roundtrip` and `roundtrip apply` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from workstation.cli import main
from workstation.db import Database
from workstation.errors import UserError
from workstation.models import AuditEvent, CaseNote, Dispute, DisputeEvent, ExceptionCase
from workstation.services.common.users import ensure_user
from workstation.services.demo.merchant_month import load_demo
from workstation.services.disputes import intake
from workstation.services.disputes.queue import QueueFilters
from workstation.services.reconcile import cases, engine
from workstation.services.reconcile.table_queries import ExceptionFilters, count
from workstation.services.roundtrip import decisions


def _demo(db: Database) -> Database:
    """The demo month, reconciled (open exception cases), with users alice and bob."""
    with db.session() as s:
        load_demo(s, orders=400)
    with db.session() as s:
        engine.run(s, actor="tester")
        ensure_user(s, "alice")
        ensure_user(s, "bob")
    return db


@pytest.fixture
def rdb(db: Database) -> Database:
    return _demo(db)


@pytest.fixture
def rdb_any(any_db: Database) -> Database:
    """The same on SQLite and PostgreSQL."""
    return _demo(any_db)


def _export(db: Database, queue: str, path: Path, filters: Any = None) -> decisions.ExportReport:
    with db.session() as s:
        return decisions.export_roundtrip(s, queue, path, filters, actor="alice")


def _rows(path: Path) -> tuple[list[str], dict[int, int]]:
    """Header and sheet row number of each id."""
    wb = load_workbook(path)
    ws = wb[wb.sheetnames[0]]
    header = [c.value for c in ws[1]]
    rows = {int(r[0].value): r[0].row for r in ws.iter_rows(min_row=2) if r[0].value is not None}
    return header, rows


def _fill(path: Path, decisions: dict[int, tuple[str | None, str | None]]) -> dict[int, int]:
    """Write decision/note cells for ids; returns the sheet row of each id."""
    wb = load_workbook(path)
    ws = wb[wb.sheetnames[0]]
    header = [c.value for c in ws[1]]
    dcol, ncol = header.index("decision") + 1, header.index("note") + 1
    where = {int(r[0].value): r[0].row for r in ws.iter_rows(min_row=2) if r[0].value is not None}
    for rid, (decision, note) in decisions.items():
        ws.cell(where[rid], dcol, decision)
        ws.cell(where[rid], ncol, note)
    wb.save(path)
    return where


def _case_rows(db: Database, n: int) -> list[tuple[int, int]]:
    """(record id, case id) of `n` open cases."""
    with db.session() as s:
        rows = s.execute(
            select(ExceptionCase.record_id, ExceptionCase.id)
            .where(ExceptionCase.status == "open")
            .order_by(ExceptionCase.id)
            .limit(n)
        ).all()
    return [(int(r), int(c)) for r, c in rows]


def test_export_writes_a_protected_sheet_with_a_decision_dropdown(
    rdb: Database, tmp_path: Path
) -> None:
    path = tmp_path / "exceptions.xlsx"
    report = _export(rdb, "exceptions", path)
    with rdb.session() as s:
        assert report.rows == count(s, ExceptionFilters()) > 0
    wb = load_workbook(path)
    assert wb.sheetnames == ["Exceptions", "Read me", "_roundtrip"]
    assert wb["_roundtrip"].sheet_state == "hidden"
    ws = wb["Exceptions"]
    header = [c.value for c in ws[1]]
    assert header[0] == "id" and header[-3:] == ["decision", "note", "row_version"]
    ver_letter = ws.cell(1, len(header)).column_letter
    dec_letter = ws.cell(1, len(header) - 2).column_letter
    assert ws.column_dimensions[ver_letter].hidden
    assert ws.protection.sheet and not ws.protection.autoFilter
    assert ws.cell(2, len(header) - 2).protection.locked is False  # decision: editable
    assert ws.cell(2, len(header) - 1).protection.locked is False  # note: editable
    assert ws.cell(2, 1).protection.locked is not False  # id: locked
    assert len(str(ws.cell(2, len(header)).value)) == 20
    (dv,) = ws.data_validations.dataValidation
    assert dv.type == "list" and dv.formula1.startswith("'_roundtrip'!$D$2:$D$")
    assert str(dv.sqref) == f"{dec_letter}2:{dec_letter}{report.rows + 1}"
    listed = [r[3].value for r in wb["_roundtrip"].iter_rows(min_row=2) if r[3].value]
    assert listed == report.choices
    assert {"resolve:no_action", "assign:alice", "assign:bob", "pending", "reopen"} <= set(listed)
    meta = {r[0].value: r[1].value for r in wb["_roundtrip"].iter_rows(min_row=2) if r[0].value}
    assert meta["queue"] == "exceptions" and meta["exported_by"] == "alice"
    assert meta["format"] == "workstation-roundtrip/1" and meta["sheet"] == "Exceptions"


def test_plan_shows_changes_and_apply_writes_audited_actions(
    rdb_any: Database, tmp_path: Path
) -> None:
    path = tmp_path / "exceptions.xlsx"
    _export(rdb_any, "exceptions", path)
    (r1, c1), (r2, c2), (r3, c3), (r4, c4) = _case_rows(rdb_any, 4)
    where = _fill(
        path,
        {
            r1: ("resolve:no_action", "bank confirmed"),
            r2: ("assign:bob", None),
            r3: ("pending", None),
            r4: (None, "asked the PSP"),
        },
    )
    with rdb_any.session() as s:
        plan = decisions.plan_roundtrip(s, path)
    assert not plan.conflicts and not plan.invalid and not plan.unknown
    changes = {c.id: c for c in plan.changes}
    assert set(changes) == {r1, r2, r3, r4}
    assert changes[r1].row == where[r1]
    assert (changes[r1].before, changes[r1].after) == ("unassigned", "resolved (no_action)")
    assert changes[r1].describe() == "unassigned → resolved (no_action) + note"
    assert changes[r2].after == "assigned to bob"
    assert changes[r3].after == "pending, unassigned"
    assert changes[r4].action == "note" and changes[r4].describe() == "note added"
    assert plan.blank == plan.rows - 4

    with rdb_any.session() as s:
        report = decisions.apply_roundtrip(s, plan, "carol")
    assert len(report.applied) == 4 and not report.failed and not report.conflicts
    with rdb_any.session() as s:
        got = {
            c.id: c
            for c in s.scalars(select(ExceptionCase).where(ExceptionCase.id.in_([c1, c2, c3, c4])))
        }
        assert (got[c1].status, got[c1].resolution) == ("resolved", "no_action")
        assert got[c2].status == "assigned" and got[c2].assignee_id is not None
        assert got[c3].status == "pending"
        assert got[c4].status == "open"
        notes = s.execute(select(CaseNote.case_id, CaseNote.text, CaseNote.author)).all()
        assert sorted(notes) == [(c1, "bank confirmed", "carol"), (c4, "asked the PSP", "carol")]
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "roundtrip.apply").order_by(AuditEvent.id)
        ).all()
        assert len(events) == 4
        by_case = {int(e.entity_id): e for e in events}
        assert set(by_case) == {c1, c2, c3, c4}
        e1 = by_case[c1]
        assert e1.actor == "carol" and e1.entity == "exception_case"
        assert e1.detail["source"] == "excel-roundtrip"
        assert e1.detail["row"] == where[r1] and e1.detail["file"] == "exceptions.xlsx"
        assert e1.detail["from"] == "unassigned" and e1.detail["to"] == "resolved (no_action)"
        assert e1.detail["decision"] == "resolve:no_action" and e1.detail["forced"] is False
        # the case services wrote their own audit trail too
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.actor == "carol")))
        assert {"case.resolve", "case.assign", "case.pending", "case.note"} <= actions

    # applying the same file again changes nothing and adds no duplicate notes
    with rdb_any.session() as s:
        again = decisions.plan_roundtrip(s, path)
        assert again.changes == [] and again.unchanged == 4
        report = decisions.apply_roundtrip(s, again, "carol")
        assert report.applied == []
        assert len(s.scalars(select(CaseNote)).all()) == 2


def test_rows_changed_since_the_export_are_conflicts(rdb_any: Database, tmp_path: Path) -> None:
    path = tmp_path / "exceptions.xlsx"
    _export(rdb_any, "exceptions", path)
    (r1, c1), (r2, _) = _case_rows(rdb_any, 2)
    _fill(path, {r1: ("resolve:duplicate", None), r2: ("assign:alice", None)})
    with rdb_any.session() as s:  # someone else works on the first case meanwhile
        cases.assign(s, [c1], "bob", actor="bob")
    with rdb_any.session() as s:
        plan = decisions.plan_roundtrip(s, path)
    assert [c.id for c in plan.changes] == [r2]
    (conflict,) = plan.conflicts
    assert conflict.id == r1
    assert conflict.conflict == "changed since the export; now assigned to bob"
    assert "changed by someone else since the export" in plan.describe()

    with rdb_any.session() as s:
        report = decisions.apply_roundtrip(s, plan, "alice")
    assert [c.id for c in report.applied] == [r2] and [c.id for c in report.conflicts] == [r1]
    with rdb_any.session() as s:
        assert s.get(ExceptionCase, c1).status == "assigned"  # untouched

    with rdb_any.session() as s:
        plan = decisions.plan_roundtrip(s, path)
        report = decisions.apply_roundtrip(s, plan, "alice", force=True)
    assert [c.id for c in report.applied] == [r1]
    with rdb_any.session() as s:
        assert s.get(ExceptionCase, c1).status == "resolved"
        forced = s.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "roundtrip.apply", AuditEvent.entity_id == str(c1)
            )
        ).one()
        assert forced.detail["forced"] is True


def test_a_change_between_plan_and_apply_is_caught(rdb: Database, tmp_path: Path) -> None:
    path = tmp_path / "exceptions.xlsx"
    _export(rdb, "exceptions", path)
    ((r1, c1),) = _case_rows(rdb, 1)
    _fill(path, {r1: ("assign:alice", None)})
    with rdb.session() as s:
        plan = decisions.plan_roundtrip(s, path)
    assert len(plan.changes) == 1
    with rdb.session() as s:
        cases.resolve(s, [c1], "matched", actor="bob")
    with rdb.session() as s:
        report = decisions.apply_roundtrip(s, plan, "alice")
    assert report.applied == [] and report.conflicts[0].conflict == (
        "changed since the export; now resolved (matched)"
    )
    with rdb.session() as s:
        report = decisions.apply_roundtrip(s, plan, "alice", force=True)
    assert report.applied == []
    assert report.failed[0][1] == f"case {c1} is resolved (matched); reopen it first"


def test_invalid_decisions_name_the_row_and_column(rdb: Database, tmp_path: Path) -> None:
    path = tmp_path / "exceptions.xlsx"
    _export(rdb, "exceptions", path)
    (r1, _), (r2, _), (r3, _), (r4, c4) = _case_rows(rdb, 4)
    with rdb.session() as s:
        cases.resolve(s, [c4], "refunded", actor="bob")
    header, where = _rows(path)
    dec = load_workbook(path)["Exceptions"].cell(1, header.index("decision") + 1).column_letter
    _fill(
        path,
        {
            r1: ("approve", None),
            r2: ("resolve:whatever", None),
            r3: ("assign:Alice", None),
        },
    )
    wb = load_workbook(path)
    ws = wb["Exceptions"]
    ws.cell(where[r4], header.index("decision") + 1, "resolve:no_action")
    ws.cell(where[r4], header.index("row_version") + 1, None)  # exported before; now resolved
    spare = max(where.values()) + 1
    ws.cell(spare, 1, "12x")
    ws.cell(spare, header.index("decision") + 1, "pending")
    ws.cell(spare + 1, 1, 987654)
    ws.cell(spare + 1, header.index("decision") + 1, "pending")
    ws.cell(spare + 2, 1, r1)
    ws.cell(spare + 2, header.index("decision") + 1, "pending")
    wb.save(path)

    with rdb.session() as s:
        plan = decisions.plan_roundtrip(s, path)
    messages = {p.row: p.describe() for p in plan.invalid}
    assert messages[where[r1]] == (
        f"row {where[r1]}, column decision ({dec}): unknown decision 'approve'; use "
        "resolve:<reason>, assign:<login>, unassign, pending or reopen"
    )
    assert messages[where[r2]].endswith(
        "unknown resolution 'whatever'; use one of matched, written_off, no_action, duplicate, "
        "refunded, other"
    )
    assert messages[where[r3]].endswith("no active user 'Alice' (did you mean 'alice'?)")
    assert messages[spare] == f"row {spare}, column id (A): '12x' is not an id"
    assert messages[spare + 2].endswith(
        f"id {r1} is also on row {where[r1]}; only the first is used"
    )
    (unknown,) = plan.unknown
    assert unknown.describe() == f"row {spare + 1}, column id (A): no record 987654 here"
    (conflict,) = plan.conflicts  # a resolved case with a version that no longer matches
    assert conflict.id == r4 and conflict.conflict == (
        f"changed since the export; now resolved (refunded); cannot apply: case {c4} is already "
        "resolved (refunded); reopen it first"
    )
    assert plan.changes == []
    assert plan.as_json()["invalid"][0]["cell"] == f"{dec}{where[r1]}"


def test_disputes_accept_fight_assign(rdb_any: Database, tmp_path: Path) -> None:
    path = tmp_path / "disputes.xlsx"
    report = _export(rdb_any, "disputes", path, QueueFilters())
    assert set(report.choices) == {"accept", "fight", "assign:alice", "assign:bob", "unassign"}
    with rdb_any.session() as s:
        rows = {d.status: d.id for d in s.scalars(select(Dispute).order_by(Dispute.id))}
        open_ids = [
            d.id for d in s.scalars(select(Dispute).where(Dispute.status == "needs_response"))
        ]
    first, second = sorted(open_ids)[:2]
    _fill(
        path,
        {
            first: ("accept", "not worth fighting"),
            second: ("fight", None),
            rows["won"]: ("assign:bob", None),
            rows["lost"]: ("fight", None),
        },
    )
    with rdb_any.session() as s:
        plan = decisions.plan_roundtrip(s, path)
    changes = {c.id: c for c in plan.changes}
    assert changes[first].before == "needs response, unassigned"
    assert changes[first].after == "accepted"
    assert changes[second].after == "needs response, fight, unassigned"
    assert changes[rows["won"]].after == "won, assigned to bob"
    (bad,) = plan.invalid
    assert "is lost; only cases needing a response can be accepted or fought" in bad.message

    with rdb_any.session() as s:
        report = decisions.apply_roundtrip(s, plan, "alice")
    assert len(report.applied) == 3
    with rdb_any.session() as s:
        assert s.get(Dispute, first).status == "accepted"
        assert s.get(Dispute, second).status == "needs_response"
        kinds = s.execute(
            select(DisputeEvent.dispute_id, DisputeEvent.kind, DisputeEvent.detail).where(
                DisputeEvent.actor == "alice"
            )
        ).all()
        decided = {(d, k, (det or {}).get("decision")) for d, k, det in kinds}
        assert (first, "decision", "accept") in decided and (second, "decision", "fight") in decided
        assert (first, "note", None) in decided
        assert (rows["won"], "assigned", None) in decided
        audited = s.scalars(select(AuditEvent).where(AuditEvent.action == "roundtrip.apply")).all()
        assert {int(e.entity_id) for e in audited} == {first, second, rows["won"]}
        assert all(e.detail["source"] == "excel-roundtrip" for e in audited)
    with rdb_any.session() as s:  # the fight decision is now part of the row version
        again = decisions.plan_roundtrip(s, path)
    assert again.changes == [] and again.unchanged == 3


def test_decide_records_the_decision(rdb: Database) -> None:
    with rdb.session() as s:
        open_id = s.scalars(select(Dispute.id).where(Dispute.status == "needs_response")).first()
        won_id = s.scalars(select(Dispute.id).where(Dispute.status == "won")).first()
        event = intake.decide(s, open_id, "fight", "alice")
        assert event.kind == "decision" and event.detail == {
            "decision": "fight",
            "from": "needs_response",
            "to": "needs_response",
        }
        assert intake.last_decisions(s, [open_id]) == {open_id: (event.id, "fight")}
        intake.decide(s, open_id, "accept", "alice")
        assert s.get(Dispute, open_id).status == "accepted"
        with pytest.raises(UserError, match="only cases needing a response"):
            intake.decide(s, won_id, "accept", "alice")
        with pytest.raises(UserError, match="unknown decision"):
            intake.decide(s, open_id, "maybe", "alice")


def test_a_workbook_not_made_for_decisions_is_refused(rdb: Database, tmp_path: Path) -> None:
    from openpyxl import Workbook

    plain = tmp_path / "plain.xlsx"
    wb = Workbook()
    wb.active.append(["id", "decision"])
    wb.save(plain)
    with rdb.session() as s, pytest.raises(UserError, match="not exported for decisions"):
        decisions.plan_roundtrip(s, plain)
    path = tmp_path / "exceptions.xlsx"
    _export(rdb, "exceptions", path)
    wb = load_workbook(path)
    wb["Exceptions"].cell(1, 1, "record")  # the id header renamed
    wb.save(path)
    with rdb.session() as s, pytest.raises(UserError, match="the column 'id' is missing"):
        decisions.plan_roundtrip(s, path)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    with rdb.session() as s, pytest.raises(UserError, match="not a readable Excel workbook"):
        decisions.plan_roundtrip(s, broken)


def test_cli_export_and_apply(
    rdb: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = rdb.engine.url.render_as_string(hide_password=False)
    out = tmp_path / "d.xlsx"
    code = main(
        [
            "--db",
            url,
            "export",
            "roundtrip",
            "--queue",
            "disputes",
            "--out",
            str(out),
            "--status",
            "needs_response",
            "--json",
        ]
    )
    assert code == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["rows"] == 2 and exported["queue"] == "disputes"
    _, where = _rows(out)
    target = min(where)
    _fill(out, {target: ("accept", None)})

    assert main(["--db", url, "roundtrip", "apply", str(out), "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["applied"] is None and [c["id"] for c in dry["plan"]["changes"]] == [target]
    with rdb.session() as s:
        assert s.get(Dispute, target).status == "needs_response"

    assert main(["--db", url, "roundtrip", "apply", str(out)]) == 0
    text = capsys.readouterr().out
    assert "will change (1):" in text and "applied 1 change(s)" in text
    with rdb.session() as s:
        assert s.get(Dispute, target).status == "accepted"

    ex = tmp_path / "e.xlsx"
    assert (
        main(
            [
                "--db",
                url,
                "export",
                "roundtrip",
                "--queue",
                "exceptions",
                "--out",
                str(ex),
                "--age-bucket",
                ">30",
            ]
        )
        == 0
    )
    assert "fill in the decision column" in capsys.readouterr().out
    assert main(["--db", url, "roundtrip", "apply", str(tmp_path / "missing.xlsx")]) == 1
    assert "file not found" in capsys.readouterr().err


def test_decide_refuses_a_decision_made_since_the_caller_looked(rdb: Database) -> None:
    with rdb.session() as s:
        open_id = s.scalars(select(Dispute.id).where(Dispute.status == "needs_response")).first()
        ref = s.get(Dispute, open_id).psp_dispute_id
        first = intake.decide(s, open_id, "fight", "bob", seen_event=None)
        with pytest.raises(UserError, match=rf"dispute {ref} was already decided by bob \(fight, "):
            intake.decide(s, open_id, "accept", "alice", seen_event=None)
        with pytest.raises(UserError, match="already decided by bob"):
            intake.decide(s, open_id, "accept", "alice", seen_event=first.id - 1)
        second = intake.decide(s, open_id, "accept", "alice", seen_event=first.id)
        assert second.detail == {"decision": "accept", "from": "needs_response", "to": "accepted"}
        with pytest.raises(UserError, match="already decided by alice \\(accept, "):
            intake.decide(s, open_id, "fight", "bob", seen_event=first.id)
        decided = s.scalars(
            select(DisputeEvent.actor).where(
                DisputeEvent.dispute_id == open_id, DisputeEvent.kind == "decision"
            )
        ).all()
    assert decided == ["bob", "alice"]


def test_cli_decide_once_then_already_decided(
    rdb: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    url = rdb.engine.url.render_as_string(hide_password=False)
    with rdb.session() as s:
        open_id = s.scalars(select(Dispute.id).where(Dispute.status == "needs_response")).first()
        ref = s.get(Dispute, open_id).psp_dispute_id
    assert main(["--db", url, "dispute", "decide", ref, "fight"]) == 0
    assert f"{ref}: fight recorded (needs_response)" in capsys.readouterr().out
    assert main(["--db", url, "dispute", "decide", ref, "accept"]) == 1
    assert f"error: dispute {ref} was already decided by tester (fight, " in (
        capsys.readouterr().err
    )
    assert main(["--db", url, "dispute", "decide", ref, "accept", "--change", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "accept"
    assert main(["--db", url, "dispute", "decide", ref, "fight", "--change"]) == 1
    assert "is accepted; only cases needing a response" in capsys.readouterr().err
    with rdb.session() as s:
        assert s.get(Dispute, open_id).status == "accepted"
        n = s.scalars(
            select(DisputeEvent.id).where(
                DisputeEvent.dispute_id == open_id, DisputeEvent.kind == "decision"
            )
        ).all()
    assert len(n) == 2
