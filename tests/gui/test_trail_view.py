"""The money trail widget: its tree model, the path of a demo order to the bank, opening nodes by
keyboard and mouse, and the trail in the exceptions workspace and the dispute case."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from recon_helpers import WAIT, settle
from sqlalchemy import text

from workstation.services.reconcile import table_queries
from workstation.services.settlement import payout_queries as pq
from workstation.services.settlement import trail as trail_service
from workstation.views.disputes.case_view import CaseView
from workstation.views.exceptions.workspace import MatchWorkspace
from workstation.views.settlement.trail_view import NODE_ROLE, TrailModel, TrailView


@pytest.fixture
def db(reconciled_db):
    return reconciled_db


@pytest.fixture(autouse=True)
def crashes_fail(no_crash_dialogs):
    return no_crash_dialogs


@pytest.fixture
def view(app_ctx, qtbot):
    view = TrailView(app_ctx)
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    return view


def paid_order(db) -> tuple[str, int, int, int]:
    """(order number, order record id, payout id, bank record id) of a demo order whose charge
    was paid out and reached the bank."""
    with db.session() as s:
        for p in pq.list_payouts(s):
            if p.status != "paid" or p.match_id is None:
                continue
            bank = pq.bank_lines(s, p.match_id)
            for line in pq.payout_lines(s, p.id, limit=100):
                if line.kind == "charge" and line.order_external_id and len(bank) == 1:
                    order_id = int(line.order_record_id)
                    return line.order_external_id, order_id, p.id, bank[0].record_id
    raise AssertionError("no paid order in the demo")


def test_model_passes_modeltester(view, db, qtmodeltester):
    order, *_ = paid_order(db)
    view.show_ident(order)
    assert view.model.rowCount() == 1
    qtmodeltester.check(view.model)
    with db.session() as s:
        payout = pq.list_payouts(s)[0].id
    view.show_payout(payout)  # a wide tree: the payout's lines and their orders
    assert view.model.rowCount() == 1 and view.model.rowCount(view.model.index(0, 0)) > 1
    qtmodeltester.check(view.model)
    empty = TrailModel()
    qtmodeltester.check(empty)


def test_order_trail_reaches_the_bank(view, db):
    order, order_id, payout_id, bank_id = paid_order(db)
    t0 = time.perf_counter()
    found = view.show_ident(order)
    assert time.perf_counter() - t0 < 0.1  # synchronous load stays well below 100 ms
    assert found is not None and found.reaches_bank
    walk = view.model.walk()
    types = [(depth, node.type) for depth, _rel, node in walk]
    assert types[:4] == [(0, "order"), (1, "psp"), (2, "payout"), (3, "bank")]
    assert walk[0][2].id == order_id and walk[0][2].label == order
    assert walk[2][2].id == payout_id and walk[3][2].id == bank_id
    assert walk[2][1] == "settled in payout"
    # the texts of the columns: node, account, date, amount, currency, status
    m = view.model
    top = m.index(0, 0)
    assert m.data(top) == f"Order {order}"
    assert m.data(m.index(0, 4)) == walk[0][2].currency
    assert m.data(top, Qt.ItemDataRole.DecorationRole) is not None
    assert "Reaches the bank" in view.notes.text()
    assert view.tree.isExpanded(m.index(0, 0, m.index(0, 0)))  # expanded down to the bank


def test_same_trail_as_the_service(view, db):
    order, *_ = paid_order(db)
    with db.session() as s:
        outline = trail_service.trail(s, order).outline()
    view.show_ident(order)
    shown = [(d, n.key) for d, _r, n in view.model.walk()]
    assert shown == [(o.depth, o.node.key) for o in outline]


def test_unknown_ident_shows_the_message(view):
    assert view.show_ident("no-such-thing-42") is None
    assert view.model.rowCount() == 0
    assert "nothing is known" in view.notes.text()


def _index_of(model, node_type: str):
    def visit(parent):
        for r in range(model.rowCount(parent)):
            index = model.index(r, 0, parent)
            if model.data(index, NODE_ROLE).type == node_type:
                return index
            found = visit(index)
            if found is not None:
                return found
        return None

    return visit(model.index(-1, -1))


def test_enter_and_double_click_open_nodes(view, db, qtbot):
    order, order_id, payout_id, bank_id = paid_order(db)
    view.show_ident(order)
    view.tree.setFocus()
    view.tree.setCurrentIndex(_index_of(view.model, "payout"))
    with qtbot.waitSignal(view.open_payout, timeout=WAIT) as opened:
        qtbot.keyClick(view.tree, Qt.Key.Key_Return)
    assert opened.args == [payout_id]
    view.tree.setCurrentIndex(_index_of(view.model, "order"))
    with qtbot.waitSignal(view.open_record, timeout=WAIT) as opened:
        qtbot.keyClick(view.tree, Qt.Key.Key_Enter)
    assert opened.args == [order_id]
    bank = _index_of(view.model, "bank")
    view.tree.scrollTo(bank)
    pos = view.tree.visualRect(bank).center()
    with qtbot.waitSignal(view.open_record, timeout=WAIT) as opened:
        qtbot.mouseDClick(view.tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert opened.args == [bank_id]


def test_dispute_node_opens_the_dispute(view, db, qtbot):
    with db.session() as s:
        dispute_id = int(s.execute(text("SELECT MIN(id) FROM disputes")).scalar_one())
    view.show_dispute(dispute_id)
    index = _index_of(view.model, "dispute")
    assert index is not None
    view.tree.setCurrentIndex(index)
    with qtbot.waitSignal(view.open_dispute, timeout=WAIT) as opened:
        qtbot.keyClick(view.tree, Qt.Key.Key_Return)
    assert opened.args == [dispute_id]


# -- where other views show it -----------------------------------------------------------------


def test_exceptions_workspace_shows_the_record_trail(app_ctx, db, qtbot):
    ws = MatchWorkspace(app_ctx)
    qtbot.addWidget(ws)
    ws.resize(600, 900)
    ws.show()
    with db.session() as s:
        row = table_queries.fetch_page(s, table_queries.ExceptionFilters(), None, None, 1).rows[0]
        expected = trail_service.trail_for_record(s, int(row["id"])).outline()
    with qtbot.waitSignal(ws.loaded, timeout=WAIT):
        ws.show_record(dict(row))
    walk = ws.trail_view.model.walk()
    assert [n.key for _d, _r, n in walk] == [o.node.key for o in expected]
    assert walk[0][2].id == int(row["id"])
    ws.clear()
    assert ws.trail_view.model.rowCount() == 0
    settle(app_ctx, qtbot)


def test_dispute_case_has_a_money_trail_tab(app_ctx, db, qtbot):
    case = CaseView(app_ctx)
    qtbot.addWidget(case)
    case.resize(900, 700)
    case.show()
    with db.session() as s:
        dispute_id = int(s.execute(text("SELECT MIN(id) FROM disputes")).scalar_one())
    with qtbot.waitSignal(case.case_loaded, timeout=WAIT):
        case.open_case(dispute_id)
    assert case.tabs.tabText(case.money_trail_index) == "Money trail"
    walk = case.money_trail.model.walk()
    assert walk and walk[0][2].type == "dispute" and walk[0][2].id == dispute_id
    assert any(n.type == "order" for _d, _r, n in walk)
    settle(app_ctx, qtbot)
