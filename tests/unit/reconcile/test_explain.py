"""Why not: ranked candidates with the condition that failed and by how much."""

from __future__ import annotations

from workstation.db import Database
from workstation.services.reconcile import clerk_actions
from workstation.services.reconcile.rules import ensure_rules, update_rule
from workstation.services.reconcile.why_not import why_not

from .helpers import charge, order, put, rid


def test_why_not_texts(db: Database) -> None:
    with db.session() as s:
        ensure_rules(s)
        update_rule(s, "Amount + date window", actor="t", params={"pct_tolerance": "1"})
        put(s, [order("ORD-5000001", 2917, 10)], "l")
        put(
            s,
            [
                charge("txn_E1", 2952, 10),  # 0.35 off = 1.2 %
                charge("txn_E2", 2917, 15),  # five days later
                charge("txn_E3", 2917, 11, ref_order="ORD-5000001", currency="GBP"),
                charge("txn_E4", 2917, 11, fee_minor=10, net_minor=2907),
            ],
            "p",
        )
        ex = why_not(s, rid(s, "ORD-5000001"))
        by_id = {c.external_id: c for c in ex.candidates}
        assert [x.text for x in by_id["txn_E1"].failed] == [
            "no shared reference",
            "amount off by 0.35 = 1.2 % > 1 %",
        ]
        assert "date +5 d > 4 d window" in [x.text for x in by_id["txn_E2"].failed]
        e3 = by_id["txn_E3"]
        assert next(x.text for x in e3.checks if x.ok) == "shares reference ORD5000001"
        assert "currency GBP ≠ EUR" in e3.summary
        e4 = by_id["txn_E4"]
        assert [x.text for x in e4.checks if x.name == "amount"] == ["amount equal"]
        # a shared reference ranks first; then the one that fails nothing but the reference
        assert [c.external_id for c in ex.candidates[:2]] == ["txn_E3", "txn_E4"]
        assert all(a.score >= b.score for a, b in zip(ex.candidates, ex.candidates[1:]))


def test_why_not_reports_matched_and_rejected(db: Database) -> None:
    with db.session() as s:
        put(s, [order("ORD-5100001", 1000, 1), order("ORD-5100002", 1000, 1, ref_order=None)], "l")
        put(s, [charge("txn_G1", 1000, 1, ref_order="ORD-5100001")], "p")
        a = clerk_actions.manual_match(s, [rid(s, "ORD-5100001"), rid(s, "txn_G1")], actor="t")
        ex = why_not(s, rid(s, "ORD-5100002"))
        assert any(
            x.text == f"already matched (match {a.match_id})" for x in ex.candidates[0].failed
        )
        clerk_actions.unmatch(s, a.match_id, actor="t")  # type: ignore[arg-type]
        ex = why_not(s, rid(s, "ORD-5100001"))
        texts = [x.text for x in ex.candidates[0].failed]
        assert texts == [f"a clerk rejected this pair (match {a.match_id})"]
