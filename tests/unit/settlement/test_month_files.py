"""The generated November month: every file goes through the real import service unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.fixtures.settlement_month import MonthTruth, write_month
from workstation.db import Database
from workstation.models import Record, RecordReference, Source
from workstation.services.imports.file_import import FileReport, import_file

# Import order: orders first, PSP files, banks (camt before the overlapping MT940), disputes last.
ORDER = (
    "orders",
    "stripe_usd",
    "stripe_usd_payouts",
    "stripe_eur",
    "stripe_eur_payouts",
    "adyen_141",
    "adyen_142",
    "adyen_143",
    "adyen_144",
    "adyen_145",
    "adyen_146",
    "bai2",
    "camt",
    "mt940",
    "disputes",
)
FORMATS = {"orders": "tabular", "bai2": "bai2", "camt": "camt.053", "mt940": "mt940"}
FORMATS["disputes"] = "stripe_disputes_csv"


@pytest.fixture
def month(tmp_path: Path) -> MonthTruth:
    return write_month(tmp_path / "month")


def _import(db: Database, path: Path) -> FileReport:
    with db.session() as s:
        return import_file(s, path, actor="tester")


def _import_all(db: Database, truth: MonthTruth) -> dict[str, FileReport]:
    return {key: _import(db, truth.paths[key]) for key in ORDER}


def _expected_format(key: str) -> str:
    if key.startswith("stripe"):
        return "stripe"
    if key.startswith("adyen"):
        return "adyen"
    return FORMATS[key]


def test_the_files_are_the_same_for_the_same_seed(tmp_path: Path) -> None:
    a = write_month(tmp_path / "a")
    b = write_month(tmp_path / "b")
    assert set(a.paths) == set(ORDER)
    for key in ORDER:
        assert a.paths[key].read_bytes() == b.paths[key].read_bytes(), key
    other = write_month(tmp_path / "c", seed=12)
    assert other.paths["orders"].read_bytes() != a.paths["orders"].read_bytes()


def test_the_month_has_what_was_asked_for(month: MonthTruth) -> None:
    assert 280 <= month.orders <= 330
    assert set(month.orders_by_currency) == {"USD", "EUR"}
    stripe_orders = [
        n for n, ref in month.order_payment_ref.items() if ref.startswith(("ch_", "pi_"))
    ]
    share = len(month.orders_without_number_in_psp) / len(stripe_orders)
    assert 0.2 <= share <= 0.4
    assert len(month.disputes) >= 3
    negative = [p for p in month.payouts if p.net_minor < 0]
    assert [p.payout_ref for p in negative] == [month.negative_payout]
    assert negative[0].bank_file_key == "bai2" and negative[0].bank_amount_minor < 0
    transit = [p for p in month.payouts if p.bank_file_key is None]
    assert [p.payout_ref for p in transit] == [month.in_transit_payout]
    assert transit[0].created.isoformat() == "2026-11-30"
    a, b = (next(p for p in month.payouts if p.payout_ref == r) for r in month.shared_bank_credit)
    assert a.bank_amount_minor == b.bank_amount_minor == a.net_minor + b.net_minor
    assert a.bank_date == b.bank_date
    no_id = [p for p in month.payouts if p.bank_file_key == "bai2" and not p.bank_names_id]
    assert 1 <= len(no_id) <= 5
    for number in month.orders_without_number_in_psp:
        for key in ("stripe_usd", "stripe_eur", "stripe_usd_payouts", "stripe_eur_payouts"):
            assert number not in month.paths[key].read_text()
    assert month.carry_over[2] > 0


def test_every_file_is_accepted_and_counted(sqlite_db: Database, month: MonthTruth) -> None:
    reports = _import_all(sqlite_db, month)
    for key, rep in reports.items():
        assert rep.format == _expected_format(key), key
        assert rep.problems == 0, (key, [p.describe() for p in rep.problem_details])
        assert [p.describe() for p in rep.problem_details] == [], key
        assert rep.checks == [], (key, [p.describe() for p in rep.checks])
        assert rep.masked_pans == 0, key
        assert not rep.already_imported, key
        if key == "disputes":
            assert rep.disputes is not None
            assert rep.disputes["created"] == len(month.disputes)
        elif key == "mt940":
            assert (rep.new, rep.duplicates) == (0, month.mt940_lines)
        else:
            assert (rep.new, rep.duplicates) == (month.records_by_file[key], 0), key
    with sqlite_db.session() as s:
        counts = dict(
            s.execute(
                select(Source.name, func.count(Record.id))
                .join(Record, Record.source_id == Source.id)
                .group_by(Source.name)
            ).all()
        )
    assert counts == month.records_by_source


def test_mt940_overlap_adds_only_its_own_days(sqlite_db: Database, month: MonthTruth) -> None:
    first = _import(sqlite_db, month.paths["mt940"])
    assert (first.new, first.duplicates, first.problems) == (month.mt940_lines, 0, 0)
    camt = _import(sqlite_db, month.paths["camt"])
    assert (camt.new, camt.duplicates) == (month.camt_only_lines, month.mt940_overlap)
    assert camt.new + camt.duplicates == month.records_by_file["camt"]
    with sqlite_db.session() as s:
        bank = s.scalar(
            select(func.count(Record.id))
            .join(Source, Source.id == Record.source_id)
            .where(Source.kind == "bank")
        )
        assert bank == month.records_by_file["camt"]
        assert s.scalar(select(func.count(Source.id)).where(Source.kind == "bank")) == 1


def test_reimporting_is_a_no_op(sqlite_db: Database, month: MonthTruth) -> None:
    _import_all(sqlite_db, month)
    with sqlite_db.session() as s:
        before = s.scalar(select(func.count(Record.id)))
    again = _import_all(sqlite_db, month)
    for key, rep in again.items():
        assert rep.already_imported and rep.new == 0, key
    with sqlite_db.session() as s:
        assert s.scalar(select(func.count(Record.id))) == before


def test_psp_sums_equal_the_truth(sqlite_db: Database, month: MonthTruth) -> None:
    _import_all(sqlite_db, month)
    with sqlite_db.session() as s:
        psp = (
            select(Record.currency, Record.kind, Record.amount_minor, Record.net_minor)
            .join(Source, Source.id == Record.source_id)
            .where(Source.kind == "psp")
        ).subquery()
        by_cur = {
            c: (int(a), int(n), int(k))
            for c, a, n, k in s.execute(
                select(
                    psp.c.currency,
                    func.sum(psp.c.amount_minor),
                    func.sum(psp.c.net_minor),
                    func.count(),
                ).group_by(psp.c.currency)
            ).all()
        }
        by_kind = {
            (c, k): int(a)
            for c, k, a in s.execute(
                select(psp.c.currency, psp.c.kind, func.sum(psp.c.amount_minor)).group_by(
                    psp.c.currency, psp.c.kind
                )
            ).all()
        }
        orders = dict(
            s.execute(
                select(Record.currency, func.sum(Record.amount_minor))
                .where(Record.kind == "order")
                .group_by(Record.currency)
            ).all()
        )
    assert {c: v[0] for c, v in by_cur.items()} == month.psp_amount_by_currency
    assert {c: v[1] for c, v in by_cur.items()} == month.psp_net_by_currency
    assert {c: v[2] for c, v in by_cur.items()} == month.psp_lines_by_currency
    assert by_kind == month.psp_amount_by_kind
    assert orders == month.orders_total_by_currency


def test_payouts_and_bank_lines_agree(sqlite_db: Database, month: MonthTruth) -> None:
    _import_all(sqlite_db, month)
    with sqlite_db.session() as s:
        payout_lines = dict(
            s.execute(
                select(Record.payout_ref, Record.amount_minor).where(Record.kind == "payout")
            ).all()
        )
        bank = list(
            s.execute(
                select(Record.amount_minor, Record.booked_on, Record.description)
                .join(Source, Source.id == Record.source_id)
                .where(Source.kind == "bank")
            ).all()
        )
        # orders linked to Stripe only by their charge / payment intent id
        stripe_tokens = set(
            s.scalars(
                select(RecordReference.value)
                .join(Record, Record.id == RecordReference.record_id)
                .join(Source, Source.id == Record.source_id)
                .where(Source.provider == "stripe")
            )
        )
    for p in month.payouts:
        assert payout_lines[p.payout_ref] == -p.net_minor, p.payout_ref
        if p.bank_file_key is None:
            assert all(p.payout_ref not in (d or "") for _a, _b, d in bank)
            continue
        hits = [(a, b) for a, b, _d in bank if a == p.bank_amount_minor and b == p.bank_date]
        assert hits, p
    for number in month.orders_without_number_in_psp:
        assert number.replace("-", "") not in stripe_tokens
        assert month.order_payment_ref[number].replace("_", "").upper() in stripe_tokens
