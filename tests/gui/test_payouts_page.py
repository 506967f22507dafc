"""Payouts page: the list as SQL says for each filter, in transit at an as-of date, sorting and
the place kept, keyboard, the detail (components adding up to net, bank line, explanation), the
lazily paged lines and their trails, totals per currency, the page in the main window."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from recon_helpers import WAIT, settle

from workstation.money import format_minor
from workstation.services.settlement import payout_queries as pq
from workstation.services.settlement.payout_queries import PayoutFilter
from workstation.views.context import MATCHES
from workstation.views.models.sql_table import SqlTableModel
from workstation.views.pages.payouts import PayoutsPage
from workstation.views.settlement.payout_detail import PayoutDetail, PayoutLineSource
from workstation.views.settlement.payout_list import (
    ID_ROLE,
    ROW_ROLE,
    PayoutListModel,
    totals_by_currency,
)


@pytest.fixture
def db(reconciled_db):
    return reconciled_db


@pytest.fixture(autouse=True)
def crashes_fail(no_crash_dialogs):
    return no_crash_dialogs


@pytest.fixture
def page(app_ctx, qtbot):
    page = PayoutsPage(app_ctx)
    qtbot.addWidget(page)
    page.resize(1400, 850)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=WAIT)
    qtbot.waitUntil(lambda: page.filter_bar.psp.count() > 1, timeout=WAIT)
    settle(app_ctx, qtbot)
    yield page
    settle(app_ctx, qtbot)


def service(db, f: PayoutFilter) -> list[int]:
    with db.session() as s:
        return [r.id for r in pq.list_payouts(s, f)]


def all_payouts(ctx):
    with ctx.session() as s:
        return pq.list_payouts(s)


def shown_ids(page) -> list[int]:
    m = page.model
    return [m.data(m.index(r, 0), ID_ROLE) for r in range(m.rowCount())]


def apply(page, qtbot, f: PayoutFilter) -> None:
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.filter_bar.set_filters(f)
    settle(page.ctx, qtbot)


def in_transit_case(db) -> tuple[int, PayoutFilter]:
    """A payout sent before its bank line was booked, and the as-of date in between."""
    with db.session() as s:
        for p in pq.list_payouts(s):
            if p.paid_on and p.bank_booked_on and p.paid_on < p.bank_booked_on:
                return p.id, PayoutFilter(as_of=p.paid_on)
    raise AssertionError("no payout reached the bank after its payout date")


# -- models ------------------------------------------------------------------------------------


def test_models_pass_modeltester(page, db, app_ctx, qtmodeltester):
    qtmodeltester.check(page.model)
    page.model.sort(5, Qt.SortOrder.DescendingOrder)
    qtmodeltester.check(page.model)
    qtmodeltester.check(PayoutListModel())
    d = page.detail
    assert d.payout is not None
    qtmodeltester.check(d.components)
    qtmodeltester.check(d.bank)
    qtmodeltester.check(d.lines)
    qtmodeltester.check(d.trail_view.model)


def test_list_is_what_sql_says(page, db):
    assert shown_ids(page) == service(db, PayoutFilter())
    row = page.model.data(page.model.index(0, 0), ROW_ROLE)
    texts = [page.model.data(page.model.index(0, c)) for c in range(page.model.columnCount())]
    assert texts[0] == row.payout_ref
    assert format_minor(row.net_minor, row.currency) in texts
    assert page.count_label.text() == f"{len(shown_ids(page))} payouts"


@pytest.mark.parametrize(
    "make",
    [
        lambda rows: PayoutFilter(psp="stripe"),
        lambda rows: PayoutFilter(account=rows[-1].account),
        lambda rows: PayoutFilter(status="paid"),
        lambda rows: PayoutFilter(status="in_transit", as_of=rows[len(rows) // 2].paid_on),
        lambda rows: PayoutFilter(date_from=rows[len(rows) // 2].paid_on),
        lambda rows: PayoutFilter(date_to=rows[len(rows) // 2].paid_on, psp="adyen"),
        lambda rows: PayoutFilter(difference_only=True),
        lambda rows: PayoutFilter(search=rows[3].payout_ref[-6:].upper()),
        lambda rows: PayoutFilter(search=rows[2].bank_external_id),
    ],
)
def test_filters_change_the_rows_as_sql_says(page, db, qtbot, make):
    with db.session() as s:
        everything = pq.list_payouts(s)
    f = make(everything)
    apply(page, qtbot, f)
    assert page.filter_bar.filters() == f
    expected = service(db, f)
    assert shown_ids(page) == expected
    assert page.count_label.text().startswith(f"{len(expected)} payout")
    if f.psp or f.search or f.date_from:
        assert 0 < len(expected) < len(everything)


def test_filter_widgets_emit_once_per_edit(page, db, qtbot):
    bar = page.filter_bar
    seen = []
    bar.changed.connect(seen.append)
    bar.psp.setCurrentIndex(bar.psp.findData("adyen"))
    bar.difference.setChecked(True)
    bar.difference.setChecked(False)
    bar.search.setText("batch-1")
    assert len(seen) == 3
    qtbot.keyClick(bar.search, Qt.Key.Key_Return)
    assert len(seen) == 4 and seen[-1].search == "batch-1" and seen[-1].psp == "adyen"
    bar.reset()
    assert len(seen) == 5 and seen[-1] == PayoutFilter()
    settle(page.ctx, qtbot)


def test_in_transit_at_an_as_of_date(page, db, qtbot):
    pid, f = in_transit_case(db)
    apply(page, qtbot, f)
    assert shown_ids(page) == service(db, f)
    r = page.model.position_of(pid)
    assert r >= 0
    row = page.model.row(r)
    assert row.status == "in_transit"
    assert page.model.data(page.model.index(r, 4)) == "in transit"
    assert page.model.data(page.model.index(r, 4), Qt.ItemDataRole.BackgroundRole) is not None
    assert page.select_payout(pid)
    assert "in transit since" in page.detail.explanation.text()
    assert "in transit" in page.totals.text()
    apply(page, qtbot, dataclasses.replace(f, status="in_transit"))
    assert pid in shown_ids(page)
    assert all(page.model.row(i).status == "in_transit" for i in range(page.model.rowCount()))
    apply(page, qtbot, PayoutFilter())  # without a cut-off it is paid
    assert page.model.row(page.model.position_of(pid)).status == "paid"


def test_totals_per_currency_never_add_currencies(page, db):
    rows = page.model.rows()
    totals = totals_by_currency(rows)
    assert set(totals) == {r.currency for r in rows}
    for cur, t in totals.items():
        mine = [r for r in rows if r.currency == cur]
        assert t.payouts == len(mine)
        assert t.sums["net_minor"] == sum(r.net_minor for r in mine)
        net = format_minor(t.sums["net_minor"], cur)
        assert f"<b>{net}</b> net" in page.totals.text()
    # a made-up second currency gets its own line
    gbp = dataclasses.replace(rows[0], id=-1, currency="GBP", match_id=None)
    assert set(totals_by_currency([*rows, gbp])) == {"EUR", "GBP"}
    assert totals_by_currency([*rows, gbp])["EUR"].sums == totals["EUR"].sums


# -- sorting, place kept, keyboard ---------------------------------------------------------------


def test_header_sorts_and_keeps_the_current_payout(page, db, qtbot):
    page.table.setFocus()
    page._select_row(4)
    pid = page.current_payout_id()
    net = [c.key for c in page.model.columns].index("net_minor")
    page.table.horizontalHeader().setSortIndicator(net, Qt.SortOrder.DescendingOrder)
    values = [page.model.row(i).net_minor for i in range(page.model.rowCount())]
    assert values == sorted(values, reverse=True)
    assert page.current_payout_id() == pid
    assert page.detail.payout_id == pid
    assert page.order_label.text() == "By net, descending"
    page.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    assert shown_ids(page) == service(db, PayoutFilter())
    assert page.current_payout_id() == pid


def test_refresh_keeps_the_selected_payout(page, db, qtbot):
    page._select_row(7)
    pid = page.current_payout_id()
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.ctx.changed(MATCHES)
    assert page.current_payout_id() == pid
    assert page.detail.payout_id == pid
    # a filter that still holds it keeps it too
    row = page.current_payout()
    apply(page, qtbot, PayoutFilter(psp=row.psp))
    assert page.current_payout_id() == pid


def test_keyboard(page, db, qtbot):
    page.table.setFocus()
    page._select_row(0)
    first = page.current_payout_id()
    qtbot.keyClick(page.table, Qt.Key.Key_Down)
    assert page.table.currentIndex().row() == 1
    assert page.detail.payout_id == page.model.row(1).id != first
    qtbot.keyClick(page.table, Qt.Key.Key_Up)
    assert page.detail.payout_id == first
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is page.detail.components_view
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is page.table
    qtbot.keyClick(page.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is page.filter_bar.search
    with db.session() as s:
        target = pq.list_payouts(s)[5]
    qtbot.keyClicks(page.filter_bar.search, target.payout_ref)
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        qtbot.keyClick(page.filter_bar.search, Qt.Key.Key_Return)
    assert shown_ids(page) == [target.id]
    assert page.detail.payout_id == target.id
    qtbot.keyClick(page.filter_bar.search, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert page.detail.tabs.currentIndex() == page.detail.trail_index
    settle(page.ctx, qtbot)


# -- detail --------------------------------------------------------------------------------------


def test_detail_components_add_up_to_net(page, db):
    for r in (0, 1, 5):
        page._select_row(r)
        p = page.current_payout()
        d = page.detail
        rows = d.components.rows()
        assert rows[-1]["label"] == "= Net" or rows[-2]["label"] == "= Net"
        net_at = [x["label"] for x in rows].index("= Net")
        assert sum(x["amount_minor"] for x in rows[:net_at]) == rows[net_at]["amount_minor"]
        assert rows[net_at]["amount_minor"] == p.net_minor
        assert d.components.data(d.components.index(net_at, 1)) == format_minor(
            p.net_minor, p.currency
        )
        assert d.explanation.text() == p.explanation()
        with db.session() as s:
            bank = pq.bank_lines(s, p.match_id)
        assert [b["record_id"] for b in d.bank.rows()] == [b.record_id for b in bank]
        assert p.payout_ref in d.title.text()


def test_lines_page_lazily(app_ctx, db, qtbot, monkeypatch):
    with db.session() as s:
        p = max(pq.list_payouts(s), key=lambda x: x.lines)
        n = pq.payout_line_count(s, p.id)
        every = pq.payout_lines(s, p.id, limit=10_000)
    assert n >= 8
    # the source on its own: pages of 3, read only when a row of that page is asked for
    model = SqlTableModel(PayoutLineSource(), app_ctx.session, filters=p.id, page_size=3)
    assert model.rowCount() == n and model.fetches == 0
    assert model.row(0).record_id == every[0].record_id
    assert model.fetches == 1
    assert model.row(2).record_id == every[2].record_id and model.fetches == 1
    assert model.row(n - 1).record_id == every[-1].record_id  # a far jump: one page query
    assert model.fetches == 2
    assert [model.row(i).record_id for i in range(n)] == [x.record_id for x in every]
    # the detail: only the pages that are painted are read
    monkeypatch.setattr(PayoutDetail, "LINES_PAGE", 2)
    d = PayoutDetail(app_ctx)
    qtbot.addWidget(d)
    d.resize(600, 300)
    d.show()
    d.show_payout(p)
    assert d.lines.rowCount() == n and d.lines.fetches == 0  # the Lines tab is not shown yet
    d.tabs.setCurrentIndex(d.lines_index)
    qtbot.waitUntil(lambda: d.lines.fetches > 0, timeout=WAIT)
    qtbot.wait(20)
    painted = d.lines.fetches
    assert painted < (n + 1) // 2
    d.lines_view.scrollToBottom()
    qtbot.waitUntil(lambda: d.lines.fetches > painted, timeout=WAIT)
    orders = [c.key for c in d.lines.columns].index("order_external_id")
    shown = {d.lines.data(d.lines.index(i, orders)) for i in range(n)}
    assert {x.order_external_id or "" for x in every} <= shown | {""}


def test_double_click_on_a_line_shows_its_trail(page, db, qtbot):
    d = page.detail
    page._select_row(next(i for i, p in enumerate(page.model.rows()) if p.gross_minor > 0))
    d.tabs.setCurrentIndex(d.lines_index)
    r = next(
        i
        for i in range(d.lines.rowCount())
        if d.lines.row(i).kind == "charge" and d.lines.row(i).order_record_id
    )
    line = d.lines.row(r)
    index = d.lines.index(r, 1)
    qtbot.waitUntil(d.lines_view.isVisible, timeout=WAIT)
    qtbot.wait(10)
    d.lines_view.scrollTo(index)
    pos = d.lines_view.visualRect(index).center()
    qtbot.mouseDClick(d.lines_view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert d.tabs.currentIndex() == d.trail_index
    walk = d.trail_view.model.walk()
    assert walk[0][2].id == line.record_id
    assert [n.type for _d, _r, n in walk][:2] == ["psp", "order"]
    assert any(n.type == "payout" and n.id == page.detail.payout_id for _d, _r, n in walk)
    # Enter on a line does the same; Ctrl+T brings the payout's own trail back
    d.tabs.setCurrentIndex(d.lines_index)
    d.lines_view.setFocus()
    d.lines_view.setCurrentIndex(d.lines.index(0, 0))
    qtbot.keyClick(d.lines_view, Qt.Key.Key_Return)
    assert d.trail_view.model.walk()[0][2].id == d.lines.row(0).record_id
    d.show_trail()
    assert d.trail_view.model.walk()[0][2].type == "payout"


def test_trail_payout_node_selects_that_payout(page, db, qtbot):
    d = page.detail
    page._select_row(next(i for i, p in enumerate(page.model.rows()) if p.gross_minor > 0))
    d.open_line(0)
    payout_nodes = [n for _d, _r, n in d.trail_view.model.walk() if n.type == "payout"]
    assert payout_nodes
    with db.session() as s:
        other = pq.list_payouts(s)[9].id
    d.trail_view.open_payout.emit(other)
    assert page.current_payout_id() == other
    assert d.payout_id == other


def test_page_in_the_main_window(main_window, qtbot):
    page = main_window.show_page("payouts")
    assert isinstance(page, PayoutsPage)
    keys = main_window.page_keys()
    assert keys[-1] == "payouts"  # after the dashboard: Ctrl+1..5 keep their pages
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=WAIT)
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        main_window.open_filtered("payouts", {"psp": "adyen"})
    assert {page.model.row(i).psp for i in range(page.model.rowCount())} == {"adyen"}
    stripe = next(p for p in all_payouts(main_window.ctx) if p.psp == "stripe")
    # a trail elsewhere opens a payout the filters hide: they are reset and it is selected
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        main_window.ctx.navigate("payouts", {"payout_id": stripe.id})
    assert page.current_payout_id() == stripe.id
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        main_window.open_filtered("payouts", {"date_from": str(stripe.paid_on)})
    assert page.filter_bar.filters().date_from == stripe.paid_on
    settle(main_window.ctx, qtbot)


def test_export(page, db, tmp_path, qtbot):
    target = tmp_path / "payouts.csv"
    page.export_table(target)
    settle(page.ctx, qtbot)
    assert target.exists()
    assert len(target.read_text(encoding="utf-8").splitlines()) == page.model.rowCount() + 1
