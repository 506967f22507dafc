"""The rule cascade on hand-made data: each rule, tolerance edges, idempotent re-runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from workstation.db import Database
from workstation.models import AuditEvent, ExceptionCase, Match
from workstation.services.common import fx_rates
from workstation.services.reconcile import clerk_actions, run
from workstation.services.reconcile.links import charge_for, lines_for_charge
from workstation.services.reconcile.rules import ensure_rules, load_rules, move_rule, update_rule

from .helpers import bank, charge, match_of, matches, order, put, rid, state


def _month(db: Database) -> None:
    """Orders, Stripe lines (exact, variant and missing order ids), a payout and its bank credit."""
    with db.session() as s:
        put(
            s,
            [
                order("ORD-1000001", 1000, 1),
                order("ORD-1000002", 2500, 1),
                order("ORD-1000003", 4200, 2),
                order("ORD-1000004", 777, 2),
                order("ORD-1000005", 5000, 3),
            ],
            "ledger",
        )
        put(
            s,
            [
                charge(
                    "txn_A1",
                    1000,
                    1,
                    ref_charge="ch_AAAA1111",
                    ref_order="ORD-1000001",
                    fee_minor=39,
                    net_minor=961,
                    payout_ref="po_XYZ12345",
                ),
                charge(
                    "txn_A2",
                    2500,
                    2,
                    ref_charge="ch_AAAA2222",
                    ref_order="ord-01000002",
                    fee_minor=60,
                    net_minor=2440,
                    payout_ref="po_XYZ12345",
                ),
                charge(
                    "txn_A3",
                    4200,
                    2,
                    ref_charge="ch_AAAA3333",
                    fee_minor=84,
                    net_minor=4116,
                    payout_ref="po_XYZ12345",
                ),
                charge(
                    "txn_R1",
                    -500,
                    3,
                    ref_charge="ch_AAAA1111",
                    kind="refund",
                    net_minor=-500,
                    payout_ref="po_XYZ12345",
                ),
                charge(
                    "txn_P1", -(961 + 2440 + 4116 - 500), 4, kind="payout", payout_ref="po_XYZ12345"
                ),
            ],
            "psp",
        )
        put(
            s,
            [
                bank("BR1", 961 + 2440 + 4116 - 500, 5, "STRIPE PAYMENTS po_XYZ12345"),
                bank("BR2", -120000, 5, "RENT OCTOBER"),
            ],
            "bank",
        )


def test_cascade_on_a_small_month(db: Database) -> None:
    _month(db)
    with db.session() as s:
        report = run(s, actor="tester")
    by_rule = {r.name: r for r in report.rules}
    assert by_rule["Reference (exact)"].auto == 1
    assert by_rule["Reference (normalised)"].auto == 1  # "ord-01000002": case, dash, zeros
    assert by_rule["Payout to bank credit"].auto == 1
    assert by_rule["Amount + date window"].suggested == 1  # txn_A3 has no order id
    assert report.unmatched_left == 3  # ORD-1000004, ORD-1000005, the rent
    with db.session() as s:
        m = match_of(s, "ORD-1000001", "txn_A1")
        assert m is not None and m[1] == "auto" and m[3] == 100 and m[4] == 0
        assert match_of(s, "ORD-1000002", "txn_A2")[1] == "auto"  # type: ignore[index]
        payout = match_of(s, "BR1", "txn_P1", "txn_R1")
        assert payout is not None and payout[1] == "auto" and payout[4] == 0
        sugg = match_of(s, "ORD-1000003", "txn_A3")
        assert sugg is not None and sugg[1] == "suggested"
        assert state(s, "ORD-1000003") == "suggested" and state(s, "BR2") == "unmatched"
        assert s.scalar(select(Match.created_by).where(Match.id == m[0])) == "engine"
        cases = s.scalars(select(ExceptionCase)).all()
        assert {c.record_id for c in cases} == {
            rid(s, e) for e in ("ORD-1000003", "txn_A3", "ORD-1000004", "ORD-1000005", "BR2")
        }
        assert all(c.status == "open" and c.due_on is not None for c in cases)
        assert (
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "reconcile.run")
            )
            == 1
        )


def test_rerun_is_idempotent_and_keeps_confirmed(db: Database) -> None:
    _month(db)
    with db.session() as s:
        run(s)
    with db.session() as s:
        sugg = match_of(s, "ORD-1000003", "txn_A3")
        assert sugg is not None
        clerk_actions.confirm(s, sugg[0], actor="tester")
        before = matches(s)
    with db.session() as s:
        again = run(s)
    assert again.auto == 0 and again.suggested == 0
    with db.session() as s:
        assert match_of(s, "ORD-1000003", "txn_A3")[1] == "confirmed"  # type: ignore[index]
        assert len(matches(s)) == len(before)
        assert s.scalar(select(func.count()).select_from(ExceptionCase)) == 5


def test_dry_run_writes_nothing(db: Database) -> None:
    _month(db)
    with db.session() as s:
        report = run(s, dry_run=True)
        assert report.auto == 3
        assert s.scalar(select(func.count()).select_from(Match)) == 0
        assert s.scalar(select(func.count()).select_from(ExceptionCase)) == 0


def test_suggestion_is_not_duplicated_and_rejection_sticks(db: Database) -> None:
    _month(db)
    with db.session() as s:
        run(s)
        sugg = match_of(s, "ORD-1000003", "txn_A3")
        assert sugg is not None
    with db.session() as s:
        run(s)
        assert sum(1 for m in matches(s) if m[1] == "suggested") == 1
        clerk_actions.reject(s, sugg[0], actor="tester")
    with db.session() as s:
        report = run(s)
        assert report.suggested == 0 and report.blocked >= 1
        assert state(s, "ORD-1000003") == "unmatched"


def test_auto_match_supersedes_a_stored_suggestion(db: Database) -> None:
    with db.session() as s:
        put(s, [order("ORD-2000001", 1500, 5, ref_order=None)], "l1")
        put(s, [charge("txn_B1", 1500, 5)], "p1")
        run(s)
        assert match_of(s, "ORD-2000001", "txn_B1")[1] == "suggested"  # type: ignore[index]
    with db.session() as s:  # the PSP's corrected report now names the order
        s.execute(
            text(
                "INSERT INTO record_references (value, record_id, kind) VALUES "
                f"('ORD2000001', {rid(s, 'txn_B1')}, 'order')"
            )
        )
    with db.session() as s:
        report = run(s)
        assert report.superseded == 1 and report.auto == 1
        ms = matches(s)
        assert len(ms) == 1 and ms[0][1] == "auto" and ms[0][2] == "Reference (exact)"
        case = s.scalar(select(ExceptionCase).where(ExceptionCase.record_id == rid(s, "txn_B1")))
        assert case is not None and case.status == "resolved" and case.resolution == "matched"


def test_truncated_reference_is_a_normalised_match(db: Database) -> None:
    with db.session() as s:
        put(s, [order("INV-20261001-778899", 990, 3, ref_order=None)], "l")
        put(s, [charge("txn_C1", 990, 3, ref_order="INV-2026100")], "p")  # cut to 11 characters
        report = run(s)
        assert {r.name: r.auto for r in report.rules}["Reference (normalised)"] == 1
        m = match_of(s, "INV-20261001-778899", "txn_C1")
        assert m is not None and m[3] == 90


def test_reference_amount_tolerance_edges(db: Database) -> None:
    with db.session() as s:
        put(s, [order("ORD-3000001", 10000, 1), order("ORD-3000002", 10000, 1)], "l")
        put(
            s,
            [
                charge("txn_D1", 10100, 1, ref_order="ORD-3000001"),  # +1.00 = 1 %
                charge("txn_D2", 10101, 1, ref_order="ORD-3000002"),  # +1.01 > 1 %
            ],
            "p",
        )
        ensure_rules(s)
        for name in ("Reference (exact)", "Reference (normalised)"):
            update_rule(s, name, actor="tester", params={"pct_tolerance": "1"})
        update_rule(s, "Fee / FX aware reference", actor="tester", enabled=False)
        run(s)
        m = match_of(s, "ORD-3000001", "txn_D1")
        assert m is not None and m[1] == "auto" and m[4] == 100
        assert match_of(s, "ORD-3000002", "txn_D2") is None
        assert state(s, "txn_D2") == "unmatched"


def test_window_tolerance_and_date_edges(db: Database) -> None:
    with db.session() as s:
        put(
            s,
            [
                order("W1", 3500, 10, ref_order=None),
                order("W2", 4000, 10, ref_order=None),
                order("W3", 6100, 10, ref_order=None),
            ],
            "l",
        )
        put(
            s,
            [
                charge("txn_W1", 3535, 10),  # 1 % off: inside
                charge("txn_W2", 4041, 11),  # 1.025 % off: outside
                charge("txn_W3", 6100, 15),  # +5 days: outside a 4-day window
            ],
            "p",
        )
        ensure_rules(s)
        update_rule(s, "Amount + date window", actor="tester", params={"pct_tolerance": "1"})
        run(s)
        m = match_of(s, "W1", "txn_W1")
        assert m is not None and m[1] == "suggested" and m[4] == 35
        assert match_of(s, "W2", "txn_W2") is None
        assert match_of(s, "W3", "txn_W3") is None


def test_payout_without_id_is_suggested_by_amount_and_date(db: Database) -> None:
    with db.session() as s:
        put(s, [charge("txn_P9", -98765, 4, kind="payout", payout_ref="po_QQQ99999")], "p")
        put(s, [bank("BR9", 98765, 5, "SEPA CREDIT TRANSFER")], "b")
        report = run(s)
        assert {r.name: r.suggested for r in report.rules}["Payout to bank credit"] == 1
        m = match_of(s, "BR9", "txn_P9")
        assert m is not None and m[1] == "suggested"


def test_payout_with_difference_is_only_suggested(db: Database) -> None:
    with db.session() as s:
        put(s, [charge("txn_P8", -50000, 4, kind="payout", payout_ref="po_RRR88888")], "p")
        put(s, [bank("BR8", 49990, 5, "STRIPE PAYMENTS po_RRR88888")], "b")
        ensure_rules(s)
        update_rule(s, "Payout to bank credit", actor="tester", params={"abs_tolerance_minor": 10})
        run(s)
        m = match_of(s, "BR8", "txn_P8")
        assert m is not None and m[1] == "suggested" and m[4] == -10


def test_fee_aware_and_fx_aware_reference(db: Database, tmp_path: Path) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text("date,base,quote,rate\n2026-10-01,EUR,GBP,0.8500\nbad,EUR,GBP,1\n")
    with db.session() as s:
        report = fx_rates.import_rates_csv(s, rates, actor="tester")
        assert (report.added, len(report.problems)) == (1, 1)
        put(
            s,
            [
                order("ORD-4000001", 961, 2),  # the shop booked the net amount
                order("ORD-4000002", 8500, 2, currency="GBP"),  # 85.00 GBP = 100.00 EUR
            ],
            "l",
        )
        put(
            s,
            [
                charge("txn_F1", 1000, 2, ref_order="ORD-4000001", fee_minor=39, net_minor=961),
                charge("txn_F2", 10000, 2, ref_order="ORD-4000002"),
            ],
            "p",
        )
        run(s)
        fee = match_of(s, "ORD-4000001", "txn_F1")
        assert fee is not None and fee[2] == "Fee / FX aware reference" and fee[4] == 0
        conv = match_of(s, "ORD-4000002", "txn_F2")
        assert conv is not None and conv[1] == "suggested" and conv[3] == 80
        note = s.scalar(select(Match.note).where(Match.id == conv[0]))
        assert "EUR->GBP" in (note or "")


def test_fx_conversion_is_exact() -> None:
    import numpy as np
    import pandas as pd

    out = fx_rates.convert_minor(
        np.array([10000, 1, 3]),
        pd.Series([8_500_000_000, 5_000_000_000, 5_000_000_000]),
        "EUR",
        "GBP",
    )
    assert out.tolist() == [8500, 0, 2]  # half to even: 0.5 -> 0, 1.5 -> 2
    assert fx_rates.convert_minor(
        np.array([1000]), pd.Series([1_500_000_000_000]), "EUR", "JPY"
    ).tolist() == [1500]


def test_subset_sum_unique_and_ambiguous(db: Database) -> None:
    with db.session() as s:
        put(
            s,
            [bank("BRS1", 10000, 10, "TRANSFER CUSTOMER X"), bank("BRS2", 900, 20, "TRANSFER Y")],
            "b",
        )
        put(
            s,
            [
                order("S1", 2500, 9, ref_order=None),
                order("S2", 7500, 9, ref_order=None),
                order("S3", 100, 19, ref_order=None),
                order("S4", 200, 19, ref_order=None),
                order("S5", 600, 19, ref_order=None),
                order("S6", 300, 19, ref_order=None),
                order("S7", 400, 19, ref_order=None),
            ],
            "l",
        )
        report = run(s)
        assert {r.name: r.suggested for r in report.rules}["Subset sum"] == 2
        unique = match_of(s, "BRS1", "S1", "S2")
        assert unique is not None and unique[1] == "suggested" and unique[3] == 60
        flagged = [m for m in matches(s) if "BRS2" in m[5]]
        assert len(flagged) == 1 and flagged[0][3] == 20
        note = s.scalar(select(Match.note).where(Match.id == flagged[0][0]))
        assert "subsets reach this total" in (note or "")
        with pytest.raises(Exception, match="never auto-confirmed"):
            update_rule(s, "Subset sum", actor="tester", auto_confirm=True)


def test_chargeback_lines_link_to_their_charge(db: Database) -> None:
    _month(db)
    with db.session() as s:
        put(
            s,
            [
                charge("txn_DP1", -1000, 9, kind="dispute", ref_charge="ch_AAAA1111"),
                charge("txn_DF1", -1500, 9, kind="fee", ref_charge="ch_AAAA1111"),
            ],
            "disp",
        )
        charge_id = rid(s, "txn_A1")
        assert charge_for(s, rid(s, "txn_DP1")) == charge_id
        assert charge_for(s, rid(s, "txn_R1")) == charge_id
        assert charge_for(s, rid(s, "ORD-1000001")) is None
        linked = [x.record_id for x in lines_for_charge(s, charge_id)]
        assert linked == [rid(s, "txn_R1"), rid(s, "txn_DP1"), rid(s, "txn_DF1")]


def test_rules_are_ordered_and_editable(db: Database) -> None:
    with db.session() as s:
        rules = ensure_rules(s)
        assert [r.kind for r in rules][:3] == ["reference", "reference", "payout"]
        moved = move_rule(s, "Amount + date window", 1, actor="tester")
        assert moved[0].name == "Amount + date window" and [r.position for r in moved] == list(
            range(1, len(moved) + 1)
        )
        update_rule(s, "Subset sum", actor="tester", enabled=False)
        assert not next(r for r in load_rules(s) if r.name == "Subset sum").enabled
        assert (
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.entity == "match_rule")
            )
            == 2
        )
