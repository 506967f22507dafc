"""Bank statement importers (camt, MT940/942, BAI2, OFX) on the real sample files.

Expected counts and sums were read off the files by hand (amounts in minor units, per account).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from workstation.db import Database
from workstation.errors import UserError
from workstation.importers import registry
from workstation.importers.base import ImportOptions, ParseResult
from workstation.models import ImportBatch, Record, RecordReference
from workstation.services.imports.file_import import import_file


def parse(path: Path, expect_format: str | None = None) -> ParseResult:
    """Detect the format from the content (as the app does) and parse."""
    data = path.read_bytes()
    imp = registry.detect(data[: registry.SNIFF_BYTES], path)
    result = imp.parse(path, data, ImportOptions())
    if expect_format:
        assert result.format == expect_format
    return result


def sums(result: ParseResult) -> dict[str, tuple[int, int]]:
    """{account key: (lines, sum of amount_minor)}."""
    df = result.records
    return {
        str(k): (int(g["amount_minor"].count()), int(g["amount_minor"].sum()))
        for k, g in df.groupby("account")
    }


def errors(result: ParseResult) -> list[str]:
    return [p.describe() for p in result.problems if p.severity == "error"]


def failed_checks(result: ParseResult) -> list[str]:
    return [p.describe() for p in result.checks if p.severity == "error"]


def refs(result: ParseResult, row: int) -> set[str]:
    rec = result.records.iloc[row]
    return {str(v) for k, v in rec.items() if str(k).startswith("ref_") and isinstance(v, str)}


# --- camt --------------------------------------------------------------------------------------

CAMT = {
    # file: (format, {account: (lines, sum)}, failed balance checks)
    "genkgo_camt052_001_08.xml": ("camt.052", {"CH2801234000123456789": (1, -20000000)}, 0),
    "genkgo_camt053_001_02_five_decimals.xml": (
        "camt.053",
        {"NL26VAYB8060476890": (1, 885)},
        1,  # 18.150 + 8.850 = 27.000, the file says 27.050
    ),
    "genkgo_camt053_001_02_multi_statement.xml": (
        "camt.053",
        {"NL26VAYB8060476890": (2, 185)},
        0,
    ),
    "genkgo_camt053_001_08.xml": ("camt.053", {"NL26VAYB8060476890": (1, 885)}, 0),
    "genkgo_camt054_001_08_uetr.xml": ("camt.054", {"CH2801234000123456789": (1, -20000000)}, 0),
    "oca_camt053_001_02.xml": ("camt.053", {"NL77ABNA0574908765": (3, -1299)}, 1),
    "oca_camt053_001_04_no_entries.xml": ("camt.053", {}, 0),
    "oca_camt053_txdtls_batch.xml": ("camt.053", {"CH1111000000123456789": (1, 348300)}, 0),
    "oca_camt054_001_04.xml": ("camt.054", {"NL77ABNA0574908765": (1, 500)}, 0),
}


@pytest.mark.parametrize("name", sorted(CAMT))
def test_camt_samples(samples: Path, name: str) -> None:
    fmt, expected, n_checks = CAMT[name]
    result = parse(samples / "camt" / name, fmt)
    assert sums(result) == expected
    assert len(failed_checks(result)) == n_checks
    assert not errors(result)
    assert all(info.kind == "bank" for info in result.accounts.values())


def test_camt_values(samples: Path) -> None:
    result = parse(samples / "camt" / "oca_camt053_001_02.xml")
    df = result.records
    assert df["amount_minor"].tolist() == [-75425, -66405, 140531]
    assert df["currency"].tolist() == ["EUR"] * 3
    assert df["booked_on"].tolist() == [dt.date(2014, 1, 5)] * 3
    assert df["line_no"].tolist() == [50, 113, 228]
    # CdtDbtInd is the booking direction; RvslInd=true (a returned direct debit) keeps it
    assert df.loc[1, "raw"]["reversal"] is True and df.loc[1, "amount_minor"] < 0
    assert df.loc[0, "counterparty"] == "INSURANCE COMPANY TESTX"
    assert "Insurance policy 857239" in df.loc[0, "description"]
    assert refs(result, 0) >= {"435005714488-ABNO33052620", "INNDNL2U20141231000142300002844"}
    # a batch of two direct debits: one bank line, both end-to-end ids and mandates kept
    assert refs(result, 1) >= {
        "TESTBANK/NL/20141229/01206408",
        "TESTBANK/NL/20141229/01206407",
        "NL22ZZZ524885430000-C0125.1",
        "NL22ZZZ524885430000-C0125.2",
        "2018/125-20141229-NORM",
    }
    (check,) = failed_checks(result)
    assert "15,568.27" in check and "15,121.12" in check and "line 38" in check


def test_camt_batch_entry_keeps_every_payment_reference(samples: Path) -> None:
    result = parse(samples / "camt" / "oca_camt053_txdtls_batch.xml")
    row = result.records.iloc[0]
    assert row["external_id"] == "20170323001234567891234567891234"  # AcctSvcrRef
    assert row["bank_ref"] == row["external_id"]
    assert refs(result, 0) >= {
        "012345678",  # NtryRef
        "123456CHCAFEBABE",
        "302388292000011111111111111",
        "302388292000022222222222222",
    }
    assert row["booked_on"] == dt.date(2017, 3, 22) and row["value_on"] == dt.date(2017, 3, 23)


def test_camt_three_decimals_and_date_times(samples: Path) -> None:
    five = parse(samples / "camt" / "genkgo_camt053_001_02_five_decimals.xml")
    assert five.records["amount_minor"].tolist() == [885]  # "8.850" EUR, exact
    v8 = parse(samples / "camt" / "genkgo_camt053_001_08.xml")
    row = v8.records.iloc[0]
    assert row["external_id"] == "AAAASESS-FP-CN_98765/01"
    assert row["booked_on"] == dt.date(2014, 12, 31)  # BookgDt/DtTm local date
    assert row["occurred_at"] == dt.datetime(2014, 12, 31, 12, 15, tzinfo=dt.UTC)
    assert any("not checked" in c.message for c in v8.checks)  # EUR opening, SEK closing
    uetr = parse(samples / "camt" / "genkgo_camt054_001_08_uetr.xml")
    assert refs(uetr, 0) == {"255ae394-9965-4438-ac86-f406feada396"}
    assert uetr.records.iloc[0]["booked_on"] == dt.date(2007, 10, 18)
    assert any(p.field == "Ntry/BookgDt" and p.severity == "warning" for p in uetr.problems)


def test_camt_without_statement_is_refused(samples: Path) -> None:
    with pytest.raises(UserError) as exc:
        parse(samples / "camt" / "genkgo_camt053_001_02_wrong_no_stmt.xml")
    assert exc.value.line == 3
    assert "no <Stmt>" in exc.value.message and "CAMT053RIB000000000001" in exc.value.message


def _camt(entries: str, *, balances: str = "", ccy: str = "EUR") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-03-03T08:00:00+01:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>S1</Id>
   <Acct><Id><IBAN>NL91 ABNA 0417 1643 00</IBAN></Id><Ccy>{ccy}</Ccy></Acct>
   {balances}
   {entries}
  </Stmt>
 </BkToCstmrStmt>
</Document>
"""


