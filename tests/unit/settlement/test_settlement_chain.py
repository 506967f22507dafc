"""The settlement chain end to end: payouts found at the bank, trails, disputes' orders, undo.

Two months: the built-in demo month (Stripe + Adyen EUR, one bank) and the second merchant month
of tests/fixtures (Stripe USD and EUR, Adyen with a carried-over batch, BAI2 + camt + an
overlapping MT940, a negative payout, one payout in transit at month end, one bank credit for two
payouts), imported from real-format files through the import service.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.fixtures.settlement_month import MonthTruth, write_month
from workstation.db import Database
from workstation.errors import UserError
from workstation.models import Dispute, Record
from workstation.services.demo.merchant_month import load_demo
from workstation.services.disputes.queue_export import export_disputes
from workstation.services.imports.file_import import import_file, undo_batch
from workstation.services.reconcile import engine
from workstation.services.settlement import payout_build
from workstation.services.settlement import payout_queries as pq
from workstation.services.settlement import trail as tr

TODAY = dt.date(2026, 12, 4)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, MonthTruth]]:
    folder = tmp_path_factory.mktemp("month")
    truth = write_month(folder / "files")
    db = Database(f"sqlite:///{folder / 'ws.db'}")
    for path in truth.paths.values():
        with db.session() as s:
            import_file(s, path, actor="tester")
            s.commit()
    with db.session() as s:
        engine.run(s, actor="tester", today=TODAY)
    yield db, truth
    db.dispose()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    folder = tmp_path_factory.mktemp("demo")
    db = Database(f"sqlite:///{folder / 'ws.db'}")
    with db.session() as s:
        load_demo(s, orders=3000, seed=29)
        s.commit()
    with db.session() as s:
        engine.run(s, actor="tester", today=TODAY)
    yield db
    db.dispose()


def _found(rows: list[pq.PayoutRow]) -> list[pq.PayoutRow]:
    """Paid with a zero difference, or a difference the note explains."""
    return [
        r
        for r in rows
        if r.status == "paid" and (r.difference_minor == 0 or "difference" in (r.note or ""))
    ]


def test_month_every_payout_that_reached_the_bank_is_found(
    month: tuple[Database, MonthTruth],
) -> None:
    db, truth = month
    with db.session() as s:
        by_ref = {r.payout_ref: r for r in pq.list_payouts(s)}
    reached = [p for p in truth.payouts if p.bank_file_key is not None]
    assert len(reached) == 59 and len(truth.payouts) == 60
    found = _found([by_ref[p.payout_ref] for p in reached])
    assert len(found) == len(reached)  # 100 % (>= 99 % required), every difference zero
    for p in reached:
        row = by_ref[p.payout_ref]
        assert row.expected_minor == p.net_minor
        assert row.bank_amount_minor == p.bank_amount_minor
        assert row.difference_minor == 0
        # the three bank credits without any id are found by amount and date, for a clerk
        assert row.match_status == ("auto" if p.bank_names_id else "suggested")


def test_month_negative_in_transit_shared_and_carried_payouts(
    month: tuple[Database, MonthTruth],
) -> None:
    db, truth = month
    with db.session() as s:
        by_ref = {r.payout_ref: r for r in pq.list_payouts(s)}
        neg = by_ref[truth.negative_payout]
        assert neg.net_minor < 0 and neg.status == "paid"
        assert neg.bank_amount_minor == neg.net_minor  # a bank debit
        transit = by_ref[truth.in_transit_payout]
        assert transit.status == "in_transit" and transit.match_id is None
        assert "in transit since 2026-11-30" in transit.explanation()
        a, b = (
            by_ref[f"batch-{n}"] if not str(n).startswith("batch") else by_ref[n]
            for n in truth.shared_bank_credit
        )
        assert a.match_id == b.match_id is not None
        assert a.bank_amount_minor == b.bank_amount_minor == a.net_minor + b.net_minor
        assert f"{a.payout_ref} + {b.payout_ref}" in (a.note or "")
        carried_from = by_ref[truth.carry_over[0]]
        assert carried_from.status == "carried_forward" and carried_from.net_minor == 0
        assert carried_from.components["carried"] == -truth.carry_over[2]
        # as of the 29th, the payout of the 28th whose credit came on the 30th was in transit
        late = [
            p
            for p in truth.payouts
            if p.bank_date and p.created <= dt.date(2026, 11, 29) < p.bank_date
        ]
        asof = {
            r.payout_ref: r
            for r in pq.list_payouts(s, pq.PayoutFilter(as_of=dt.date(2026, 11, 29)))
        }
        assert late and all(asof[p.payout_ref].status == "in_transit" for p in late)
        assert all(r.paid_on <= dt.date(2026, 11, 29) for r in asof.values() if r.paid_on)


def test_month_components_add_up_to_net(month: tuple[Database, MonthTruth]) -> None:
    db, truth = month
    with db.session() as s:
        rows = pq.list_payouts(s)
        for r in rows:
            assert sum(r.components.values()) == r.net_minor
        totals: dict[str, int] = {}
        for r in rows:
            totals[r.currency] = totals.get(r.currency, 0) + r.net_minor
    expected: dict[str, int] = {}
    for p in truth.payouts:  # a carried-over batch nets to zero
        expected[p.currency] = expected.get(p.currency, 0) + p.net_minor
    assert totals == expected


def test_month_every_order_trail_reaches_its_bank_line(month: tuple[Database, MonthTruth]) -> None:
    db, truth = month
    settled = {p.payout_ref: p.bank_file_key is not None for p in truth.payouts}
    with db.session() as s:
        for order, payout_ref in truth.order_payout.items():
            t = tr.trail(s, order)
            assert t.nodes[t.root].label == order
            # carried-over batches lead on to the batch that paid them
            assert t.reaches_bank == settled.get(payout_ref, True), order
            if not settled.get(payout_ref, True):
                assert any("in transit" in n for n in t.notes)


def test_month_every_dispute_names_its_order(month: tuple[Database, MonthTruth]) -> None:
    db, truth = month
    with db.session() as s:
        disputes = list(s.query(Dispute))
        assert len(disputes) == len(truth.disputes) == 4
        for d in disputes:
            order_id = tr.dispute_order_id(s, d.order_record_id, d.charge_record_id)
            assert order_id is not None
            assert s.get(Record, order_id).external_id == truth.disputes[d.psp_dispute_id]
        # one of them is named only through its charge's match (payment intent in the order file)
        assert any(d.order_record_id is None for d in disputes)
        out = truth.folder / "disputes_export.csv"
        export_disputes(s, out, None)
    with out.open(encoding="utf-8-sig") as fh:
        rows = {r["dispute_id"]: r["order_external_id"] for r in csv.DictReader(fh)}
    assert rows == truth.disputes


def test_trail_from_a_bank_credit_and_a_dispute(month: tuple[Database, MonthTruth]) -> None:
    db, truth = month
    a, b = truth.shared_bank_credit
    with db.session() as s:
        payout = tr.trail(s, a)
        bank = next(n for n in payout.nodes.values() if n.type == "bank")
        from_bank = tr.trail(s, bank.label)
        assert from_bank.nodes[from_bank.root].type == "bank"
        assert {n.label for n in from_bank.of_type("payout")} == {a, b}
        assert from_bank.of_type("order")  # the payouts' lines lead to their orders
        did = next(iter(truth.disputes))
        dt_ = tr.trail(s, did)
        assert dt_.nodes[dt_.root].type == "dispute"
        assert truth.disputes[did] in {n.label for n in dt_.of_type("order")}
        as_json = dt_.as_json()
        assert as_json["root"] == dt_.root and as_json["reaches_bank"] is True
        with pytest.raises(UserError, match="nothing is known"):
            tr.trail(s, "NO-SUCH-THING-42")


def test_demo_payouts_trails_and_disputes(demo: Database) -> None:
    with demo.session() as s:
        rows = pq.list_payouts(s)
        paid = _found(rows)
        assert len(rows) >= 60
        assert len(paid) / len(rows) >= 0.99
        orders = s.execute(
            text(
                "SELECT r.external_id FROM records r JOIN sources so ON so.id = r.source_id"
                " WHERE so.kind = 'ledger' AND r.match_state = 'matched' ORDER BY r.id LIMIT 40"
            )
        ).scalars()
        for order in orders:
            assert tr.trail(s, order).reaches_bank, order
        matched_charge = 0
        for d in s.query(Dispute):
            if d.charge_record_id is None:
                continue
            if tr.orders_for_charges(s, [d.charge_record_id]):
                matched_charge += 1
                assert tr.dispute_order_id(s, d.order_record_id, d.charge_record_id)
        assert matched_charge >= 10


def test_payouts_follow_imports_and_their_undo(tmp_path: Path, any_db: Database) -> None:
    truth = write_month(tmp_path / "files")
    db = any_db
    with db.session() as s:
        rep = import_file(s, truth.paths["adyen_141"], actor="tester")
        s.commit()
    with db.session() as s:
        assert pq.find_payouts(s, "batch-141")
        again = payout_build.refresh_all(s)
        assert (again.added, again.updated, again.removed) == (0, 0, 0)  # idempotent
        undo_batch(s, rep.batch_id, actor="tester")
        s.commit()
    with db.session() as s:
        assert pq.find_payouts(s, "batch-141") == []
    # a payout matched to its bank line cannot lose its lines unseen
    with db.session() as s:
        rep = import_file(s, truth.paths["adyen_141"], actor="tester")
        s.commit()
    with db.session() as s:
        import_file(s, truth.paths["camt"], actor="tester")
        s.commit()
    with db.session() as s:
        engine.run(s, actor="tester", today=TODAY)
    with db.session() as s:
        assert pq.get_payout(s, pq.find_payouts(s, "batch-141")[0]).status == "paid"
        with pytest.raises(UserError, match="matched"):
            undo_batch(s, rep.batch_id, actor="tester")
        rows = pq.list_payouts(s, pq.PayoutFilter(status="paid", search="batch-14"))
        assert [r.payout_ref for r in rows] == ["batch-141"]
        assert tr.trail(s, "batch-141").reaches_bank
