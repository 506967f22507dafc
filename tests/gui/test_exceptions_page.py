"""Exceptions page: lazy table, filters, workspace with why-not, match / confirm / unmatch /
write-off with undo and the user's place kept, bulk case work, export, Reconcile now, Rules."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import time

import openpyxl
import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog
from recon_helpers import (
    WAIT,
    build_store,
    copy_store,
    match_status,
    matched_candidate,
    model_ids,
    open_pairs,
    record_state,
    row_of,
    settle,
)
from sqlalchemy import func, select

from workstation.models import AuditEvent, ExceptionCase, Match, User
from workstation.services.reconcile import rules, table_queries
from workstation.services.reconcile.table_queries import ExceptionFilters
from workstation.views import crash, messages
from workstation.views.exceptions import prompts
from workstation.views.exceptions.source import ExceptionSource
from workstation.views.exceptions.workspace import select_only
from workstation.views.models.sql_table import SqlTableModel
from workstation.views.pages.exceptions import ExceptionsPage


@pytest.fixture(scope="session")
def reconciled_store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("exceptions") / "reconciled.db")


@pytest.fixture(scope="session")
def raw_store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("exceptions") / "raw.db", reconcile=False)


@pytest.fixture
def db(tmp_path, reconciled_store):
    database = copy_store(reconciled_store, tmp_path / "ws.db")
    yield database
    database.dispose()


@pytest.fixture(autouse=True)
def crashes_fail(monkeypatch):
    """A bug in a slot or task fails the test instead of opening a modal crash dialog."""
    seen: list[BaseException] = []
    monkeypatch.setattr(crash, "show_crash", lambda exc, parent=None: seen.append(exc))
    yield seen
    assert not seen, seen


@pytest.fixture
def errors(monkeypatch):
    """Messages the user would see in a warning box."""
    shown: list[str] = []
    monkeypatch.setattr(
        messages, "show_error", lambda parent, message, title="": shown.append(str(message))
    )
    return shown


def open_page(ctx, qtbot) -> ExceptionsPage:
    page = ExceptionsPage(ctx)
    qtbot.addWidget(page)
    page.resize(1400, 900)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.source.facets is not None, timeout=WAIT)
    return page


@pytest.fixture(autouse=True)
def facets_threshold(monkeypatch):
    """Facet counts even on the small demo store (the page uses them from 100k open lines)."""
    monkeypatch.setattr(ExceptionsPage, "FACETS_FROM", 0)


@pytest.fixture
def page(app_ctx, qtbot):
    page = open_page(app_ctx, qtbot)
    yield page
    settle(app_ctx, qtbot)


def show(page, qtbot, record_id: int) -> None:
    """Make `record_id` current and wait for its candidates."""
    with qtbot.waitSignal(page.workspace.loaded, timeout=WAIT):
        assert page.select_record(record_id)
    assert page.workspace.record_id == record_id


def gone(page, record_id: int) -> bool:
    return record_id not in model_ids(page.model)


# -- table, filters ------------------------------------------------------------------------------


def test_models_pass_modeltester(page, qtmodeltester, app_ctx, qtbot):
    qtmodeltester.check(page.model)
    pair = open_pairs(app_ctx.db)[0]
    show(page, qtbot, pair[1])
    qtmodeltester.check(page.workspace.candidates)
    suggested = next(r for r in map(page.model.row, range(page.model.rowCount())) if r["match_id"])
    show(page, qtbot, int(suggested["id"]))
    assert page.workspace.members.rowCount() >= 2
    qtmodeltester.check(page.workspace.members)
    dialog = page.show_rules()
    qtmodeltester.check(dialog.model)
    dialog.close()
    # the bare model over the source, across filters and sorts
    model = SqlTableModel(
        ExceptionSource(), app_ctx.session, filters=ExceptionFilters(), page_size=7
    )
    qtmodeltester.check(model)
    model.sort(2, Qt.SortOrder.DescendingOrder)
    model.set_filters(ExceptionFilters(currencies=("EUR",), age_bucket=">30"))
    qtmodeltester.check(model)


def test_table_shows_every_open_line(page, app_ctx):
    with app_ctx.session() as s:
        expected = table_queries.count(s, ExceptionFilters())
        first = table_queries.fetch_page(s, ExceptionFilters(), None, None, 5).rows
    assert expected > 50
    assert page.model.rowCount() == expected
    assert page.count_label.text() == f"{expected:,} open lines"
    assert model_ids(page.model)[:5] == [r["id"] for r in first]
    states = {page.model.row(r)["state"] for r in range(page.model.rowCount())}
    assert states == {"unmatched", "suggested"}


def test_filters_narrow_rows_and_count_label(page, app_ctx, qtbot):
    bar = page.filter_bar
    total = page.model.rowCount()
    some = page.model.row(5)
    # free text: an external id
    bar.search.setText(some["external_id"])
    bar.search.returnPressed.emit()
    found = model_ids(page.model)
    assert some["id"] in found and len(found) <= 3  # its order's PSP line shares the reference
    assert page.count_label.text() == f"{len(found)} open line{'s' if len(found) > 1 else ''}"
    bar.search.clear()
    assert page.model.rowCount() == total
    # currency: GBP lines exist in the demo (an FX-settled PSP)
    i = bar.currency.findData("GBP")
    assert i > 0
    bar.currency.setCurrentIndex(i)
    rows = [page.model.row(r) for r in range(page.model.rowCount())]
    assert 0 < len(rows) < total and {r["currency"] for r in rows} == {"GBP"}
    assert page.count_label.text().startswith(f"{len(rows):,} open line")
    bar.currency.setCurrentIndex(0)
    # age bucket, counted from the facets and in SQL alike
    for bucket in ("0-2", "3-7", "8-30", ">30"):
        bar.age.setCurrentIndex(bar.age.findData(bucket))
        with app_ctx.session() as s:
            expected = table_queries.count(s, page.model.active_filters)
        assert page.model.rowCount() == expected
        ages = [page.model.row(r)["age_days"] for r in range(page.model.rowCount())]
        lo, hi = table_queries.AGE_BUCKETS[bucket]
        assert all(a >= lo and (hi is None or a <= hi) for a in ages)
    assert page.source.sql_counts == 0 or page.source.facets is not None
    # an amount range and state, in SQL
    bar.age.setCurrentIndex(0)
    bar.state.setCurrentIndex(bar.state.findData("unmatched"))
    bar.amount_min.setText("100")
    bar.amount_min.returnPressed.emit()
    rows = [page.model.row(r) for r in range(page.model.rowCount())]
    assert rows and all(abs(r["amount_minor"]) >= 10000 and r["state"] == "unmatched" for r in rows)
    bar.reset()
    assert page.model.rowCount() == total


def test_facet_counts_agree_with_sql(page, app_ctx):
    facets = page.source.facets
    with app_ctx.session() as s:
        sources = [r["source_id"] for r in table_queries.fetch_page(s, ExceptionFilters()).rows]
        for f in (
            ExceptionFilters(),
            ExceptionFilters(states=("suggested",)),
            ExceptionFilters(currencies=("GBP",)),
            ExceptionFilters(source_kinds=("bank",), age_bucket=">30"),
            ExceptionFilters(source_ids=(sources[0],), booked_from=dt.date(2026, 10, 10)),
            ExceptionFilters(kinds=("order",), booked_to=dt.date(2026, 10, 20)),
        ):
            assert facets.count(f) == table_queries.count(s, f), f
        assert facets.count(ExceptionFilters(text="x")) is None


def test_sort_by_header_is_sql_and_keeps_selection(page, app_ctx, qtbot):
    page.select_row(3)
    rid = page.current_record_id()
    amount = [c.key for c in page.model.columns].index("amount_minor")
    page.table.horizontalHeader().setSortIndicator(amount, Qt.SortOrder.DescendingOrder)
    with app_ctx.session() as s:
        top = table_queries.fetch_page(
            s, page.model.active_filters, table_queries.Sort("amount_minor", True), None, 3
        ).rows
    assert model_ids(page.model)[:3] == [r["id"] for r in top]
    assert page.order_label.text() == "By amount, descending"
    assert page.current_record_id() == rid  # found again wherever it moved
    # a column without an index cannot be sorted: the indicator goes back
    kind = [c.key for c in page.model.columns].index("kind")
    page.table.horizontalHeader().setSortIndicator(kind, Qt.SortOrder.AscendingOrder)
    assert page.table.horizontalHeader().sortIndicatorSection() == amount


def test_far_jump_uses_key_at(page):
    model = page.model
    last = model.rowCount() - 1
    with_key = model.row(last)
    model.reload()
    assert model.row(last)["id"] == with_key["id"]
    assert model.fetches <= 2


# -- workspace ------------------------------------------------------------------------------------


def test_select_record_shows_candidates_with_why_not(page, app_ctx, qtbot):
    _, rid, cand = open_pairs(app_ctx.db)[0]
    show(page, qtbot, rid)
    ws = page.workspace
    rows = ws.candidates.rows()
    assert rows and cand in [r["id"] for r in rows]
    why = {r["id"]: r["why"] for r in rows}
    assert "amount off by" in why[cand] or "no shared reference" in why[cand]
    why_column = [c.key for c in ws.candidates.columns].index("why")
    shown = [ws.candidates.data(ws.candidates.index(i, why_column)) for i in range(len(rows))]
    assert shown == [r["why"] for r in rows]
    assert any("%" in w and ">" in w for w in shown), shown  # "amount off by 0.35 = 1.2 % > 1 %"
    assert "References" in ws.facts.text()
    assert ws.candidates_hint.text().startswith("Tick candidates")


def test_manual_match_keeps_place_and_undo_brings_it_back(page, app_ctx, qtbot):
    pos, rid, cand = open_pairs(app_ctx.db)[0]
    before = model_ids(page.model)
    show(page, qtbot, rid)
    assert page.table.currentIndex().row() == pos
    scroll = page.table.verticalScrollBar().value()
    assert page.workspace.check_candidate(cand)
    page.table.setFocus()
    page.match_action.trigger()
    qtbot.waitUntil(lambda: gone(page, rid), timeout=WAIT)
    after = model_ids(page.model)
    assert cand not in after
    expected = next(i for i in before[before.index(rid) + 1 :] if i in after)
    qtbot.waitUntil(lambda: page.current_record_id() == expected, timeout=WAIT)
    assert page.table.verticalScrollBar().value() == scroll
    assert record_state(app_ctx.db, rid) == "matched"
    assert app_ctx.undo_stack.count() == 1
    # undo: the record is back and selected
    app_ctx.undo_stack.undo()
    qtbot.waitUntil(lambda: page.current_record_id() == rid, timeout=WAIT)
    assert model_ids(page.model) == before
    assert record_state(app_ctx.db, rid) == "unmatched"
    qtbot.waitUntil(lambda: page.workspace.record_id == rid, timeout=WAIT)
    # redo: gone again
    app_ctx.undo_stack.redo()
    qtbot.waitUntil(lambda: gone(page, rid), timeout=WAIT)
    assert record_state(app_ctx.db, rid) == "matched"


def test_keyboard_flow(page, app_ctx, qtbot):
    pos, rid, cand = open_pairs(app_ctx.db)[0]
    page.select_row(max(0, pos - 1))
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_J)
    assert page.current_record_id() == rid
    qtbot.keyClick(page.table, Qt.Key.Key_K)
    assert page.table.currentIndex().row() == max(0, pos - 1)
    qtbot.keyClick(page.table, Qt.Key.Key_Down)
    assert page.current_record_id() == rid
    qtbot.waitUntil(lambda: page.workspace.data is not None, timeout=WAIT)
    qtbot.waitUntil(lambda: page.workspace.data.record_id == rid, timeout=WAIT)
    qtbot.keyClick(page.table, Qt.Key.Key_Return)  # Enter opens the workspace
    view = page.workspace.candidates_view
    assert view.hasFocus() or QApplication.focusWidget() is view
    ids = [r["id"] for r in page.workspace.candidates.rows()]
    for _ in range(ids.index(cand)):
        qtbot.keyClick(view, Qt.Key.Key_J)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert page.workspace.checked_candidates() == [cand]
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert page.workspace.checked_candidates() == []
    qtbot.keyClick(view, Qt.Key.Key_Space)
    qtbot.keyClick(view, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: gone(page, rid), timeout=WAIT)
    assert record_state(app_ctx.db, cand) == "matched"


def test_confirm_suggestion_and_reject(page, app_ctx, qtbot):
    rows = [page.model.row(r) for r in range(page.model.rowCount())]
    first, second = [r for r in rows if r["state"] == "suggested"][:2]
    show(page, qtbot, first["id"])
    mid = page.workspace.data.match["id"]
    members = [m["record_id"] for m in page.workspace.data.members]
    assert first["id"] in members
    page.confirm_action.trigger()
    qtbot.waitUntil(lambda: all(gone(page, m) for m in members), timeout=WAIT)
    assert match_status(app_ctx.db, mid) == "confirmed"
    app_ctx.undo_stack.undo()
    qtbot.waitUntil(lambda: page.current_record_id() == first["id"], timeout=WAIT)
    assert match_status(app_ctx.db, mid) == "suggested"
    # reject: the records stay (unmatched now), the suggestion is gone
    second = row_of(page.model, second["id"])
    show(page, qtbot, second["id"])
    smid = page.workspace.data.match["id"]
    page.reject_action.trigger()
    qtbot.waitUntil(lambda: match_status(app_ctx.db, smid) == "rejected", timeout=WAIT)
    qtbot.waitUntil(lambda: row_of(page.model, second["id"])["state"] == "unmatched", timeout=WAIT)
    assert page.current_record_id() == second["id"]


def test_unmatch_a_candidates_match(page, app_ctx, qtbot):
    found = matched_candidate(app_ctx.db)
    assert found is not None
    rid, cand, mid = found
    show(page, qtbot, rid)
    ws = page.workspace
    row = [r["id"] for r in ws.candidates.rows()].index(cand)
    select_only(ws.candidates_view, row)
    assert ws.unmatch_button.isEnabled()
    page.unmatch_action.trigger()
    qtbot.waitUntil(lambda: cand in model_ids(page.model), timeout=WAIT)
    assert match_status(app_ctx.db, mid) == "rejected"
    assert page.current_record_id() == rid
    app_ctx.undo_stack.undo()
    qtbot.waitUntil(lambda: gone(page, cand), timeout=WAIT)
    assert match_status(app_ctx.db, mid) in ("auto", "confirmed")


def test_write_off_within_tolerance_and_refused_over_it(page, app_ctx, qtbot, monkeypatch, errors):
    monkeypatch.setattr(prompts, "choose_writeoff_reason", lambda parent, what: "rounding")
    pairs = open_pairs(app_ctx.db, min_diff=1, max_diff=500)
    assert pairs, "the demo has a small difference to write off"
    _, rid, cand = pairs[0]
    show(page, qtbot, rid)
    page.workspace.check_candidate(cand)
    page.writeoff_action.trigger()
    qtbot.waitUntil(lambda: gone(page, rid), timeout=WAIT)
    with app_ctx.session() as s:
        m = s.scalars(select(Match).where(Match.writeoff_reason.is_not(None))).one()
        assert m.writeoff_reason == "rounding" and m.writeoff_minor == m.difference_minor != 0
        mid = m.id
    assert not errors
    app_ctx.undo_stack.undo()
    qtbot.waitUntil(lambda: page.current_record_id() == rid, timeout=WAIT)
    assert match_status(app_ctx.db, mid) is None  # the manual match itself is undone
    # a lone large line: the service refuses, its message is shown, nothing is written
    big = max(
        (page.model.row(r) for r in range(page.model.rowCount())),
        key=lambda r: abs(r["amount_minor"]),
    )
    show(page, qtbot, big["id"])
    assert page.workspace.data.match is None and not page.workspace.checked_candidates()
    with app_ctx.session() as s:
        n = s.scalar(select(func.count()).select_from(Match))
    page.writeoff_action.trigger()
    assert errors and "over the write-off limit" in errors[-1]
    with app_ctx.session() as s:
        assert s.scalar(select(func.count()).select_from(Match)) == n
    assert app_ctx.undo_stack.count() == 1  # the refused action is not on the stack
    assert page.current_record_id() == big["id"]


# -- cases ----------------------------------------------------------------------------------------


def test_bulk_assign_pending_resolve_reopen_with_audit(page, app_ctx, qtbot, monkeypatch):
    page.select_row(0)
    page.table.selectionModel().select(
        page.model.index(1, 0),
        page.table.selectionModel().SelectionFlag.Select
        | page.table.selectionModel().SelectionFlag.Rows,
    )
    ids = page.selected_case_ids()
    rids = [page.model.row(0)["id"], page.model.row(1)["id"]]
    assert len(ids) == 2
    monkeypatch.setattr(prompts, "choose_assignee", lambda parent, logins, n: "bob")
    page.assign_button.click()
    qtbot.waitUntil(lambda: row_of(page.model, rids[0])["assignee"] == "bob", timeout=WAIT)
    assert row_of(page.model, rids[1])["assignee"] == "bob"
    assert {row_of(page.model, r)["case_status"] for r in rids} == {"assigned"}
    assignee = [c.key for c in page.model.columns].index("assignee")
    assert page.model.data(page.model.index(page.model.find_row(rids[0]), assignee)) == "bob"
    with app_ctx.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "case.assign")).all()
        assert sorted(int(e.entity_id) for e in events) == ids
        assert {e.actor for e in events} == {"tester"}
    # the assignee filter finds them
    bar = page.filter_bar
    bar.assignee.setCurrentIndex(bar.assignee.findData("bob"))
    assert sorted(model_ids(page.model)) == sorted(rids)
    bar.reset()
    # pending, then resolve with a reason
    page.select_record(rids[0])
    page.table.selectionModel().select(
        page.model.index(page.model.find_row(rids[1]), 0),
        page.table.selectionModel().SelectionFlag.Select
        | page.table.selectionModel().SelectionFlag.Rows,
    )
    assert page.pending_selected() is not None
    qtbot.waitUntil(lambda: row_of(page.model, rids[0])["case_status"] == "pending", timeout=WAIT)
    monkeypatch.setattr(prompts, "choose_resolution", lambda parent, n: "no_action")
    page.resolve_button.click()
    qtbot.waitUntil(lambda: row_of(page.model, rids[0])["case_status"] == "resolved", timeout=WAIT)
    with app_ctx.session() as s:
        resolved = s.scalars(select(ExceptionCase).where(ExceptionCase.id.in_(ids))).all()
        assert {c.resolution for c in resolved} == {"no_action"}
        assert (
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "case.resolve")
            )
            == 2
        )
    # undo the resolution: pending again (cases.restore)
    app_ctx.undo_stack.undo()
    qtbot.waitUntil(lambda: row_of(page.model, rids[0])["case_status"] == "pending", timeout=WAIT)
    app_ctx.undo_stack.redo()
    qtbot.waitUntil(lambda: row_of(page.model, rids[0])["case_status"] == "resolved", timeout=WAIT)
    page.reopen_selected()
    qtbot.waitUntil(lambda: row_of(page.model, rids[0])["case_status"] == "assigned", timeout=WAIT)


def test_notes_are_added_and_undone(page, app_ctx, qtbot):
    rid = page.model.row(0)["id"]
    show(page, qtbot, rid)
    ws = page.workspace
    ws.note_edit.setText("Asked the bank for the remittance advice")
    with qtbot.waitSignal(ws.loaded, timeout=WAIT):
        ws.note_edit.returnPressed.emit()
    assert "remittance advice" in ws.notes_view.toPlainText()
    with qtbot.waitSignal(ws.loaded, timeout=WAIT):
        app_ctx.undo_stack.undo()
    assert "remittance advice" not in ws.notes_view.toPlainText()


# -- saved filters, columns, copy, export ---------------------------------------------------------


def test_saved_filters_round_trip(page, app_ctx):
    bar = page.filter_bar
    bar.currency.setCurrentIndex(bar.currency.findData("GBP"))
    bar.age.setCurrentIndex(bar.age.findData(">30"))
    wanted = page.model.filters
    assert page.saved.save("GBP old") is not None
    assert page.saved.names() == ["GBP old"]
    bar.reset()
    assert page.model.filters != wanted
    assert page.saved.load("GBP old")
    assert dataclasses.replace(page.model.filters, today=None) == dataclasses.replace(
        wanted, today=None
    )
    assert bar.currency.currentData() == "GBP"
    assert page.saved.delete()
    assert page.saved.names() == []


def test_column_chooser_is_remembered_and_copy_is_tsv(page, app_ctx, qtbot):
    table = page.table
    menu = table.column_menu()
    action = next(a for a in menu.actions() if a.data() == "counterparty")
    assert action.isChecked()
    action.toggle()
    menu.deleteLater()
    assert "counterparty" in table.hidden_columns()
    assert "counterparty" in QSettings().value("exceptions_page/hidden_columns")
    again = ExceptionsPage(app_ctx)
    qtbot.addWidget(again)
    assert "counterparty" in again.table.hidden_columns()
    settle(app_ctx, qtbot)
    # copy two rows of the visible columns
    page.select_row(0)
    sel = table.selectionModel()
    sel.select(page.model.index(1, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows)
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    text = QApplication.clipboard().text()
    lines = text.split("\n")
    visible = len(page.model.columns) - len(table.hidden_columns())
    assert len(lines) == 2 and all(len(line.split("\t")) == visible for line in lines)
    assert lines[0].split("\t")[0] == str(page.model.row(0)["id"])


def test_export_writes_the_view_to_xlsx(page, app_ctx, qtbot, tmp_path, monkeypatch):
    target = tmp_path / "queue.xlsx"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "Excel workbook (*.xlsx)")
    )
    bar = page.filter_bar
    bar.state.setCurrentIndex(bar.state.findData("unmatched"))
    shown = model_ids(page.model)
    task = page.export_table()
    qtbot.waitUntil(lambda: task.done, timeout=WAIT)
    book = openpyxl.load_workbook(target, read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    headers = [
        c.header for i, c in enumerate(page.model.columns) if not page.table.isColumnHidden(i)
    ]
    assert list(rows[0]) == headers
    assert [r[0] for r in rows[1:]] == shown
    amount = headers.index("Amount")
    first = page.model.row(0)
    assert float(rows[1][amount]) == pytest.approx(first["amount_minor"] / 100)


def test_drill_filters_from_the_dashboard(main_window, app_ctx, qtbot):
    main_window.show_page("dashboard")
    app_ctx.navigate(
        "exceptions",
        {
            "source": "Main bank EUR",
            "currency": "EUR",
            "age_bucket": ">30",
            "booked_from": "2026-10-01",
            "booked_to": "2026-10-20",
        },
    )
    page = main_window.current_page()
    assert isinstance(page, ExceptionsPage)
    assert main_window.export_action.isEnabled()
    f = page.model.filters
    assert f.booked_from == dt.date(2026, 10, 1) and f.booked_to == dt.date(2026, 10, 20)
    assert page.filter_bar.account.currentText() == "Main bank EUR"
    assert page.filter_bar.extra_chip.isVisible()
    assert "booked 2026-10-01" in page.filter_bar.extra_chip.text()
    with app_ctx.session() as s:
        assert page.model.rowCount() == table_queries.count(s, page.model.active_filters)
    rows = [page.model.row(r) for r in range(page.model.rowCount())]
    assert rows and {r["source"] for r in rows} == {"Main bank EUR"}
    assert all(dt.date(2026, 10, 1) <= r["booked_on"] <= dt.date(2026, 10, 20) for r in rows)
    page.filter_bar.clear_extra()
    assert page.model.filters.booked_from is None
    settle(app_ctx, qtbot)


# -- reconcile now, rules -------------------------------------------------------------------------


@pytest.fixture
def raw_db(tmp_path, raw_store):
    database = copy_store(raw_store, tmp_path / "raw.db")
    yield database
    database.dispose()


@pytest.fixture(params=["thread", "child process"])
def where(request, monkeypatch):
    """Reconcile on a worker thread (small databases) or in a child process (big ones)."""
    if request.param == "child process":
        monkeypatch.setattr("workstation.views.exceptions.reconcile.CHILD_PROCESS_AT", 0)
    return request.param


def test_reconcile_now_runs_in_background_while_the_ui_ticks(raw_db, where, qtbot, qtmodeltester):
    from workstation.views.context import AppContext

    ctx = AppContext(raw_db, "tester")
    try:
        page = open_page(ctx, qtbot)
        before = page.model.rowCount()
        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start()
        with qtbot.waitSignal(page.reconciler.finished, timeout=WAIT) as done:
            page.reconcile_action.trigger()
            assert page.reconciler.running and page.panel.isVisible()
            assert not page.reconcile_button.isEnabled()
            started = time.perf_counter()
        ended = time.perf_counter()
        timer.stop()
        report = done.args[0]
        assert report is not None and not report.dry_run and report.auto > 0
        during = [t for t in ticks if started <= t <= ended]
        assert len(during) >= 3, "the event loop kept running during the run"
        gaps = [b - a for a, b in itertools.pairwise(during)]
        assert max(gaps, default=0) < 0.25
        qtbot.waitUntil(lambda: page.model.rowCount() < before, timeout=WAIT)
        assert page.reconciler.dialog is not None and page.reconciler.dialog.isVisible()
        counts = page.reconciler.dialog.model
        qtmodeltester.check(counts)
        assert [counts.row(i)["name"] for i in range(counts.rowCount())] == [
            r.name for r in report.rules
        ]
        assert sum(counts.row(i)["auto"] for i in range(counts.rowCount())) == report.auto
        assert not page.panel.isVisible() and page.reconcile_button.isEnabled()
        page.reconciler.dialog.close()
        settle(ctx, qtbot)
    finally:
        ctx.shutdown()


def test_reconcile_can_be_cancelled(raw_db, where, qtbot):
    from workstation.views.context import AppContext

    ctx = AppContext(raw_db, "tester")
    try:
        page = open_page(ctx, qtbot)
        with qtbot.waitSignal(page.reconciler.finished, timeout=WAIT) as done:
            page.reconcile_now()
            page.panel.cancel_button.click()
        assert done.args == [None]
        with ctx.session() as s:
            assert s.scalar(select(func.count()).select_from(Match)) == 0
        settle(ctx, qtbot)
    finally:
        ctx.shutdown()


def test_rules_dialog_toggles_moves_and_simulates(page, app_ctx, qtbot, errors):
    dialog = page.show_rules()
    names = [s.name for s in dialog.model.specs]
    assert names[0] == "Reference (exact)" and "Subset sum" in names
    assert dialog.toggle("Subset sum", 3, False)
    with app_ctx.session() as s:
        assert not next(r for r in rules.load_rules(s) if r.name == "Subset sum").enabled
    assert not dialog.toggle("Subset sum", 4, True)  # never auto-confirmed: refused
    assert errors and "never auto-confirmed" in errors[-1]
    select_only(dialog.table, names.index("Amount + date window"))
    assert dialog.move(-1)
    moved = [s.name for s in dialog.model.specs]
    assert moved.index("Amount + date window") == names.index("Amount + date window") - 1
    assert dialog.selected_name() == "Amount + date window"
    with app_ctx.session() as s:
        assert [r.name for r in rules.load_rules(s)] == moved
        matches = s.scalar(select(func.count()).select_from(Match))
    with qtbot.waitSignal(dialog.runner.finished, timeout=WAIT) as done:
        dialog.simulate_button.click()
    report = done.args[0]
    assert report.dry_run
    assert dialog.runner.dialog.windowTitle() == "Simulation"
    assert "nothing written" in dialog.runner.dialog.summary.text()
    with app_ctx.session() as s:
        assert s.scalar(select(func.count()).select_from(Match)) == matches
    dialog.runner.dialog.close()
    dialog.close()


def test_user_list_feeds_the_assignee_filter(page, app_ctx, qtbot):
    qtbot.waitUntil(lambda: page.filter_bar.assignee.findData("bob") >= 0, timeout=WAIT)
    with app_ctx.session() as s:
        logins = {u.login for u in s.scalars(select(User))}
    assert {"tester", "bob"} <= logins