def _ntry(amount: str, ind: str, day: str, ref: str, ccy: str = "EUR") -> str:
    return (
        f"<Ntry><Amt Ccy='{ccy}'>{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd><Sts>BOOK</Sts>"
        f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
        f"<AcctSvcrRef>{ref}</AcctSvcrRef></Ntry>"
    )


def test_camt_too_many_decimals_is_a_row_problem(tmp_path: Path) -> None:
    f = tmp_path / "s.xml"
    f.write_text(
        _camt(
            _ntry("10.00", "CRDT", "2026-03-02", "R1")
            + _ntry("8.855", "CRDT", "2026-03-02", "R2")
            + _ntry("100", "DBIT", "2026-03-02", "R3", ccy="JPY")
        )
    )
    result = parse(f)
    assert result.records["amount_minor"].tolist() == [1000, -100]
    assert result.records["currency"].tolist() == ["EUR", "JPY"]
    (problem,) = result.problems
    assert problem.field == "Ntry/Amt" and "more decimals than EUR allows" in problem.message


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>&lol3;</MsgId></GrpHdr></BkToCstmrStmt></Document>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Document><BkToCstmrStmt><GrpHdr><MsgId>&x;</MsgId></GrpHdr></BkToCstmrStmt></Document>
"""


@pytest.mark.parametrize("content", [BOMB, XXE, BOMB.decode().encode("utf-16")])
def test_camt_refuses_doctype_entities(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "bomb.xml"
    f.write_bytes(content)
    with pytest.raises(UserError) as exc:
        registry.by_name("camt").parse(f, content, ImportOptions())
    assert "DOCTYPE" in exc.value.message
    assert exc.value.file == str(f)


def test_camt_truncated_xml_names_line(tmp_path: Path) -> None:
    text = _camt(_ntry("10.00", "CRDT", "2026-03-02", "R1"))
    f = tmp_path / "cut.xml"
    f.write_text(text[: text.index("</Stmt>")])
    with pytest.raises(UserError) as exc:
        parse(f)
    assert "not well-formed XML" in exc.value.message and exc.value.line


# --- MT940 / MT942 -----------------------------------------------------------------------------

MT940 = {
    "asnb_swift_block_headers.sta": ("mt940", {"NL81ASNB9999999999": (8, 5694)}, 0),
    "betterplace_sepa_snippet_multi_stmt.sta": (
        "mt940",
        {"50880050/0194787400888": (4, 35859391), "50880050/0194791600888": (7, -250191730)},
        1,  # second statement: -1,970,431.87 + lines != -4,472,049.09
    ),
    "betterplace_with_binary_character.sta": (
        "mt940",
        {"51230800/0000007055": (3, -18018675), "51230800/0000007304": (1, 112000)},
        0,
    ),
    "jejik_abnamro_multi_stmt_headers.sta": ("mt940", {"517852257": (10, -34593)}, 2),
    "mbank_mt940.sta": ("mt940", {"PL29114010810000267002001002": (3, 3)}, 0),
    "sberbank_nonstandard_NS_tag_crlf.sta": ("mt940", {"1966315302010001": (3, -943700)}, 0),
}
MT942 = {
    "mbank_mt942.sta": ("mt942", {"PL29114010810000267002001002": (3, 3)}, 0),
    "selfprovided_mt942.sta": ("mt942", {"GJB0291077111": (1, -42)}, 1),  # :90D: says 2,30
}


@pytest.mark.parametrize("name", sorted(MT940))
def test_mt940_samples(samples: Path, name: str) -> None:
    fmt, expected, n_checks = MT940[name]
    result = parse(samples / "mt940" / name, fmt)
    assert sums(result) == expected
    assert len(failed_checks(result)) == n_checks
    assert not result.problems


@pytest.mark.parametrize("name", sorted(MT942))
def test_mt942_samples(samples: Path, name: str) -> None:
    fmt, expected, n_checks = MT942[name]
    result = parse(samples / "mt942" / name, fmt)
    assert sums(result) == expected
    assert len(failed_checks(result)) == n_checks


def test_mt940_values(samples: Path) -> None:
    sepa = parse(samples / "mt940" / "betterplace_sepa_snippet_multi_stmt.sta")
    first = sepa.records.iloc[0]
    assert first["line_no"] == 5
    assert first["external_id"] == "0724710333343453"  # bank reference after //
    assert first["value_on"] == dt.date(2007, 9, 7) and first["booked_on"] == dt.date(2007, 9, 4)
    assert first["counterparty"] == "KARL KAUFMANN"
    assert first["description"].startswith("GUTSCHRIFT Verw CTSc-01")
    last = sepa.records.iloc[-1]
    assert pd.isna(last["external_id"])  # NONREF and no bank reference
    assert "-1,970,431.87" in failed_checks(sepa)[0]
    mbank = parse(samples / "mt940" / "mbank_mt940.sta")
    assert mbank.records["external_id"].tolist() == [
        "MB170119012058",
        "MB170119012085",
        "MB170119012121",
    ]
    assert "ID IPH: XX000000000001" in mbank.records.iloc[0]["description"]
    binary = parse(samples / "mt940" / "betterplace_with_binary_character.sta")
    assert binary.records.iloc[0]["raw"]["statement"] == "STAR1ÜTßUMS"
    assert binary.records.iloc[0]["external_id"] == "32-P1-TCS49518"
    assert refs(binary, 0) == {"100323-03-100323"}  # customer reference kept as a token


def test_mt940_swift_blocks_and_long_customer_reference(samples: Path) -> None:
    result = parse(samples / "mt940" / "asnb_swift_block_headers.sta")
    df = result.records
    assert df["line_no"].tolist() == [6, 42, 50, 198, 233, 241, 263, 271]
    # no bank reference: the (18-character) customer reference is the id
    assert df.iloc[0]["external_id"] == "NL47INGB9999999999"
    assert df.iloc[0]["amount_minor"] == -6500
    assert "Betaling sieraden" in df.iloc[0]["description"]


def test_mt942_totals(samples: Path) -> None:
    result = parse(samples / "mt942" / "selfprovided_mt942.sta")
    (check,) = result.checks
    assert check.line == 11 and check.field == ":90D:"
    assert "2.30" in check.message and "0.42" in check.message


def test_mt940_broken_statement_is_refused(samples: Path) -> None:
    with pytest.raises(UserError) as exc:
        parse(samples / "mt940" / "betterplace_sepa_snippet_broken.sta")
    assert (exc.value.line, exc.value.field) == (6, ":25:")
    assert "statement line :61: of line 5" in exc.value.message


def test_mt940_february_30_is_refused(samples: Path) -> None:
    path = samples / "mt940" / "selfprovided_february_30_crlf.sta"
    with pytest.raises(UserError) as exc:
        parse(path)
    assert exc.value.file == str(path)
    assert (exc.value.line, exc.value.field) == (6, ":61: value date")
    assert "160230" in exc.value.message


MT940_REVERSALS = """:20:REV1
:25:NL91ABNA0417164300EUR
:28C:1/1
:60F:C260301EUR100,00
:61:2603020302RC10,00NTRFNONREF//BR1
:86:reversal of a credit
:61:2603020302RD2,50NTRFOWNREF1//BR2
:86:reversal of a debit
:61:2603020302D1,NTRFNONREF
:62F:C260302EUR91,50
-
"""


def test_mt940_reversal_marks(tmp_path: Path) -> None:
    f = tmp_path / "rev.sta"
    f.write_text(MT940_REVERSALS)
    result = parse(f, "mt940")
    df = result.records
    assert df["amount_minor"].tolist() == [-1000, 250, -100]  # RC debit, RD credit
    assert df["external_id"].tolist()[:2] == ["BR1", "BR2"]
    assert pd.isna(df.iloc[2]["external_id"])  # NONREF and no bank reference
    assert list(result.accounts) == ["NL91ABNA0417164300"]  # currency suffix dropped
    assert not result.checks


def test_mt940_truncated_statement_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "cut.sta"
    f.write_text(MT940_REVERSALS.split(":62F:")[0])
    with pytest.raises(UserError) as exc:
        parse(f)
    assert exc.value.field == ":62F:" and "truncated" in exc.value.message


# --- BAI2 --------------------------------------------------------------------------------------

BAI2 = {
    "moj_account_trailer_amount_blank_example.bai2": {},
    "moj_citi_example.bai2": {"77777777": (1, 1)},
    "moj_nwb_example.bai2": {"88888888 600004": (5, -2676)},
    "moj_svb_us_example.bai2": {"1234567890": (2, 1395996)},
    "vh_daily_with_summary.bai2": {"1234567890": (1, 25001)},
    "vh_eod_with_slash_in_text.bai2": {"3333333333": (1, 8325982)},
    "vh_eod_without_as_of_time.bai2": {"3333333333": (1, 8325982)},
}


@pytest.mark.parametrize("name", sorted(BAI2))
def test_bai2_samples(samples: Path, name: str) -> None:
    result = parse(samples / "bai2" / name, "bai2")
    assert sums(result) == BAI2[name]
    assert not result.problems


def test_bai2_values(samples: Path) -> None:
    blank = parse(samples / "bai2" / "moj_account_trailer_amount_blank_example.bai2")
    assert sorted(blank.accounts) == ["12345", "54321"]
    citi = parse(samples / "bai2" / "moj_citi_example.bai2")
    row = citi.records.iloc[0]
    assert (row["currency"], row["external_id"], row["line_no"]) == ("GBP", "1234567890", 4)
    assert row["booked_on"] == dt.date(2015, 7, 15) and row["value_on"] == dt.date(2015, 7, 15)
    assert refs(citi, 0) == {"RP12312312312312"}  # customer reference
    assert "BUCKINGHAM PALACE" in row["description"]  # 88 continuation text
    assert "100.00" in failed_checks(citi)[0]  # 010 + 0.01 != 015
    nwb = parse(samples / "bai2" / "moj_nwb_example.bai2")
    assert nwb.records["currency"].unique().tolist() == ["GBP"]  # from 03, 02 is blank
    assert nwb.records["amount_minor"].tolist() == [-971, -100, -123, -1571, 89]
    svb = parse(samples / "bai2" / "moj_svb_us_example.bai2")
    assert list(svb.accounts) == ["1234567890"]  # one account in two groups
    assert svb.records["booked_on"].tolist() == [dt.date(2022, 2, 1), dt.date(2022, 2, 2)]
    slash = parse(samples / "bai2" / "vh_eod_with_slash_in_text.bai2")
    text = slash.records.iloc[0]["description"]
    assert "ORG ADDRESS:=2/AV MAIN 2/AVENUE DE ANGELLIST 3/MX /MEXICO ;" in text
    assert text.endswith("OBI:=INVOICE 123456")
    daily = parse(samples / "bai2" / "vh_daily_with_summary.bai2")
    assert daily.records.iloc[0]["description"] == "SAMPLE CONTINUATION TEXT"
    assert refs(daily, 0) == {"50848"}


def test_bai2_bad_control_total_is_refused(samples: Path) -> None:
    with pytest.raises(UserError) as exc:
        parse(samples / "bai2" / "vh_invalid_checksum_eod.bai2")
    assert exc.value.line == 15 and "49" in (exc.value.field or "")
    assert "8325983" in exc.value.message and "8325982" in exc.value.message


BAI2_TEXT = """01,SENDER,RECEIVER,260302,0800,1,,,2/
02,RECEIVER,BANK,1,260301,2400,USD,2/
03,555,,010,1000,,,015,1250,,/
16,195,500,Z,BREF1,CREF1,WIRE IN/
16,475,250,0,BREF2,,CHECK 1001/
16,142,0,,BREF3,,ZERO ACH/
49,3000,5/
98,3000,1,7/
99,3000,1,9/
"""


def test_bai2_signs_and_totals(tmp_path: Path) -> None:
    f = tmp_path / "f.bai"
    f.write_text(BAI2_TEXT)
    result = parse(f, "bai2")
    assert result.records["amount_minor"].tolist() == [500, -250, 0]
    assert result.records["external_id"].tolist() == ["BREF1", "BREF2", "BREF3"]
    assert not result.checks  # 10.00 + 5.00 - 2.50 = 12.50


def test_bai2_lines_without_direction_are_row_problems(tmp_path: Path) -> None:
    f = tmp_path / "f.bai"
    f.write_text(BAI2_TEXT.replace("16,142,0,", "16,,0,").replace("16,475,250,0,", "16,987,250,0,"))
    result = parse(f)
    assert result.records["amount_minor"].tolist() == [500]
    assert [(p.line, p.field) for p in result.problems] == [
        (5, "16 type code"),
        (6, "16 type code"),
    ]
    assert "987" in result.problems[0].message and "(blank)" in result.problems[1].message


@pytest.mark.parametrize(
    ("edit", "line", "words"),
    [
        (lambda t: t.replace("49,3000,5/", "49,3000,6/"), 7, "record count"),
        (lambda t: t.replace("98,3000,1,7/", "98,3001,1,7/"), 8, "control total"),
        (lambda t: t.replace("99,3000,1,9/\n", ""), 8, "truncated"),
        (lambda t: t.replace("03,555", "16,195,1,,,/\n03,555"), 3, "16 (transaction detail)"),
    ],
)
def test_bai2_damaged_files_are_refused(
    tmp_path: Path, edit: object, line: int, words: str
) -> None:
    f = tmp_path / "f.bai"
    f.write_text(edit(BAI2_TEXT))  # type: ignore[operator]
    with pytest.raises(UserError) as exc:
        parse(f)
    assert exc.value.line == line and words in str(exc.value)


# --- OFX ---------------------------------------------------------------------------------------

OFX = {
    "oca_ofx_v211_xml_tz_offset.ofx": {"bank:123456": (4, -36000)},
    "ofxparse_anz_creditcard.ofx": {"card:1234123412341234": (1, -550)},
    "ofxparse_checking_v102_sgml.ofx": {"bank:1452687~7": (3, -5950)},
    "ofxparse_multiple_accounts.ofx": {},
    "ofxparse_v102_empty_tags_leading_blank_lines.ofx": {"bank:12345678": (1, 1234)},
    "ofxtools_br_nubank_cc.ofx": {"card:11111111-UUID-UUID-UUID-111111111111": (6, -128091)},
    "ofxtools_stmtrs_euro.ofx": {"bank:999988": (2, -50000)},
}


@pytest.mark.parametrize("name", sorted(OFX))
def test_ofx_samples(samples: Path, name: str) -> None:
    result = parse(samples / "ofx" / name, "ofx")
    assert sums(result) == OFX[name]
    assert not errors(result)


def test_ofx_values(samples: Path) -> None:
    multi = parse(samples / "ofx" / "ofxparse_multiple_accounts.ofx")
    assert sorted(i.account_number or "" for i in multi.accounts.values()) == ["9100", "9200"]
    both = parse(samples / "ofx" / "oca_ofx_v211_xml_tz_offset.ofx")
    assert set(both.accounts) == {"bank:123456", "card:123412341234"}  # bank + credit card
    assert both.records["external_id"].tolist() == ["219378", "219379", "219380", "219381"]
    nubank = parse(samples / "ofx" / "ofxtools_br_nubank_cc.ofx")
    row = nubank.records.iloc[0]
    assert row["currency"] == "BRL" and row["booked_on"] == dt.date(2024, 3, 23)
    assert row["occurred_at"] == dt.datetime(2024, 3, 23, 3, 0, tzinfo=dt.UTC)  # [-3:GMT]
    euro = parse(samples / "ofx" / "ofxtools_stmtrs_euro.ofx")
    assert euro.records["currency"].tolist() == ["USD", "USD"]  # CURDEF; decimal commas
    assert refs(euro, 0) == {"1000"}  # CHECKNUM
    empty = parse(samples / "ofx" / "ofxparse_v102_empty_tags_leading_blank_lines.ofx")
    assert pd.isna(empty.records.iloc[0]["external_id"])
    assert empty.records.iloc[0]["currency"] == "AUD"  # no CURDEF: the line's CURSYM
    assert {p.field for p in empty.problems} == {"CURDEF", "FITID"}
    checking = parse(samples / "ofx" / "ofxparse_checking_v102_sgml.ofx")
    assert checking.records.iloc[2]["counterparty"] == "RETURNED CHECK FEE, CHECK # 319"


def test_ofx_missing_fields(samples: Path) -> None:
    path = samples / "ofx" / "oca_ofx_v211_wrong_missing_curdef_fitid.ofx"
    result = parse(path)
    assert sums(result) == {"statement-1": (3, -27000)}
    (error,) = [p for p in result.problems if p.severity == "error"]
    assert (error.line, error.field) == (42, "TRNAMT")
    assert {p.field for p in result.problems if p.severity == "warning"} == {"ACCTID", "CURDEF"}
    assert result.records["currency"].unique().tolist() == ["USD"]  # from the card statement


@pytest.mark.parametrize(
    ("name", "line", "field"),
    [
        ("ofxparse_fail_nice_decimal_error.ofx", 37, "TRNAMT"),
        ("ofxparse_fail_nice_date_missing_no_header.ofx", 50, "DTPOSTED"),
    ],
)
def test_ofx_bad_values_are_refused(samples: Path, name: str, line: int, field: str) -> None:
    path = samples / "ofx" / name
    with pytest.raises(UserError) as exc:
        parse(path)
    assert (exc.value.file, exc.value.line, exc.value.field) == (str(path), line, field)


OFX_PST = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
ENCODING:USASCII
CHARSET:1252

<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD
<BANKACCTFROM><BANKID>121000248<ACCTID>4455<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST>
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20130831230000.000[-8:PST]<TRNAMT>-12.5<FITID>F1
<NAME>Caf\xe9 Lumi\xe8re</STMTTRN>
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20130901<TRNAMT>100,25<FITID>F2</STMTTRN>
</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
"""


