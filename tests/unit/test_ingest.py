"""The single write path: dedupe by fingerprint + occurrence, PAN masking, reference tokens."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import func, select

from workstation.db import Database
from workstation.errors import UserError
from workstation.importers.base import AccountInfo, ParseResult, frame_from_rows
from workstation.models import Record, RecordReference
from workstation.services.common.card_numbers import luhn_ok, mask_text
from workstation.services.imports.column_conversions import iso_dates as _iso_dates
from workstation.services.imports.column_conversions import strings as _strings
from workstation.services.imports.column_conversions import utc_texts as _utc_texts
from workstation.services.imports.dedupe import FINGERPRINT_VERSION, fingerprints
from workstation.services.imports.ingest import _normalise_frame, store
from workstation.services.imports.reference_rows import reference_rows


def _result(rows: list[dict]) -> ParseResult:
    return ParseResult(
        format="test",
        accounts={"a": AccountInfo(key="a", kind="bank", account_number="DE001", name="Main")},
        records=frame_from_rows(rows),
    )


def _row(line: int, ref: str | None, amount: int, day: int = 1, desc: str = "") -> dict:
    return {
        "line_no": line,
        "account": "a",
        "external_id": ref,
        "booked_on": dt.date(2026, 10, day),
        "amount_minor": amount,
        "currency": "EUR",
        "kind": "bank_credit" if amount >= 0 else "bank_debit",
        "description": desc,
        "raw": {"line": line, "text": desc},
    }


def test_dedupe_overlap_and_identical_lines(any_db: Database) -> None:
    first = _result([_row(1, None, -350), _row(2, None, -350), _row(3, "R1", 1000)])
    with any_db.session() as s:
        r = store(s, first, file_name="a.sta", sha256="x1", actor="t")
        assert (r.new, r.duplicates) == (3, 0)  # two equal coffees are both kept
    overlap = _result(
        [_row(1, None, -350), _row(2, None, -350), _row(3, "R1", 1000), _row(4, "R2", 500, day=2)]
    )
    with any_db.session() as s:
        r = store(s, overlap, file_name="b.sta", sha256="x2", actor="t")
        assert (r.new, r.duplicates) == (1, 3)
    with any_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Record)) == 4


def test_pan_masked_everywhere(any_db: Database) -> None:
    pan = "4111 1111 1111 1111"
    res = _result([_row(1, "X1", 100, desc=f"card {pan} order ORD-12345")])
    with any_db.session() as s:
        r = store(s, res, file_name="p.csv", sha256="p", actor="t")
        assert r.masked_pans == 2  # description and raw
    with any_db.session() as s:
        rec = s.scalars(select(Record)).one()
        assert "4111111111111111" not in (rec.description or "")
        assert "411111******1111" in (rec.description or "")
        assert "4111 1111" not in str(rec.raw)
        values = set(s.scalars(select(RecordReference.value)))
        assert "ORD12345" in values and "X1" not in values  # too short to be an id token


def test_occurred_at_round_trips_utc(any_db: Database) -> None:
    row = _row(1, "T1", 100)
    row["occurred_at"] = dt.datetime(
        2026, 10, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-8))
    )
    with any_db.session() as s:
        store(s, _result([row]), file_name="t", sha256="t", actor="t")
    with any_db.session() as s:
        got = s.scalars(select(Record.occurred_at)).one()
        assert got == dt.datetime(2026, 10, 2, 7, 30, tzinfo=dt.UTC)


def test_bad_currency_named(db: Database) -> None:
    row = _row(7, "R", 1)
    row["currency"] = "EURO"
    with pytest.raises(UserError, match=r"line 7, field currency"), db.session() as s:
        store(s, _result([row]), file_name="f.csv", sha256="z", actor="t")


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert mask_text("no digits")[1] == 0
    assert mask_text("iban DE89370400440532013000")[1] == 0  # not Luhn-valid 13-19 run
    assert pd.isna(pd.NA)


def test_zero_runs_and_exempt_psp_references(db: Database) -> None:
    assert mask_text("ref 0000000000000000")[1] == 0  # Luhn-valid, but no card starts with 0
    psp_ref = "4111111111111111"  # Luhn-valid and Visa-shaped: as an Adyen PSP reference
    row = _row(1, psp_ref, 100, desc=f"psp {psp_ref}; card 5555 5555 5555 4444")
    res = _result([row])
    res.pan_exempt_columns = ("external_id",)
    with db.session() as s:
        r = store(s, res, file_name="adyen.csv", sha256="e", actor="t")
        assert r.masked_pans == 2  # the card in description and raw, not the PSP reference
    with db.session() as s:
        rec = s.scalars(select(Record)).one()
        assert rec.external_id == psp_ref and psp_ref in (rec.description or "")
        assert "555555******4444" in (rec.description or "")


def test_nullable_and_chunked_columns(db: Database) -> None:
    frame = frame_from_rows([_row(1, "AB123456", 100, desc="x"), _row(2, "AB123457", 200)])
    frame["fee_minor"] = pd.array([5, None], dtype="Int64")
    chunked = pd.concat(
        [
            pd.Series(["CH0001234"], dtype="string[pyarrow]"),
            pd.Series(["CH0005678"], dtype="string[pyarrow]"),
        ],
        ignore_index=True,
    )
    frame["ref_charge"] = chunked
    res = ParseResult(format="t", accounts=_result([]).accounts, records=frame)
    with db.session() as s:
        assert store(s, res, file_name="n", sha256="n", actor="t").new == 2
    with db.session() as s:
        fees = sorted(s.scalars(select(Record.fee_minor)), key=lambda v: v is None)
        assert fees == [5, None]
        values = set(s.scalars(select(RecordReference.value)))
        assert {"CH0001234", "CH0005678"} <= values


def test_reference_rows_sorted_distinct_and_explicit_kind_wins() -> None:
    frame = frame_from_rows(
        [
            _row(1, "ZZ-000123", 100, desc="payment ZZ000123 inv-4455667"),
            _row(2, "aa_999999", 200, desc="AA999999 again"),
            _row(3, None, 300, desc="no ids here"),
        ]
    )
    frame["id"] = [30, 10, 20]
    table = reference_rows(frame)
    rows = list(
        zip(
            table.column("value").to_pylist(),
            table.column("record_id").to_pylist(),
            table.column("kind").to_pylist(),
            strict=True,
        )
    )
    # clustered key order, one row per (value, record), the external id's kind before free text
    assert rows == sorted(rows)
    assert len({(v, r) for v, r, _ in rows}) == len(rows)
    assert ("ZZ000123", 30, "id") in rows and ("AA999999", 10, "id") in rows
    assert ("INV4455667", 30, "text") in rows
    assert not [r for r in rows if r[1] == 20]


def test_arrow_dates_and_times_print_like_the_orm() -> None:
    la = pa.timestamp("s", tz="America/Los_Angeles")
    stamp = dt.datetime(2026, 1, 2, 23, 30, 5, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    col = pd.Series(pd.arrays.ArrowExtensionArray(pa.array([stamp, None], type=la)))
    assert _utc_texts(col, "") == ["2026-01-03 07:30:05.000000", None]
    assert _utc_texts(col, "+00:00")[0] == "2026-01-03 07:30:05.000000+00:00"
    assert _strings(_iso_dates(col)).to_pylist() == ["2026-01-02", None]  # the local calendar day
    days = pd.Series(pd.arrays.ArrowExtensionArray(pa.array([dt.date(2026, 2, 28), None])))
    assert _strings(_iso_dates(days)).to_pylist() == ["2026-02-28", None]
    text = pd.Series(["2026-03-01", None], dtype=object)
    assert _strings(_iso_dates(text)).to_pylist() == ["2026-03-01", None]
    assert _utc_texts(pd.Series([pd.Timestamp("2026-01-02 23:30:05-08:00")]), "") == [
        "2026-01-03 07:30:05.000000"
    ]


def test_fingerprints_are_stable() -> None:
    """Stored fingerprints must keep matching new imports: a change needs FINGERPRINT_VERSION."""
    rows = [
        {**_row(1, " REF-1 ", -1234), "currency": "eur"},
        {**_row(2, None, 500, day=2), "bank_ref": "B9"},
    ]
    df = _normalise_frame(frame_from_rows(rows), "f")
    df["source_id"] = 7
    df["_booked"] = _iso_dates(df["booked_on"])
    assert FINGERPRINT_VERSION == 1
    assert fingerprints(df).tolist() == [-240184425755724478, -6495150468678714696]


def test_unknown_account_named(db: Database) -> None:
    frame = frame_from_rows([_row(1, "R1", 100), {**_row(2, "R2", 200), "account": "zz"}])
    res = ParseResult(format="t", accounts=_result([]).accounts, records=frame)
    with db.session() as s, pytest.raises(UserError, match=r"unknown account\(s\) \['zz'\]"):
        store(s, res, file_name="u", sha256="u", actor="t")
