"""The settlement proof: PSP roll-forward closes to the cent, paid out ties to the payouts, bank
receipts and in transit at a cut-off, drill-down lines add up to every figure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.fixtures.settlement_month import MonthTruth, write_month
from workstation.db import Database
from workstation.errors import UserError
from workstation.models import Record
from workstation.services.demo.merchant_month import load_demo
from workstation.services.imports.file_import import import_file
from workstation.services.reconcile.engine import run
from workstation.services.settlement.rollforward import (
    MOVEMENTS,
    SettlementProof,
    proof_lines,
    roll_forward,
)

OCT_1, OCT_15, OCT_31 = dt.date(2026, 10, 1), dt.date(2026, 10, 15), dt.date(2026, 10, 31)
NOV_1, NOV_30 = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
_NET = "COALESCE(r.net_minor, r.amount_minor - COALESCE(r.fee_minor, 0))"


def demo_database(folder: Path) -> Database:
    """The demo month (October 2026) after a reconcile run: every payout matched to its bank."""
    db = Database(f"sqlite:///{folder / 'demo.db'}")
    with db.session() as s:
        load_demo(s, orders=300, seed=7, actor="tester")
    with db.session() as s:
        run(s, actor="tester")
    return db


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = demo_database(tmp_path_factory.mktemp("demo"))
    yield db
    db.dispose()


def _sql(db: Database, sql: str, **params: object) -> list[tuple]:
    with db.session() as s:
        return [tuple(r) for r in s.execute(text(sql), params).all()]


def _proof(db: Database, lo: dt.date, hi: dt.date) -> SettlementProof:
    with db.session() as s:
        return roll_forward(s, lo, hi)


def _assert_lines_add_up(db: Database, proof: SettlementProof) -> None:
    with db.session() as s:
        for block in proof.psp:
            for f in block.figures():
                assert f.ref is not None
                lines = list(proof_lines(s, f.ref))
                assert sum(x.amount_minor for x in lines) == f.amount_minor, (block.account, f.key)
                assert f.count is None or f.count == len(lines), (block.account, f.key)
                assert all(x.currency == block.currency for x in lines)
        for bank in proof.banks:
            for f in bank.figures():
                assert f.ref is not None
                lines = list(proof_lines(s, f.ref))
                assert sum(x.amount_minor for x in lines) == f.amount_minor
                assert f.count == len(lines)


def test_every_psp_block_closes_to_the_cent(demo: Database) -> None:
    proof = _proof(demo, OCT_1, OCT_31)
    assert [(b.account, b.currency) for b in proof.psp] == [
        ("Adyen EUR", "EUR"),
        ("Stripe EUR", "EUR"),
    ]
    assert proof.closes
    for b in proof.psp:
        assert b.difference_minor == 0 and b.closes
        assert [m.key for m in b.movements] == list(MOVEMENTS)
        assert b.closing.amount_minor == b.opening.amount_minor + sum(
            m.amount_minor for m in b.movements
        )
        # independently: every net to the cut-off (the demo has no payout without a payout line)
        ((independent,),) = _sql(
            demo,
            f"SELECT SUM({_NET}) FROM records r WHERE r.source_id = :s AND r.currency = :c"
            " AND r.booked_on <= :d",
            s=b.source_id,
            c=b.currency,
            d=OCT_31.isoformat(),
        )
        assert b.independent.amount_minor == independent == b.closing.amount_minor
        assert b.opening.amount_minor == 0  # the demo month starts on October 1
        ((captured, refunded),) = _sql(
            demo,
            "SELECT SUM(CASE WHEN kind = 'charge' THEN amount_minor ELSE 0 END),"
            " SUM(CASE WHEN kind = 'refund' THEN amount_minor ELSE 0 END) FROM records"
            " WHERE source_id = :s AND booked_on BETWEEN :lo AND :hi",
            s=b.source_id,
            lo=OCT_1.isoformat(),
            hi=OCT_31.isoformat(),
        )
        assert b.movement("captured").amount_minor == captured
        assert b.movement("refunded").amount_minor == refunded
        assert b.movement("unclassified").amount_minor == 0
        assert b.movement("unclassified").count == 0
    stripe, adyen = (next(b for b in proof.psp if b.psp == p) for p in ("stripe", "adyen"))
    # the numbers of the demo month (seed 7, 300 orders), in cents
    assert stripe.movement("captured").amount_minor == 1_109_835
    assert stripe.movement("paid_out").amount_minor == -1_008_705
    assert stripe.closing.amount_minor == 45_160
    assert adyen.movement("captured").amount_minor == 469_505
    assert adyen.movement("paid_out").amount_minor == -412_750
    assert adyen.closing.amount_minor == 43_435
    _assert_lines_add_up(demo, proof)


def test_paid_out_equals_the_payouts_of_the_period(demo: Database) -> None:
    proof = _proof(demo, OCT_1, OCT_31)
    sent = {
        (int(sid), cur): int(total)
        for sid, cur, total in _sql(
            demo,
            "SELECT source_id, currency, SUM(COALESCE(payout_minor, net_minor)) FROM payouts"
            " WHERE paid_on BETWEEN :lo AND :hi GROUP BY source_id, currency",
            lo=OCT_1.isoformat(),
            hi=OCT_31.isoformat(),
        )
    }
    assert sent and all(v > 0 for v in sent.values())
    for b in proof.psp:
        assert b.movement("paid_out").amount_minor == -sent[(b.source_id, b.currency)]
    # and the bank side: every payout of October reached the one bank account
    ((count, total),) = _sql(
        demo,
        "SELECT COUNT(*), SUM(payout_minor) FROM payouts WHERE paid_on BETWEEN :lo AND :hi",
        lo=OCT_1.isoformat(),
        hi=OCT_31.isoformat(),
    )
    (bank,) = proof.banks
    assert bank.account == "Main bank EUR" and bank.currency == "EUR"
    assert (bank.expected.count, bank.expected.amount_minor) == (count, total) == (55, 1_421_455)
    # the two payouts of October 31 are credited on November 1: in transit at the cut-off
    assert bank.received_later.amount_minor == -bank.difference_minor == 73_540
    assert [p.paid_on for p in proof.in_transit] == [OCT_31, OCT_31]
    assert proof.in_transit_by_currency() == {"EUR": (2, 73_540)}


def test_in_transit_at_a_cut_off_in_the_middle_of_the_month(demo: Database) -> None:
    proof = _proof(demo, OCT_1, OCT_15)
    expected = {
        int(pid)
        for (pid,) in _sql(
            demo,
            "SELECT p.id FROM payouts p WHERE p.paid_on <= :cut AND p.state = 'in_transit'"
            " AND NOT EXISTS (SELECT 1 FROM match_payouts mp JOIN match_members mm"
            " ON mm.match_id = mp.match_id AND mm.live AND mm.side = 'bank'"
            " JOIN records r ON r.id = mm.record_id"
            " WHERE mp.payout_id = p.id AND mp.live AND r.booked_on <= :cut)",
            cut=OCT_15.isoformat(),
        )
    }
    sent_on_cut_off = _sql(
        demo, "SELECT COUNT(*) FROM payouts WHERE paid_on = :d", d=OCT_15.isoformat()
    )[0][0]
    assert {p.payout_id for p in proof.in_transit} == expected
    assert len(proof.in_transit) == len(expected) == sent_on_cut_off == 2
    for p in proof.in_transit:
        assert p.paid_on is not None and p.paid_on <= OCT_15
        assert p.bank_booked_on is not None and p.bank_booked_on > OCT_15
    assert sum(p.amount_minor for p in proof.in_transit) == 55_992
    (bank,) = proof.banks
    assert bank.received_later.amount_minor == 55_992 == -bank.difference_minor
    assert proof.closes and not proof.failed and not proof.carried_forward
    # the next half opens where the first closed
    second = _proof(demo, OCT_15 + dt.timedelta(days=1), OCT_31)
    for a, b in zip(proof.psp, second.psp, strict=True):
        assert b.opening.amount_minor == a.closing.amount_minor and b.closes
    _assert_lines_add_up(demo, second)


def test_unclassified_lines_show_and_a_bad_net_does_not_close(tmp_path: Path) -> None:
    db = demo_database(tmp_path)
    with db.session() as s:
        charge = s.scalars(
            select(Record).where(Record.kind == "charge", Record.booked_on == OCT_1).limit(1)
        ).one()
        src, batch = charge.source_id, charge.batch_id
        s.add(
            Record(
                source_id=src,
                batch_id=batch,
                fingerprint=424242,
                booked_on=dt.date(2026, 10, 12),
                amount_minor=1234,
                currency="EUR",
                direction="credit",
                kind="bank_credit",
                external_id="ODD-1",
                description="misfiled line",
            )
        )
    proof = _proof(db, OCT_1, OCT_31)
    block = next(b for b in proof.psp if b.source_id == src)
    odd = block.movement("unclassified")
    assert (odd.amount_minor, odd.count) == (1234, 1) and block.closes
    with db.session() as s:
        assert odd.ref is not None
        (line,) = list(proof_lines(s, odd.ref))
    assert line.external_id == "ODD-1" and "[bank_credit]" in (line.description or "")
    # a line whose net disagrees with amount - fee is caught by the independent closing
    with db.session() as s:
        s.execute(
            text(
                "UPDATE records SET net_minor = amount_minor - COALESCE(fee_minor, 0) + 7"
                " WHERE id = (SELECT MIN(id) FROM records WHERE source_id = :s AND kind = 'charge'"
                " AND booked_on >= :lo)"
            ),
            {"s": src, "lo": "2026-10-01"},
        )
    proof = _proof(db, OCT_1, OCT_31)
    block = next(b for b in proof.psp if b.source_id == src)
    assert block.difference_minor == 7 and not block.closes and not proof.closes
    db.dispose()


def test_a_period_ending_before_it_starts_is_refused(demo: Database) -> None:
    with demo.session() as s, pytest.raises(UserError, match="before"):
        roll_forward(s, OCT_31, OCT_1)


def _import_month(db: Database, month: MonthTruth, skip: tuple[str, ...] = ()) -> None:
    order = ("orders", "stripe_usd", "stripe_usd_payouts", "stripe_eur", "stripe_eur_payouts")
    order += (*(f"adyen_{n}" for n in range(141, 147)), "bai2", "camt", "mt940")
    for key in order:
        if key not in skip:
            with db.session() as s:
                import_file(s, month.paths[key], actor="tester")
    with db.session() as s:
        run(s, actor="tester")


def test_the_november_files_two_currencies_carry_over_shared_credit(
    sqlite_db: Database, tmp_path: Path
) -> None:
    month = write_month(tmp_path / "month")
    _import_month(sqlite_db, month)
    proof = _proof(sqlite_db, NOV_1, NOV_30)
    assert proof.closes
    assert {(b.account, b.currency) for b in proof.psp} == {
        ("Stripe USD", "USD"),
        ("Stripe EUR", "EUR"),
        ("Adyen ShopCoEUR EUR", "EUR"),
    }
    for b in proof.psp:  # every batch of November is paid out, the last one still in transit
        assert b.opening.amount_minor == 0 and b.closing.amount_minor == 0
    adyen = next(b for b in proof.psp if b.psp == "adyen")
    carried = adyen.movement("adjustments")  # the transfer out of 143 and into 144
    assert (carried.amount_minor, carried.count) == (0, 2)
    assert [p.payout_ref for p in proof.carried_forward] == [month.carry_over[0]]
    assert [p.payout_ref for p in proof.in_transit] == [month.in_transit_payout]
    assert proof.in_transit[0].bank_booked_on is None
    banks = {b.currency: b for b in proof.banks}
    assert set(banks) == {"USD", "EUR"}  # one bank account per currency, never added
    for b in banks.values():
        assert b.difference_minor == 0
    # two Adyen batches paid by one bank credit: the credit is counted once
    eur_truth = [p for p in month.payouts if p.currency == "EUR" and p.bank_file_key]
    assert banks["EUR"].expected.count == len(eur_truth)
    assert banks["EUR"].received.count == len(eur_truth) - 1
    _assert_lines_add_up(sqlite_db, proof)


def test_itemized_reports_without_payout_lines_pay_out_the_net(
    sqlite_db: Database, tmp_path: Path
) -> None:
    month = write_month(tmp_path / "month")
    _import_month(sqlite_db, month, skip=("stripe_usd_payouts", "stripe_eur_payouts"))
    ((without_line,),) = _sql(
        sqlite_db, "SELECT COUNT(*) FROM payouts WHERE payout_minor IS NULL AND psp = 'stripe'"
    )
    assert without_line > 40
    proof = _proof(sqlite_db, NOV_1, NOV_30)
    assert proof.closes
    for b in (b for b in proof.psp if b.psp == "stripe"):
        nets = _sql(
            sqlite_db,
            "SELECT SUM(net_minor), COUNT(*) FROM payouts WHERE source_id = :s"
            " AND paid_on BETWEEN :lo AND :hi AND state = 'in_transit'",
            s=b.source_id,
            lo=NOV_1.isoformat(),
            hi=NOV_30.isoformat(),
        )[0]
        paid = b.movement("paid_out")
        assert (paid.amount_minor, paid.count) == (-int(nets[0]), int(nets[1]))
        assert b.closing.amount_minor == b.independent.amount_minor
    _assert_lines_add_up(sqlite_db, proof)


@pytest.mark.postgres
def test_the_same_proof_on_postgresql(pg_db: Database, demo: Database) -> None:
    with pg_db.session() as s:
        load_demo(s, orders=300, seed=7, actor="tester")
    with pg_db.session() as s:
        run(s, actor="tester")
    for lo, hi in ((OCT_1, OCT_31), (OCT_1, OCT_15)):
        pg, lite = _proof(pg_db, lo, hi), _proof(demo, lo, hi)
        assert pg.closes
        pg_json, lite_json = pg.as_json(), lite.as_json()
        for doc in (pg_json, lite_json):
            doc.pop("generated_at")
        assert pg_json == lite_json
    _assert_lines_add_up(pg_db, _proof(pg_db, OCT_1, OCT_31))