def test_ofx_truncated_is_refused(samples: Path, tmp_path: Path) -> None:
    text = (samples / "ofx" / "ofxtools_br_nubank_cc.ofx").read_text()
    f = tmp_path / "cut.ofx"
    f.write_text(text[: text.index("<STMTTRN>", 1000)])
    with pytest.raises(UserError) as exc:
        parse(f)
    assert "truncated" in exc.value.message


def test_ofx_time_zone_and_legacy_charset(tmp_path: Path) -> None:
    f = tmp_path / "pst.qfx"
    f.write_bytes(OFX_PST.encode("cp1252"))
    result = parse(f, "ofx")
    first, second = result.records.iloc[0], result.records.iloc[1]
    assert first["booked_on"] == dt.date(2013, 8, 31)  # the local date
    assert first["occurred_at"] == dt.datetime(2013, 9, 1, 7, 0, tzinfo=dt.UTC)
    assert first["counterparty"] == "Café Lumière"
    assert (first["amount_minor"], second["amount_minor"]) == (-1250, 10025)
    assert pd.isna(second["occurred_at"]) and second["line_no"] == 12


# --- detection and the full import pipeline ----------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "name"),
    [("camt", "camt"), ("mt940", "mt940"), ("mt942", "mt940"), ("bai2", "bai2"), ("ofx", "ofx")],
)
def test_every_sample_is_recognised(samples: Path, folder: str, name: str) -> None:
    for path in sorted((samples / folder).iterdir()):
        head = path.read_bytes()[: registry.SNIFF_BYTES]
        assert registry.detect(head, path).name == name, path.name


