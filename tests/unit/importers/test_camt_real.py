"""camt on real public files (tests/data/camt, provenance in SOURCES.md): version .01 messages,
ZIP archives of camt files, OPBD/PRCD balance preference, booking times in the bank's zone.

Every import goes through `import_file` on a fresh SQLite database; a refused file must leave
no batch and no record behind.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from workstation.db import Database
from workstation.errors import UserError
from workstation.importers import archive, registry
from workstation.importers.banktime import bank_date, bank_zone
from workstation.importers.base import ImportOptions, ParseResult
from workstation.models import ImportBatch, Record
from workstation.services.imports.file_import import import_file

DATA = Path(__file__).resolve().parents[2] / "data" / "camt"
V01_052 = DATA / "ergosarapu_camt052_001_01.xml"
V01_053 = DATA / "edited_camt053_001_01_from_ergosarapu_camt052_v1.xml"
V01_054 = DATA / "edited_camt054_001_01_from_ergosarapu_camt052_v1.xml"
ALL_BALANCES = DATA / "genkgo_camt053_001_02_all_balance_types.xml"
ALL_BALANCES_OK = DATA / "edited_genkgo_camt053_001_02_all_balance_types_balanced.xml"
V08 = DATA / "genkgo_camt053_001_08.xml"
V08_LATE_UTC = DATA / "edited_genkgo_camt053_001_08_utc_late_booking.xml"


def parse(path: Path) -> ParseResult:
    data = path.read_bytes()
    imp = registry.detect(data[: registry.SNIFF_BYTES], path)
    assert imp.name == "camt"
    return imp.parse(path, data, ImportOptions())


def variant(tmp_path: Path, source: Path, name: str, *edits: tuple[str, str]) -> Path:
    """A copy of a real file with exact text replacements, each of which must apply once."""
    text = source.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    out = tmp_path / name
    out.write_text(text, encoding="utf-8")
    return out


def counts(db: Database) -> tuple[int, int]:
    with db.session() as s:
        batches = s.scalar(select(func.count()).select_from(ImportBatch))
        records = s.scalar(select(func.count()).select_from(Record))
    return int(batches or 0), int(records or 0)


def refused(db: Database, path: Path) -> UserError:
    with db.session() as s, pytest.raises(UserError) as exc:
        import_file(s, path, actor="tester")
    assert counts(db) == (0, 0), "a refused file wrote something"
    return exc.value


# --- 1. version .01 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"), [(V01_052, "camt.052"), (V01_053, "camt.053"), (V01_054, "camt.054")]
)
def test_v01_messages_are_read(path: Path, kind: str) -> None:
    result = parse(path)
    assert result.format == kind
    assert not result.problems and not result.checks
    assert len(result.records) == 1
    row = result.records.iloc[0]
    assert row["account"] == "CH2801234000123456789"  # Acct/Id/PrtryAcct/Id
    assert (row["amount_minor"], row["currency"]) == (-20000000, "SEK")  # DBIT 200000 SEK
    assert row["booked_on"] == dt.date(2007, 10, 18)
    assert row["external_id"] == "AAAASESS-FP-ACCR-01"
    # Btch and TxDtls sit directly in the Ntry in version .01
    assert (row["ref_msgid"], row["ref_pmtinf"]) == ("FINP-0055", "FINP-0055-001")
    assert row["raw"]["batch_count"] == "20"
    assert row["raw"]["transaction_details"] == 1
    assert row["description"] == "Credit"
    assert result.accounts["CH2801234000123456789"].provider == "AAAA BANKEN"  # NmAndAdr/Nm


def test_v01_statement_imports_and_its_balances_are_checked(
    sqlite_db: Database, tmp_path: Path
) -> None:
    with sqlite_db.session() as s:
        report = import_file(s, V01_053, actor="tester")
    assert (report.format, report.new, report.duplicates, report.checks) == ("camt.053", 1, 0, [])
    with sqlite_db.session() as s:
        assert s.scalar(select(func.sum(Record.amount_minor))) == -20000000
    # Bal/Tp/Cd (version .01) is read: a closing balance one öre off fails the check.
    off = variant(
        tmp_path,
        V01_053,
        "off.xml",
        ('<Amt Ccy="SEK">300000</Amt>', '<Amt Ccy="SEK">300000.01</Amt>'),
    )
    checks = [c.message for c in parse(off).checks]
    assert len(checks) == 1
    assert "opening balance 500,000.00 + lines -200,000.00" in checks[0]
    assert "closing balance is 300,000.01 SEK" in checks[0]


def test_v01_statement_without_account_is_refused(sqlite_db: Database, tmp_path: Path) -> None:
    bad = variant(
        tmp_path,
        V01_053,
        "no_account.xml",
        ("<PrtryAcct>", "<Unknown>"),
        ("</PrtryAcct>", "</Unknown>"),
    )
    err = refused(sqlite_db, bad)
    assert err.file == str(bad) and err.field == "Stmt/Acct"
    assert "has no account id" in err.message and "PrtryAcct" in err.message


# --- 2. ZIP archives ----------------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes], *, dirs: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in dirs:
            zf.writestr(name, b"")
        for name, data in members.items():
            zf.writestr(name, data)
    return path


REAL_MEMBERS = {
    "statements/ergosarapu_camt052_001_01.xml": V01_052.read_bytes(),
    "statements/genkgo_camt053_001_08.xml": V08.read_bytes(),
    "statements/all_balance_types_balanced.xml": ALL_BALANCES_OK.read_bytes(),
}


def test_zip_of_real_camt_files_is_one_batch(sqlite_db: Database, tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "day.zip", REAL_MEMBERS, dirs=("statements/", "__MACOSX/", "__MACOSX/._a")
    )
    head = path.read_bytes()[: registry.SNIFF_BYTES]
    assert registry.detect(head, path).name == "camt"
    result = parse(path)
    assert result.format == "camt.052+camt.053"
    assert len(result.records) == 3 and not result.problems
    assert sorted(result.records["raw"].map(lambda r: r["archive_member"])) == sorted(REAL_MEMBERS)
    assert result.notes[0].startswith("ZIP archive: 3 camt file(s) read")
    with sqlite_db.session() as s:
        report = import_file(s, path, actor="tester")
    assert (report.new, report.duplicates, report.batch_id is not None) == (3, 0, True)
    with sqlite_db.session() as s:
        assert s.scalar(select(func.sum(Record.amount_minor))) == -20000000 + 885 + 885
        assert s.scalar(select(func.count(func.distinct(Record.batch_id)))) == 1
    assert counts(sqlite_db) == (1, 3)


def test_zip_checks_name_the_member(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "m.zip", {"a/all_balance_types.xml": ALL_BALANCES.read_bytes()})
    (check,) = parse(path).checks
    assert check.field == "Bal CLBD in a/all_balance_types.xml"
    assert check.message.startswith("statement CAMT0532015012200001 of CH2801234000123456789")


@pytest.mark.parametrize(
    ("members", "field", "words"),
    [
        (
            {"ok.xml": V08.read_bytes(), "README.txt": b"statements of March\n"},
            "member README.txt",
            "'README.txt' is not a camt.052/053/054 XML file",
        ),
        (  # the first member decides nothing: the camt file after it makes the ZIP camt
            {"README.txt": b"statements of March\n", "ok.xml": V08.read_bytes()},
            "member README.txt",
            "'README.txt' is not a camt.052/053/054 XML file",
        ),
        (
            {"ok.xml": V08.read_bytes(), "inner.zip": b""},  # made a real archive below
            "member inner.zip",
            "is not a camt",
        ),
        ({"../escape.xml": V08.read_bytes()}, "member ../escape.xml", "climbs out"),
        ({"/etc/abs.xml": V08.read_bytes()}, "member /etc/abs.xml", "absolute path"),
        ({"C:/abs.xml": V08.read_bytes()}, "member C:/abs.xml", "absolute path"),
    ],
)
def test_zip_refusals_name_the_member(
    sqlite_db: Database, tmp_path: Path, members: dict[str, bytes], field: str, words: str
) -> None:
    if "inner.zip" in members:  # a real nested archive
        inner = make_zip(tmp_path / "inner.zip", {"x.xml": V08.read_bytes()})
        members = {**members, "inner.zip": inner.read_bytes()}
    path = make_zip(tmp_path / "bad.zip", members)
    err = refused(sqlite_db, path)
    assert err.file == str(path) and err.field == field
    assert words in err.message


def test_zip_member_with_broken_xml_names_file_member_and_line(
    sqlite_db: Database, tmp_path: Path
) -> None:
    cut = V08.read_bytes()[:3000]
    path = make_zip(tmp_path / "cut.zip", {"ok.xml": V01_052.read_bytes(), "cut.xml": cut})
    err = refused(sqlite_db, path)
    assert err.file == f"{path} [cut.xml]" and err.line is not None
    assert "not well-formed XML" in err.message


def test_zip_member_count_limit(sqlite_db: Database, tmp_path: Path) -> None:
    dirs = tuple(f"d{i}/" for i in range(archive.LIMITS.members))
    path = make_zip(tmp_path / "many.zip", {"a.xml": V08.read_bytes()}, dirs=dirs)
    err = refused(sqlite_db, path)
    assert f"has {archive.LIMITS.members + 1} entries; at most {archive.LIMITS.members}" in (
        err.message
    )


def test_zip_size_limits(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_zip(
        tmp_path / "two.zip", {"a.xml": V08.read_bytes(), "b.xml": V01_052.read_bytes()}
    )
    monkeypatch.setattr(archive, "LIMITS", archive.Limits(member_bytes=5000))
    err = refused(sqlite_db, path)
    assert err.field == "member a.xml" and "declares 7445 bytes" in err.message
    monkeypatch.setattr(archive, "LIMITS", archive.Limits(total_bytes=10000))
    err = refused(sqlite_db, path)
    assert err.field == "member b.xml" and "all members together" in err.message


def test_zip_bomb_is_refused_by_ratio(sqlite_db: Database, tmp_path: Path) -> None:
    bomb = V08.read_bytes().replace(b"</Document>", b" " * (8 << 20) + b"</Document>")
    path = make_zip(tmp_path / "bomb.zip", {"big.xml": bomb})
    assert path.stat().st_size < 20000
    err = refused(sqlite_db, path)
    assert err.field == "member big.xml" and "200:1 compression ratio" in err.message


def test_zip_member_lying_about_its_size_is_refused(sqlite_db: Database, tmp_path: Path) -> None:
    data = V08.read_bytes()
    path = make_zip(tmp_path / "lie.zip", {"a.xml": data})
    raw = bytearray(path.read_bytes())
    real = len(data).to_bytes(4, "little")
    assert raw.count(real) == 2  # local header and central directory
    path.write_bytes(bytes(raw).replace(real, (1000).to_bytes(4, "little")))
    err = refused(sqlite_db, path)
    assert err.field == "member a.xml" and "damaged" in err.message


def test_zip_encrypted_member_is_refused(sqlite_db: Database, tmp_path: Path) -> None:
    path = make_zip(tmp_path / "enc.zip", {"a.xml": V08.read_bytes()})
    raw = bytearray(path.read_bytes())
    raw[6] |= 0x1  # general purpose flags of the local header ...
    central = raw.index(b"PK\x01\x02")
    raw[central + 8] |= 0x1  # ... and of the central directory: "encrypted"
    path.write_bytes(bytes(raw))
    err = refused(sqlite_db, path)
    assert err.field == "member a.xml" and "encrypted" in err.message


def test_zip_bytes_are_counted_while_inflating(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {"a.xml": V08.read_bytes()})
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("a.xml")
        with pytest.raises(UserError) as exc:
            archive._inflate(zf, info, "a.zip", "member a.xml", 4096, archive.LIMITS)
    assert "inflates beyond the limit of 4096 bytes" in exc.value.message


def test_zip_sniff_reads_the_first_file_only() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("day/", b"")
        zf.writestr("day/a.xml", V01_052.read_bytes())
    ((name, head),) = archive.member_heads(buf.getvalue())
    assert name == "day/a.xml" and b"BkToCstmrAcctRptV01" in head
    xlsx = io.BytesIO()
    with zipfile.ZipFile(xlsx, "w") as zf:
        zf.writestr("[Content_Types].xml", b"<?xml version='1.0'?><Types/>")
    assert registry.by_name("camt").sniff(xlsx.getvalue(), "book.xlsx") == 0


# --- 3. opening balance OPBD before PRCD ----------------------------------------------------------


def test_real_file_with_opbd_and_prcd_uses_opbd_and_clbd(sqlite_db: Database) -> None:
    result = parse(ALL_BALANCES)  # OPBD 1.01, PRCD 2.02, CLBD 4.04, CLAV 5.05 ..., entry +8.850
    (check,) = result.checks
    assert "opening balance 1.01 + lines 8.85 = 9.86 EUR" in check.message
    assert "closing balance is 4.04 EUR" in check.message
    assert any(
        "OPBD used as the opening balance in EUR; PRCD also given" in n for n in result.notes
    )
    err = refused(sqlite_db, ALL_BALANCES)  # unbalanced whichever opening is taken
    assert "1.01" in err.message


def test_edited_file_balances_with_opbd_in_any_order(sqlite_db: Database, tmp_path: Path) -> None:
    assert not parse(ALL_BALANCES_OK).checks  # 1.01 + 8.85 = 9.86; PRCD 2.02 would not add up
    text = ALL_BALANCES_OK.read_text(encoding="utf-8")
    start = text.index("            <Bal>")
    opbd_end = text.index("</Bal>", start) + len("</Bal>\n")
    prcd_end = text.index("</Bal>", opbd_end) + len("</Bal>\n")
    swapped = text[:start] + text[opbd_end:prcd_end] + text[start:opbd_end] + text[prcd_end:]
    assert swapped.index("PRCD") < swapped.index("OPBD")
    path = tmp_path / "prcd_first.xml"
    path.write_text(swapped, encoding="utf-8")
    assert not parse(path).checks
    with sqlite_db.session() as s:
        report = import_file(s, path, actor="tester")
    assert (report.new, report.checks) == (1, [])
    with sqlite_db.session() as s:
        assert s.scalar(select(func.sum(Record.amount_minor))) == 885


# --- 4. booking date-times in the bank's time zone -----------------------------------------------


def test_offset_in_the_value_is_the_banks_date() -> None:
    row = parse(V08).records.iloc[0]  # 2014-12-31T13:15:00+01:00
    assert row["booked_on"] == dt.date(2014, 12, 31)
    assert row["occurred_at"] == dt.datetime(2014, 12, 31, 12, 15, tzinfo=dt.UTC)


def test_late_utc_booking_is_next_day_in_amsterdam(sqlite_db: Database) -> None:
    row = parse(V08_LATE_UTC).records.iloc[0]  # 2014-12-31T23:15:00Z, account NL26...
    assert row["booked_on"] == dt.date(2015, 1, 1)
    assert row["occurred_at"] == dt.datetime(2014, 12, 31, 23, 15, tzinfo=dt.UTC)
    with sqlite_db.session() as s:
        assert import_file(s, V08_LATE_UTC, actor="tester").new == 1
    with sqlite_db.session() as s:
        assert list(s.scalars(select(Record.booked_on))) == [dt.date(2015, 1, 1)]


@pytest.mark.parametrize(
    ("source", "edits", "booked"),
    [
        # an explicit offset other than UTC is taken as written, whatever the account's country
        (
            V08_LATE_UTC,
            (("2014-12-31T23:15:00Z", "2014-12-31T23:15:00-05:00"),),
            dt.date(2014, 12, 31),
        ),
        # no IBAN, so no known zone: UTC date
        (
            V08_LATE_UTC,
            (("<Id>NL26VAYB8060476890</Id>", "<Id>11111111</Id>"),),
            dt.date(2014, 12, 31),
        ),
        # Swiss account, version .01, 22:30 UTC on 18 October (summer time) -> 19 October
        (
            V01_052,
            (("<DtTm>2007-10-18T10:15:00+01:00</DtTm>", "<DtTm>2007-10-18T22:30:00Z</DtTm>"),),
            dt.date(2007, 10, 19),
        ),
        # +00:00 is UTC too
        (
            V01_052,
            (("<DtTm>2007-10-18T10:15:00+01:00</DtTm>", "<DtTm>2007-10-18T22:30:00+00:00</DtTm>"),),
            dt.date(2007, 10, 19),
        ),
    ],
)
def test_booking_time_rules(
    tmp_path: Path, source: Path, edits: tuple[tuple[str, str], ...], booked: dt.date
) -> None:
    path = variant(tmp_path, source, "v.xml", *edits)
    assert parse(path).records.iloc[0]["booked_on"] == booked


def test_bank_zone_rule() -> None:
    assert str(bank_zone("DE89 3704 0044 0532 0130 00")) == "Europe/Berlin"
    assert str(bank_zone("CH2801234000123456789")) == "Europe/Zurich"
    assert bank_zone("US12345678901234567890") is None and bank_zone("11111111") is None
    late = dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC)
    assert bank_date(late, bank_zone("AT611904300234573201")) == dt.date(2026, 3, 3)
    assert bank_date(late, None) == dt.date(2026, 3, 2)
