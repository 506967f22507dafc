"""The same bank account as camt and as MT940: each booking is stored once, in either order.

Real files: genkgo/camt's camt.053.001.08 (statement 253, one entry with an AcctSvcrRef) and
camt.053.001.02 (statements 253 and 254 of the same account, entries without one), and an MT940
of the v2 statements written from them line by line (`:61:` NONREF). The settlement-month
fixture writes a camt.053 of November and an MT940 of Nov 20-30 of the same account. Provenance:
tests/data/cross_format/SOURCES.md.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.fixtures.settlement_month import EUR_IBAN, MonthTruth, write_month
from workstation.db import Database
from workstation.importers import registry
from workstation.importers.base import AccountInfo, ImportOptions, ParseResult, frame_from_rows
from workstation.models import ImportBatch, Record, Source
from workstation.services.imports.file_import import FileReport, import_file
from workstation.services.imports.ingest import StoreResult, store

DATA = Path(__file__).resolve().parents[2] / "data" / "cross_format"
V8 = DATA / "genkgo_camt053_001_08.xml"  # 253: +8.85, AcctSvcrRef AAAASESS-FP-CN_98765/01
V2 = DATA / "genkgo_camt053_001_02_multi_statement.xml"  # 253: +8.85, 254: -7.00, no refs
MT = DATA / "genkgo_multi_statement_as_mt940.sta"  # 253 and 254 as MT940, NONREF
EQUAL_CAMT = DATA / "equal_bookings.camt053.xml"  # Oct 1-2: 2 x -12.50 on Oct 1
EQUAL_MT = DATA / "equal_bookings.sta"  # Oct 1-3: the same lines, NONREF, and Oct 3


def _import(db: Database, path: Path) -> FileReport:
    with db.session() as s:
        return import_file(s, path, actor="tester")


def _lines(db: Database, account: str | None = None) -> list[tuple[str, int]]:
    """(booked_on, amount_minor) of the stored lines (of one account), sorted."""
    with db.session() as s:
        q = select(Record.booked_on, Record.amount_minor)
        if account is not None:
            q = q.join(Source, Source.id == Record.source_id).where(
                Source.account_number == account
            )
        return sorted((str(d), int(a)) for d, a in s.execute(q))


def _overlap(report: FileReport | StoreResult) -> list[tuple[int, str, str | None]]:
    """(line_no, status, matched_by) of the overlap lines of the only account."""
    (overlap,) = report.overlaps
    return [(ln.line_no, ln.status, ln.matched_by) for ln in overlap.lines]


# --- real files: genkgo camt v8 / v2 and the MT940 of the same statements ------------------


def test_camt_with_reference_then_mt940_without(any_db: Database) -> None:
    first = _import(any_db, V8)
    assert (first.new, first.duplicates) == (1, 0) and first.overlaps == []
    second = _import(any_db, MT)
    assert (second.format, second.new, second.duplicates) == ("mt940", 1, 1)
    assert second.account == first.account == "NL26VAYB8060476890"
    # partial overlap: +8.85 is the camt's entry (no common reference), -7.00 is new
    (overlap,) = second.overlaps
    assert overlap.partial and (overlap.already_stored, overlap.new_in_overlap) == (1, 1)
    assert overlap.by_date_and_amount == 1
    assert [(p.file_name, p.first, p.last) for p in overlap.stored_periods] == [
        ("genkgo_camt053_001_08.xml", "2014-12-31", "2014-12-31")
    ]
    stored, new = overlap.lines
    assert (stored.line_no, stored.status, stored.matched_by) == (5, "stored", "date and amount")
    assert (stored.amount_minor, stored.direction, stored.reference) == (885, "credit", None)
    assert (stored.stored_reference, stored.stored_file, stored.stored_line_no) == (
        "AAAASESS-FP-CN_98765/01",
        "genkgo_camt053_001_08.xml",
        110,
    )
    assert (new.line_no, new.status, new.amount_minor, new.direction) == (13, "new", -700, "debit")
    assert new.stored_record_id is None
    js = second.as_json()["overlaps"][0]
    assert js["partial"] and [ln["status"] for ln in js["lines"]] == ["stored", "new"]
    assert _lines(any_db) == [("2014-12-31", -700), ("2014-12-31", 885)]
    with any_db.session() as s:  # the batch remembers the overlap (counts, not lines)
        batch = s.get(ImportBatch, second.batch_id)
        assert batch is not None and batch.report is not None
        (kept,) = batch.report["overlaps"]
        assert (kept["already_stored"], kept["new_in_overlap"], kept["partial"]) == (1, 1, True)


def test_mt940_without_reference_then_camt_with(any_db: Database) -> None:
    first = _import(any_db, MT)
    assert (first.new, first.duplicates) == (2, 0)
    second = _import(any_db, V8)
    assert (second.new, second.duplicates) == (0, 1)
    assert _overlap(second) == [(110, "stored", "date and amount")]
    assert not second.overlaps[0].partial
    assert _lines(any_db) == [("2014-12-31", -700), ("2014-12-31", 885)]


@pytest.mark.parametrize("order", list(itertools.permutations((V8, V2, MT))))
def test_three_exports_of_one_statement_in_any_order(db: Database, order: tuple[Path, ...]) -> None:
    reports = [_import(db, p) for p in order]
    assert sum(r.new for r in reports) == 2
    assert sum(r.duplicates for r in reports) == 5 - 2  # 1 + 2 + 2 lines read
    assert _lines(db) == [("2014-12-31", -700), ("2014-12-31", 885)]
    again = _import(db, order[0])  # the same file again: a no-op
    assert again.already_imported and again.new == 0
    assert _lines(db) == [("2014-12-31", -700), ("2014-12-31", 885)]


# --- equal bookings on one day ---------------------------------------------------------------

_EQUAL = [
    ("2026-10-01", -1250),
    ("2026-10-01", -1250),
    ("2026-10-01", 25000),
    ("2026-10-02", -1250),
    ("2026-10-03", -1250),
    ("2026-10-03", 4000),
]


def test_equal_bookings_camt_then_mt940(any_db: Database) -> None:
    assert _import(any_db, EQUAL_CAMT).new == 4
    mt = _import(any_db, EQUAL_MT)
    assert (mt.new, mt.duplicates) == (2, 4)  # Oct 3 is new, outside the camt's period
    (overlap,) = mt.overlaps
    assert (overlap.in_stored_period, overlap.already_stored, overlap.new_in_overlap) == (4, 4, 0)
    assert not overlap.partial
    # the two equal lines of Oct 1 are paired with two different camt entries
    twins = [ln for ln in overlap.lines if ln.amount_minor == -1250 and ln.booked_on < "2026-10-02"]
    assert sorted(ln.stored_reference or "" for ln in twins) == ["AAAA261001-17", "AAAA261001-18"]
    assert _lines(any_db) == _EQUAL


def test_equal_bookings_mt940_then_camt(any_db: Database) -> None:
    assert _import(any_db, EQUAL_MT).new == 6
    camt = _import(any_db, EQUAL_CAMT)
    assert (camt.new, camt.duplicates) == (0, 4)
    assert [s for _, s, _ in _overlap(camt)] == ["stored"] * 4
    assert _lines(any_db) == _EQUAL
    with any_db.session() as s:
        assert s.scalar(select(func.sum(Record.amount_minor))) == sum(a for _, a in _EQUAL)


def test_a_third_equal_booking_is_new(db: Database, tmp_path: Path) -> None:
    """Count-aware: the camt has two -12.50 on Oct 1; an MT940 with three adds one."""
    _import(db, EQUAL_CAMT)
    text = EQUAL_MT.read_text().split("-\n")[0]  # the Oct 1 statement
    text = text.replace(
        ":62F:C261001EUR1225,00",
        ":61:2610011001D12,50NDDTNONREF\n:86:CANTEEN LUNCH\n:62F:C261001EUR1212,50",
    )
    path = tmp_path / "oct1.sta"
    path.write_text(text + "-\n")
    report = _import(db, path)
    assert (report.new, report.duplicates) == (1, 3)
    assert report.overlaps[0].partial
    assert [s for _, s, _ in _overlap(report)] == ["stored", "stored", "stored", "new"]
    assert [a for d, a in _lines(db) if d == "2026-10-01"] == [-1250, -1250, -1250, 25000]


# --- same format: the references still decide -----------------------------------------------


def _camt_one(path: Path, entries: list[tuple[str, str]]) -> Path:
    """A one-day camt.053 of the equal-bookings account: (amount, AcctSvcrRef) debits."""
    ntry = "".join(
        f"<Ntry><Amt Ccy='EUR'>{amount}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>"
        f"<BookgDt><Dt>2026-10-05</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef></Ntry>"
        for amount, ref in entries
    )
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8'?><Document xmlns="
        "'urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><BkToCstmrStmt><GrpHdr><MsgId>M"
        "</MsgId><CreDtTm>2026-10-05T20:00:00</CreDtTm></GrpHdr><Stmt><Id>S</Id><Acct><Id>"
        f"<IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>{ntry}</Stmt>"
        "</BkToCstmrStmt></Document>"
    )
    return path


def test_same_format_with_other_reference_is_a_new_booking(db: Database, tmp_path: Path) -> None:
    _import(db, _camt_one(tmp_path / "a.xml", [("10.00", "R1")]))
    b = _import(db, _camt_one(tmp_path / "b.xml", [("10.00", "R1"), ("10.00", "R2")]))
    assert (b.new, b.duplicates) == (1, 1)
    assert [s for _, s, _ in _overlap(b)] == ["stored", "new"]
    assert b.overlaps[0].lines[0].matched_by == "reference"
    c = _import(db, _camt_one(tmp_path / "c.xml", [("10.00", "R3")]))
    assert (c.new, c.duplicates) == (1, 0)
    assert _lines(db) == [("2026-10-05", -1000)] * 3


def test_psp_lines_are_never_matched_by_date_and_amount(db: Database) -> None:
    def result(ids: list[str]) -> ParseResult:
        rows = [
            {
                "line_no": i + 1,
                "account": "s",
                "external_id": ref,
                "booked_on": dt.date(2026, 10, 1),
                "amount_minor": 1000,
                "currency": "EUR",
                "kind": "charge",
            }
            for i, ref in enumerate(ids)
        ]
        accounts = {"s": AccountInfo(key="s", kind="psp", provider="stripe", name="Stripe EUR")}
        return ParseResult(format="stripe", accounts=accounts, records=frame_from_rows(rows))

    with db.session() as s:
        assert store(s, result(["ch_1"]), file_name="a", sha256="a", actor="t").new == 1
    with db.session() as s:
        r = store(s, result(["ch_2", "ch_3"]), file_name="b", sha256="b", actor="t")
        assert (r.new, r.duplicates, r.overlaps) == (2, 0, [])


# --- the settlement month: a camt.053 of November and an MT940 of Nov 20-30 ------------------


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> MonthTruth:
    return write_month(tmp_path_factory.mktemp("m"), seed=11)


def _mt940_variant(month: MonthTruth, folder: Path, variant: str) -> Path:
    """The month's MT940 as written (`//` bank reference = the camt's AcctSvcrRef), with
    NONREF only, or with references the camt does not know."""
    text = month.paths["mt940"].read_text()
    if variant == "nonref":
        text = re.sub(r"NONREF//\S+", "NONREF", text)
    elif variant == "other_ref":
        count = itertools.count(1)
        text = re.sub(r"NONREF//\S+", lambda _m: f"NONREF//MT{next(count):08d}", text)
    path = folder / f"mt940_{variant}.sta"
    path.write_text(text)
    return path


@pytest.mark.parametrize("variant", ["as_written", "nonref", "other_ref"])
@pytest.mark.parametrize("camt_first", [True, False], ids=["camt_first", "mt940_first"])
def test_month_camt_and_mt940_store_each_booking_once(
    db: Database, month: MonthTruth, tmp_path: Path, variant: str, camt_first: bool
) -> None:
    mt = _mt940_variant(month, tmp_path, variant)
    camt = month.paths["camt"]
    camt_lines = month.records_by_file["camt"]
    if camt_first:
        a, b = _import(db, camt), _import(db, mt)
        assert (a.new, b.new, b.duplicates) == (camt_lines, 0, month.mt940_lines)
    else:
        a, b = _import(db, mt), _import(db, camt)
        assert (a.new, b.new) == (month.mt940_lines, month.camt_only_lines)
        assert b.duplicates == month.mt940_overlap
    (overlap,) = b.overlaps
    assert overlap.new_in_overlap == 0 and overlap.already_stored == month.mt940_overlap
    expected = "reference" if variant == "as_written" else "date and amount"
    assert {ln.matched_by for ln in overlap.lines} == {expected}
    stored = _lines(db, EUR_IBAN)
    assert len(stored) == camt_lines
    with db.session() as s:
        rows = s.execute(select(Record.booked_on, Record.amount_minor)).all()
        assert len(rows) == camt_lines
    data = camt.read_bytes()
    parsed = registry.detect(data[: registry.SNIFF_BYTES], camt).parse(camt, data, ImportOptions())
    assert sum(a for _, a in stored) == int(parsed.records["amount_minor"].sum())
    assert sorted(stored) == sorted(
        (d.isoformat(), int(a))
        for d, a in zip(parsed.records["booked_on"], parsed.records["amount_minor"], strict=True)
    )