def _count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_import_pipeline_new_duplicate_and_already_imported(db: Database, samples: Path) -> None:
    camt = samples / "camt" / "oca_camt053_001_02.xml"  # its closing balance is off by 434.16
    with db.session() as s:
        report = import_file(s, camt, actor="tester", accept_unbalanced="test data")
        assert (report.format, report.new, report.duplicates) == ("camt.053", 3, 0)
        assert report.account == "NL77ABNA0574908765"
        assert len(report.checks) == 1
    with db.session() as s:
        again = import_file(s, camt, actor="tester")
        assert again.already_imported and again.new == 0 and again.batch_id == report.batch_id
    with db.session() as s:
        total = s.scalar(select(func.sum(Record.amount_minor)))
        assert total == -1299
        values = set(s.scalars(select(RecordReference.value)))
        assert "TESTBANKNL2014122901206407" in values  # second payment of the batch entry
    mt = samples / "mt940" / "betterplace_sepa_snippet_multi_stmt.sta"  # one statement unbalanced
    with db.session() as s:
        report = import_file(s, mt, actor="tester", accept_unbalanced="test data")
        assert (report.new, report.duplicates) == (11, 0)
    mt942 = samples / "mt942" / "mbank_mt942.sta"
    mt940 = samples / "mt940" / "mbank_mt940.sta"
    with db.session() as s:
        assert import_file(s, mt942, actor="tester").new == 3
    with db.session() as s:  # the day's statement repeats the interim lines
        report = import_file(s, mt940, actor="tester")
        assert (report.new, report.duplicates) == (0, 3)
    assert _count(db, Record) == 17


