"""Matches page: lazy table over matches, filters, member drill-down, confirm / reject /
unmatch / split / write-off with undo and the place kept, export, dashboard drill."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from PySide6.QtCore import Qt
from recon_helpers import (
    WAIT,
    build_store,
    copy_store,
    match_status,
    model_ids,
    open_pairs,
    record_state,
    settle,
)
from sqlalchemy import select

from workstation.models import Match
from workstation.services.reconcile import clerk_actions, table_queries
from workstation.services.reconcile.table_queries import MatchFilters
from workstation.views import crash, messages
from workstation.views.exceptions import prompts
from workstation.views.matches.source import MatchSource
from workstation.views.models.sql_table import SqlTableModel
from workstation.views.pages.exceptions import ExceptionsPage
from workstation.views.pages.matches import MatchesPage


@pytest.fixture(scope="session")
def reconciled_store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("matches") / "reconciled.db")


@pytest.fixture
def db(tmp_path, reconciled_store):
    database = copy_store(reconciled_store, tmp_path / "ws.db")
    yield database
    database.dispose()


@pytest.fixture(autouse=True)
def crashes_fail(monkeypatch):
    seen: list[BaseException] = []
    monkeypatch.setattr(crash, "show_crash", lambda exc, parent=None: seen.append(exc))
    yield seen
    assert not seen, seen


@pytest.fixture
def errors(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(
        messages, "show_error", lambda parent, message, title="": shown.append(str(message))
    )
    return shown


@pytest.fixture
def page(app_ctx, qtbot):
    page = MatchesPage(app_ctx)
    qtbot.addWidget(page)
    page.resize(1400, 900)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.filter_bar.rule.count() > 1, timeout=WAIT)
    yield page
    settle(app_ctx, qtbot)


def count(ctx, filters: MatchFilters) -> int:
    with ctx.session() as s:
        return table_queries.count(s, filters)


def test_model_passes_modeltester(page, app_ctx, qtmodeltester):
    qtmodeltester.check(page.model)
    model = SqlTableModel(MatchSource(), app_ctx.session, filters=MatchFilters(), page_size=9)
    qtmodeltester.check(model)
    model.sort(3, Qt.SortOrder.DescendingOrder)
    qtmodeltester.check(model)
    page.select_match(model_ids(page.model)[0])
    qtmodeltester.check(page.detail.members)


def test_filters_status_rule_confidence_difference(page, app_ctx):
    bar = page.filter_bar
    total = count(app_ctx, MatchFilters())
    assert page.model.rowCount() == total > 100
    assert page.count_label.text() == f"{total:,} matches"
    bar.status.setCurrentIndex(bar.status.findData("suggested"))
    suggested = count(app_ctx, MatchFilters(statuses=("suggested",)))
    assert 0 < page.model.rowCount() == suggested < total
    assert {page.model.row(r)["status"] for r in range(page.model.rowCount())} == {"suggested"}
    bar.status.setCurrentIndex(bar.status.findData("active"))
    bar.rule.setCurrentIndex(bar.rule.findData("Payout to bank credit"))
    rows = [page.model.row(r) for r in range(page.model.rowCount())]
    assert rows and {r["rule"] for r in rows} == {"Payout to bank credit"}
    bar.rule.setCurrentIndex(0)
    bar.confidence_max.setValue(90)
    rows = [page.model.row(r) for r in range(page.model.rowCount())]
    assert rows and all(r["confidence"] <= 90 for r in rows)
    assert page.model.rowCount() == count(app_ctx, MatchFilters(confidence_max=90))
    bar.confidence_max.setValue(100)
    bar.difference.setCurrentIndex(bar.difference.findData("yes"))
    assert page.model.rowCount() == count(app_ctx, MatchFilters(with_difference=True))
    bar.difference.setCurrentIndex(0)
    bar.written_off.setCurrentIndex(bar.written_off.findData("no"))
    assert page.model.rowCount() == total
    bar.reset()
    # sort by confidence (SQL), lowest first
    conf = [c.key for c in page.model.columns].index("confidence")
    page.table.horizontalHeader().setSortIndicator(conf, Qt.SortOrder.AscendingOrder)
    values = [page.model.row(r)["confidence"] for r in range(page.model.rowCount())]
    assert values == sorted(values)


def test_member_drill_down(page, app_ctx, qtbot):
    mid = model_ids(page.model)[0]
    with qtbot.waitSignal(page.detail.loaded, timeout=WAIT):
        assert page.select_match(mid)
    with app_ctx.session() as s:
        members = table_queries.match_members(s, [mid])[mid]
    rows = page.detail.members.rows()
    assert [r["record_id"] for r in rows] == [m["record_id"] for m in members]
    assert all(r["references"] for r in rows)
    assert f"Match {mid}" in page.detail.title.text()
    assert page.detail.unmatch_button.isEnabled() and not page.detail.confirm_button.isEnabled()


def test_confirm_from_matches_page_keeps_place_and_undoes(page, app_ctx, qtbot):
    bar = page.filter_bar
    bar.status.setCurrentIndex(bar.status.findData("suggested"))
    ids = model_ids(page.model)
    assert len(ids) >= 3
    mid, following = ids[1], ids[2]
    page.select_match(mid)
    page.table.setFocus()
    page.confirm_action.trigger()
    qtbot.waitUntil(lambda: mid not in model_ids(page.model), timeout=WAIT)
    assert match_status(app_ctx.db, mid) == "confirmed"
    qtbot.waitUntil(lambda: page.current_match_id() == following, timeout=WAIT)
    app_ctx.undo_stack.undo()
    qtbot.waitUntil(lambda: page.current_match_id() == mid, timeout=WAIT)
    assert match_status(app_ctx.db, mid) == "suggested"
    # reject the next one
    page.select_match(following)
    page.reject_action.trigger()
    qtbot.waitUntil(lambda: match_status(app_ctx.db, following) == "rejected", timeout=WAIT)


def test_unmatch_frees_the_lines_for_the_exceptions_page(page, app_ctx, qtbot):
    exceptions = ExceptionsPage(app_ctx)
    qtbot.addWidget(exceptions)
    before = exceptions.model.rowCount()
    mid = model_ids(page.model)[0]
    page.select_match(mid)
    members = [r["record_id"] for r in page.detail.members.rows()]
    page.unmatch_action.trigger()
    qtbot.waitUntil(lambda: mid not in model_ids(page.model), timeout=WAIT)
    assert match_status(app_ctx.db, mid) == "rejected"
    assert all(record_state(app_ctx.db, r) == "unmatched" for r in members)
    qtbot.waitUntil(lambda: exceptions.model.rowCount() == before + len(members), timeout=WAIT)
    # the rejected match is still listed under "Rejected / unmatched"
    bar = page.filter_bar
    bar.status.setCurrentIndex(bar.status.findData("rejected"))
    assert mid in model_ids(page.model)
    bar.status.setCurrentIndex(bar.status.findData("active"))
    app_ctx.undo_stack.undo()
    qtbot.waitUntil(lambda: page.current_match_id() == mid, timeout=WAIT)
    qtbot.waitUntil(lambda: exceptions.model.rowCount() == before, timeout=WAIT)
    settle(app_ctx, qtbot)


def test_split_removes_ticked_members(page, app_ctx, qtbot):
    big = next(
        page.model.row(r) for r in range(page.model.rowCount()) if page.model.row(r)["members"] >= 3
    )
    with qtbot.waitSignal(page.detail.loaded, timeout=WAIT):
        page.select_match(big["id"])
    rows = page.detail.members.rows()
    page.detail.members.set_checked(len(rows) - 1, True)
    gone = rows[-1]["record_id"]
    page.detail.split_button.click()
    qtbot.waitUntil(
        lambda: (
            page.current_row() is not None and page.current_row()["members"] == big["members"] - 1
        ),
        timeout=WAIT,
    )
    assert page.current_match_id() == big["id"]
    assert record_state(app_ctx.db, gone) == "unmatched"
    app_ctx.undo_stack.undo()
    qtbot.waitUntil(lambda: page.current_row()["members"] == big["members"], timeout=WAIT)
    assert record_state(app_ctx.db, gone) == "matched"


def test_write_off_a_difference(page, app_ctx, qtbot, monkeypatch, errors):
    _, rid, cand = open_pairs(app_ctx.db, min_diff=1, max_diff=500)[0]
    with app_ctx.session() as s:
        mid = clerk_actions.manual_match(s, [rid, cand], actor="tester").match_id
    app_ctx.changed("matches")
    qtbot.waitUntil(lambda: mid in model_ids(page.model), timeout=WAIT)
    page.select_match(mid)
    assert page.detail.writeoff_button.isEnabled()
    monkeypatch.setattr(prompts, "choose_writeoff_reason", lambda parent, what: "bank_fee")
    page.writeoff_action.trigger()
    qtbot.waitUntil(lambda: page.current_row()["writeoff_reason"] == "bank_fee", timeout=WAIT)
    assert "Bank fee" in page.detail.facts.text()
    with app_ctx.session() as s:
        m = s.get(Match, mid)
        assert m.writeoff_minor == m.difference_minor != 0
    assert not errors
    app_ctx.undo_stack.undo()
    qtbot.waitUntil(lambda: page.current_row()["writeoff_reason"] is None, timeout=WAIT)


def test_export_csv_and_dashboard_drill(page, app_ctx, qtbot, tmp_path):
    page.apply_filters({"psp": "stripe", "booked_from": "2026-10-01", "booked_to": "2026-10-10"})
    f = page.model.filters
    assert f.psp == "stripe" and f.booked_to == dt.date(2026, 10, 10)
    assert "PSP stripe" in page.filter_bar.extra_chip.text()
    n = page.model.rowCount()
    assert 0 < n < count(app_ctx, MatchFilters())
    with app_ctx.session() as s:
        assert n == table_queries.count(s, f)
        ids = [r["id"] for r in table_queries.fetch_page(s, f, None, None, 10_000).rows]
        members = table_queries.match_members(s, ids)
    assert all(any(m["source"].startswith("Stripe") for m in members[i]) for i in ids)
    target = tmp_path / "matches.csv"
    task = page.export_table(target)
    qtbot.waitUntil(lambda: task.done, timeout=WAIT)
    with target.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0] == "Match" and len(rows) == n + 1
    assert [int(r[0]) for r in rows[1:]] == model_ids(page.model)


def test_saved_filter_on_matches(page, app_ctx):
    bar = page.filter_bar
    bar.status.setCurrentIndex(bar.status.findData("suggested"))
    bar.confidence_min.setValue(50)
    assert page.saved.save("weak suggestions")
    bar.reset()
    assert page.saved.load("weak suggestions")
    assert page.model.filters.statuses == ("suggested",)
    assert page.model.filters.confidence_min == 50
    with app_ctx.session() as s:
        assert s.scalars(select(Match.id)).first() is not None
