"""File > Apply decisions from Excel…: the plan table, conflicts with force, apply in background."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import Qt
from sqlalchemy import select

from workstation.db import Database
from workstation.models import ExceptionCase
from workstation.services.common.users import ensure_user
from workstation.services.demo.merchant_month import load_demo
from workstation.services.reconcile import cases, engine
from workstation.services.roundtrip import decisions
from workstation.views.dashboard.roundtrip_dialog import PlanModel, RoundtripDialog

TIMEOUT = 20_000


@pytest.fixture
def filled(db: Database, tmp_path: Path) -> tuple[Path, list[tuple[int, int]]]:
    """A decision workbook of the open exceptions with three decisions and one bad one."""
    with db.session() as s:
        load_demo(s, orders=400)
    with db.session() as s:
        engine.run(s, actor="tester")
        ensure_user(s, "alice")
        ensure_user(s, "bob")
    path = tmp_path / "decisions.xlsx"
    with db.session() as s:
        decisions.export_roundtrip(s, "exceptions", path, actor="tester")
        picked = [
            (int(r), int(c))
            for r, c in s.execute(
                select(ExceptionCase.record_id, ExceptionCase.id)
                .order_by(ExceptionCase.id)
                .limit(4)
            )
        ]
    wb = load_workbook(path)
    ws = wb["Exceptions"]
    header = [c.value for c in ws[1]]
    col = header.index("decision") + 1
    where = {int(r[0].value): r[0].row for r in ws.iter_rows(min_row=2)}
    for (rid, _), decision in zip(
        picked, ["resolve:no_action", "assign:alice", "pending", "resolve:nonsense"], strict=True
    ):
        ws.cell(where[rid], col, decision)
    wb.save(path)
    return path, picked


def test_menu_opens_the_dialog_plans_and_applies(
    main_window: Any, app_ctx: Any, db: Database, filled: Any, qtbot: Any, qtmodeltester: Any
) -> None:
    path, picked = filled
    titles = [a.text() for a in main_window.menuBar().actions()[0].menu().actions()]
    assert "Apply decisions from E&xcel…" in titles
    dialog = main_window.apply_decisions(path)
    assert isinstance(dialog, RoundtripDialog)
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=TIMEOUT)
    model = dialog.model
    qtmodeltester.check(model)
    assert model.rowCount() == 4
    statuses = [model.index(r, 5).data() for r in range(4)]
    assert statuses.count("will apply") == 3
    assert any(s.startswith("invalid: unknown resolution 'nonsense'") for s in statuses)
    assert model.index(0, 4).data() == "unassigned → resolved (no_action)"
    assert dialog.apply_button.text() == "Apply 3 change(s)" and dialog.apply_button.isEnabled()
    assert not dialog.force.isEnabled()  # no conflicts to force

    with (
        qtbot.waitSignal(dialog.applied, timeout=TIMEOUT) as done,
        qtbot.waitSignal(app_ctx.data_changed),
    ):
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    assert len(done.args[0].applied) == 3
    assert "applied 3 change(s)" in dialog.summary.text()
    assert not dialog.apply_button.isEnabled()
    with db.session() as s:
        status = {c: s.get(ExceptionCase, c).status for _, c in picked}
    assert [status[c] for _, c in picked] == ["resolved", "assigned", "pending", "open"]
    dialog.close()


def test_conflicts_need_force(
    app_ctx: Any, db: Database, filled: Any, qtbot: Any, qtmodeltester: Any
) -> None:
    path, picked = filled
    with db.session() as s:
        cases.assign(s, [picked[0][1]], "bob", actor="bob")  # someone else, after the export
    dialog = RoundtripDialog(app_ctx, path)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=TIMEOUT)
    qtmodeltester.check(dialog.model)
    kinds = [dialog.model.kind(r) for r in range(dialog.model.rowCount())]
    assert kinds.count("conflict") == 1
    assert dialog.apply_button.text() == "Apply 2 change(s)"
    assert dialog.force.isEnabled()
    dialog.force.setChecked(True)
    assert dialog.apply_button.text() == "Apply 3 change(s)"
    with qtbot.waitSignal(dialog.applied, timeout=TIMEOUT) as done:
        dialog.apply()
    assert len(done.args[0].applied) == 3
    with db.session() as s:
        assert s.get(ExceptionCase, picked[0][1]).status == "resolved"


def test_a_wrong_file_is_explained(app_ctx: Any, tmp_path: Path, qtbot: Any) -> None:
    bad = tmp_path / "notes.xlsx"
    bad.write_bytes(b"plain text")
    dialog = RoundtripDialog(app_ctx, bad)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=TIMEOUT)
    assert "not a readable Excel workbook" in dialog.summary.text()
    assert dialog.summary.property("kind") == "error"
    assert not dialog.apply_button.isEnabled()


def test_export_a_queue_from_the_dialog(
    app_ctx: Any, filled: Any, tmp_path: Path, qtbot: Any
) -> None:
    dialog = RoundtripDialog(app_ctx)
    qtbot.addWidget(dialog)
    target = tmp_path / "open_disputes"
    task = dialog.export_queue("disputes", target)
    qtbot.waitUntil(lambda: task.done, timeout=TIMEOUT)
    written = target.with_name("open_disputes.xlsx")
    assert written.stat().st_size > 0
    assert "Wrote 2 disputes row(s)" in dialog.summary.text()


def test_plan_model_empty_and_filled(qtmodeltester: Any) -> None:
    model = PlanModel()
    qtmodeltester.check(model)
    assert model.rowCount() == 0 and model.headerData(0, Qt.Orientation.Horizontal) == "Row"


def test_closing_while_reading_is_safe(app_ctx: Any, filled: Any, qtbot: Any) -> None:
    path, _ = filled
    dialog = RoundtripDialog(app_ctx, path)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.reject()  # before the plan arrives
    qtbot.waitUntil(lambda: not app_ctx.tasks.active(), timeout=TIMEOUT)
    assert dialog.plan is None and dialog.model.rowCount() == 0