def test_rejected_files_write_nothing(db: Database, samples: Path) -> None:
    for path in (
        samples / "bai2" / "vh_invalid_checksum_eod.bai2",
        samples / "mt940" / "selfprovided_february_30_crlf.sta",
        samples / "ofx" / "ofxparse_fail_nice_decimal_error.ofx",
        samples / "camt" / "genkgo_camt053_001_02_wrong_no_stmt.xml",
    ):
        with db.session() as s, pytest.raises(UserError):
            import_file(s, path, actor="tester")
    assert _count(db, Record) == 0 and _count(db, ImportBatch) == 0


def test_row_problems_need_a_decision(db: Database, samples: Path) -> None:
    path = samples / "ofx" / "oca_ofx_v211_wrong_missing_curdef_fitid.ofx"
    with db.session() as s, pytest.raises(UserError) as exc:
        import_file(s, path, actor="tester")
    assert (exc.value.line, exc.value.field) == (42, "TRNAMT")
    with db.session() as s:
        report = import_file(s, path, actor="tester", skip_bad_rows=True)
        assert (report.new, report.problems) == (3, 1)


MT940_OVERLAP = """:20:STMT0303
:25:NL91ABNA0417164300
:28C:62/1
:60F:C260301EUR1000,00
:61:2603020302C100,00NTRFNONREF//BANKREF0001
:86:/EREF/E2E-0001/NAME/ACME BV/REMI/INVOICE 4711
:61:2603020302D25,50NDDTNONREF//BANKREF0002
:86:/EREF/E2E-0002/NAME/POWER CO/REMI/JANUARY
:61:2603030303C10,00NTRFNONREF//BANKREF0003
:86:/NAME/JANE DOE/REMI/REFUND
:62F:C260303EUR1084,50
-
"""


