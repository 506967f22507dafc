"""The same engine, clerk actions and queue queries on PostgreSQL (COPY reads and writes)."""

from __future__ import annotations

from workstation.db import Database
from workstation.services.reconcile import clerk_actions, run, table_queries

from .helpers import bank, charge, match_of, order, put, rid, state


def test_engine_and_queue_on_both_backends(any_db: Database) -> None:
    with any_db.session() as s:
        put(s, [order("ORD-1100001", 1000, 1), order("ORD-1100002", 2000, 2, ref_order=None)], "l")
        put(
            s,
            [
                charge(
                    "txn_H1",
                    1000,
                    1,
                    ref_order="ord-1100001",
                    payout_ref="po_HHH11111",
                    fee_minor=30,
                    net_minor=970,
                ),
                charge("txn_H2", 2000, 2, payout_ref="po_HHH11111", fee_minor=50, net_minor=1950),
                charge("txn_HP", -2920, 3, kind="payout", payout_ref="po_HHH11111"),
            ],
            "p",
        )
        put(s, [bank("BRH", 2920, 4, 'STRIPE PAYMENTS po_HHH11111 O\'Brien, "quoted"')], "b")
    with any_db.session() as s:
        report = run(s)
        assert (report.auto, report.suggested, report.unmatched_left) == (2, 1, 0)
    with any_db.session() as s:
        assert match_of(s, "ORD-1100001", "txn_H1")[1] == "auto"  # type: ignore[index]
        assert match_of(s, "BRH", "txn_HP")[1] == "auto"  # type: ignore[index]
        sugg = match_of(s, "ORD-1100002", "txn_H2")
        assert sugg is not None and sugg[1] == "suggested"
        page = table_queries.fetch_page(
            s, table_queries.ExceptionFilters(), table_queries.Sort("amount_minor")
        )
        assert [r["external_id"] for r in page.rows] == ["ORD-1100002", "txn_H2"]
        assert all(r["match_id"] == sugg[0] for r in page.rows)
        clerk_actions.confirm(s, sugg[0], actor="clerk")
        assert state(s, "txn_H2") == "matched"
        assert table_queries.count(s, table_queries.ExceptionFilters()) == 0
        assert rid(s, "BRH") > 0
    with any_db.session() as s:
        again = run(s)
        assert (again.candidates, again.auto, again.suggested) == (0, 0, 0)
