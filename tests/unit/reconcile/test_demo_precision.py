"""Demo month: every auto-confirmed match is right; the cascade finds >= 98 % of the links."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select, text

from workstation.db import Database
from workstation.models import ExceptionCase
from workstation.services.demo.merchant_month import build_demo, load_demo
from workstation.services.reconcile import run

ORDERS = 2000


def _members(db: Database) -> pd.DataFrame:
    with db.session() as s:
        rows = s.execute(
            text(
                "SELECT m.id, m.status, r.external_id, r.kind, r.payout_ref, mm.side"
                " FROM matches m JOIN match_members mm ON mm.match_id = m.id"
                " JOIN records r ON r.id = mm.record_id"
            )
        ).all()
    return pd.DataFrame(rows, columns=["match", "status", "ext", "kind", "payout_ref", "side"])


def test_precision_and_recall_against_ground_truth(db: Database) -> None:
    truth = build_demo(ORDERS).truth
    with db.session() as s:
        load_demo(s, orders=ORDERS)
    with db.session() as s:
        report = run(s, actor="tester")
    m = _members(db)
    # order <-> PSP charge pairs proposed, and PSP payout <-> bank credit pairs
    orders = m[m["side"] == "order"][["match", "status", "ext"]].rename(columns={"ext": "order_id"})
    psp = m[(m["side"] == "psp") & (m["kind"] != "payout")][["match", "ext"]]
    pairs = orders.merge(psp.rename(columns={"ext": "psp_id"}), on="match")
    banks = m[m["side"] == "bank"][["match", "status", "ext"]].rename(columns={"ext": "bank_id"})
    lines = m[(m["side"] == "psp") & (m["kind"] == "payout")][["match", "payout_ref"]]
    payouts = banks.merge(lines, on="match")
    order_truth = set(zip(truth.order_links["order_id"], truth.order_links["psp_id"], strict=True))
    payout_truth = set(
        zip(truth.payout_links["payout_ref"], truth.payout_links["bank_id"], strict=True)
    )
    pairs["ok"] = [p in order_truth for p in zip(pairs["order_id"], pairs["psp_id"], strict=True)]
    payouts["ok"] = [
        p in payout_truth for p in zip(payouts["payout_ref"], payouts["bank_id"], strict=True)
    ]
    auto = pd.concat(
        [pairs.loc[pairs["status"] == "auto", "ok"], payouts.loc[payouts["status"] == "auto", "ok"]]
    )
    assert len(auto) > 0.9 * (len(order_truth) + len(payout_truth))
    assert auto.all(), "every auto-confirmed pair is in the ground truth"
    found = int(pairs["ok"].sum() + payouts["ok"].sum())
    recall = found / (len(order_truth) + len(payout_truth))
    assert recall >= 0.98, recall
    # the remainder is in the exception queue: every record still open has a case
    with db.session() as s:
        open_ids = set(
            s.scalars(
                text("SELECT id FROM records WHERE match_state IN ('unmatched', 'suggested')")
            )
        )
        case_ids = set(s.scalars(select(ExceptionCase.record_id)))
    assert open_ids and open_ids <= case_ids
    assert report.unmatched_left > 0
    # a second run changes nothing
    with db.session() as s:
        again = run(s)
    assert (again.auto, again.suggested, again.superseded) == (0, 0, 0)