def test_camt_and_mt940_of_one_account_overlap(db: Database, tmp_path: Path) -> None:
    camt = tmp_path / "day1.xml"
    camt.write_text(
        _camt(
            _ntry("100.00", "CRDT", "2026-03-02", "BANKREF0001")
            + _ntry("25.50", "DBIT", "2026-03-02", "BANKREF0002"),
            balances=(
                "<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy='EUR'>1000.00</Amt>"
                "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-01</Dt></Dt></Bal>"
                "<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy='EUR'>1074.50</Amt>"
                "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-02</Dt></Dt></Bal>"
            ),
        )
    )
    mt = tmp_path / "days1-2.sta"
    mt.write_text(MT940_OVERLAP)
    with db.session() as s:
        first = import_file(s, camt, actor="tester")
        assert (first.new, first.duplicates, first.checks) == (2, 0, [])
    with db.session() as s:
        second = import_file(s, mt, actor="tester")
        assert (second.format, second.new, second.duplicates) == ("mt940", 1, 2)
        assert second.account == first.account == "NL91ABNA0417164300"
    with db.session() as s:
        rows = s.execute(select(Record.external_id, Record.amount_minor).order_by(Record.id))
        assert rows.all() == [("BANKREF0001", 10000), ("BANKREF0002", -2550), ("BANKREF0003", 1000)]
