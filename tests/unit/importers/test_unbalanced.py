"""Statements whose balances do not add up are refused unless accepted with a reason.

Real files (read from ../shared/samples): camt.053 closing balance 434.16 EUR off, a camt.053
with 3-decimal amounts 0.05 EUR off, an ABN AMRO MT940 with two unbalanced statements, a German
SEPA MT940 300.08 EUR off and a Citi BAI2 whose closing ledger is 0.01 GBP off. OFX has no
opening balance; its ledger balance is checked against the running balance of the latest line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from workstation.cli import main
from workstation.db import Database
from workstation.errors import UserError
from workstation.importers.bankcommon import balance_problem
from workstation.importers.base import ImportOptions, ParseResult
from workstation.models import AuditEvent, ImportBatch, Record, RecordRaw, RecordReference
from workstation.services.imports.checks import unbalanced_statements
from workstation.services.imports.file_import import import_file, parse_file

# file: (statements off, first statement named, expected, found, difference)
REAL = {
    "camt/oca_camt053_001_02.xml": (
        1,
        "statement 1234Test/1 of NL77ABNA0574908765",
        "15,555.28 EUR",
        "15,121.12 EUR",
        "-434.16 EUR",
    ),
    "camt/genkgo_camt053_001_02_five_decimals.xml": (
        1,
        "statement 253EURNL26VAYB8060476890 of NL26VAYB8060476890",
        "27.00 EUR",
        "27.05 EUR",
        "0.05 EUR",
    ),
    "mt940/jejik_abnamro_multi_stmt_headers.sta": (
        2,
        "statement ABN AMRO BANK NV of 517852257",
        "2,914.84 EUR",
        "876.84 EUR",
        "-2,038.00 EUR",
    ),
    "mt940/betterplace_sepa_snippet_multi_stmt.sta": (
        1,
        "statement T089414096000001 of 50880050/0194791600888",
        "-4,472,349.17 EUR",
        "-4,472,049.09 EUR",
        "300.08 EUR",
    ),
    "bai2/moj_citi_example.bai2": (1, "account 77777777", "100.01 GBP", "100.00 GBP", "-0.01 GBP"),
}
BALANCED = ("camt/genkgo_camt053_001_02_multi_statement.xml", "mt940/mbank_mt940.sta")

TABLES = (ImportBatch, Record, RecordRaw, RecordReference, AuditEvent)


def _counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {
            t.__tablename__: int(s.scalar(select(func.count()).select_from(t)) or 0) for t in TABLES
        }


def _cli(db: Database, *args: str) -> int:
    return main(["--db", db.engine.url.render_as_string(hide_password=False), *args])


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_unbalanced_statements_are_read(samples: Path, name: str) -> None:
    n, statement, expected, found, difference = REAL[name]
    path = samples / name
    result = parse_file(path, path.read_bytes(), ImportOptions())
    found_list = unbalanced_statements(result)
    assert len(found_list) == n
    first = found_list[0]
    assert first.statement == statement
    assert (first.money(first.expected), first.money(first.found)) == (expected, found)
    assert first.difference_text == difference
    assert first.found - first.expected == first.difference


@pytest.mark.parametrize("name", BALANCED)
def test_balanced_statements_pass(samples: Path, name: str) -> None:
    path = samples / name
    assert unbalanced_statements(parse_file(path, path.read_bytes(), ImportOptions())) == []


def test_the_balance_message_is_understood() -> None:
    """`checks` reads the message `balance_problem` writes: the two must stay in step."""
    for currency, opening, lines, closing in (("EUR", 100, 250, 340), ("JPY", -5, 0, 7)):
        problem = balance_problem(
            label="statement 7/1 of DE02120300000000202051",
            currency=currency,
            opening=opening,
            movements=lines,
            closing=closing,
            line=9,
        )
        assert problem is not None
        result = ParseResult("x", {}, pd.DataFrame(), checks=[problem])
        (u,) = unbalanced_statements(result)
        assert (u.account, u.statement_id, u.currency) == (
            "DE02120300000000202051",
            "7/1",
            currency,
        )
        assert (u.opening, u.lines, u.expected, u.found) == (
            opening,
            lines,
            opening + lines,
            closing,
        )


def test_unbalanced_file_is_refused_and_writes_nothing(db: Database, samples: Path) -> None:
    path = samples / "camt" / "oca_camt053_001_02.xml"
    before = _counts(db)
    with db.session() as s, pytest.raises(UserError) as exc:
        import_file(s, path, actor="tester")
    err = exc.value
    assert err.file == str(path) and (err.line, err.field) == (38, "Bal CLBD")
    text = err.describe()
    assert "statement 1234Test/1 of NL77ABNA0574908765 (lines dated 2014-01-05)" in text
    assert "expected closing balance 15,555.28 EUR" in text
    assert "found 15,121.12 EUR" in text and "difference -434.16 EUR" in text
    assert "Nothing was written" in text and "--accept-unbalanced" in text
    assert _counts(db) == before == dict.fromkeys(before, 0)


def test_cli_refusal_exit_code_and_message(
    db: Database, samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = samples / "mt940" / "jejik_abnamro_multi_stmt_headers.sta"
    assert _cli(db, "import", str(path)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}, line 27, field :62F:: 2 statements do not balance")
    assert "expected closing balance 2,914.84 EUR" in err and "found 876.84 EUR" in err
    assert "expected closing balance 2,852.35 EUR" in err and "found 1,849.75 EUR" in err
    assert _counts(db) == dict.fromkeys(_counts(db), 0)
    assert _cli(db, "import", str(path), "--accept-unbalanced", "   ") == 1
    assert "needs a reason" in capsys.readouterr().err
    assert _counts(db)["import_batches"] == 0


def test_accepted_with_a_reason_is_recorded_and_listed(
    db: Database, samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = samples / "camt" / "oca_camt053_001_02.xml"
    reason = "Bank confirmed the closing balance by phone, ticket 4711"
    assert _cli(db, "import", str(path), "--accept-unbalanced", reason, "--json") == 0
    (imported,) = json.loads(capsys.readouterr().out)["files"]
    assert imported["new"] == 3
    accepted = imported["accepted_unbalanced"]
    assert (accepted["by"], accepted["reason"], accepted["difference"]) == (
        "tester",
        reason,
        "-434.16 EUR",
    )
    with db.session() as s:
        batch = s.scalars(select(ImportBatch)).one()
        kept = batch.report["accepted_unbalanced"]
        assert kept["reason"] == reason and kept["by"] == "tester"
        (st,) = kept["statements"]
        assert (st["expected_minor"], st["found_minor"], st["difference_minor"]) == (
            1555528,
            1512112,
            -43416,
        )
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "accept_unbalanced")).one()
        assert event.actor == "tester" and event.entity_id == str(batch.id)
    assert _cli(db, "batches", "list", "--json") == 0
    (row,) = json.loads(capsys.readouterr().out)["batches"]
    assert row["accepted_unbalanced"]["reason"] == reason
    assert row["accepted_unbalanced"]["difference"] == "-434.16 EUR"
    assert row["accepted_unbalanced"]["by"] == "tester"
    assert _cli(db, "batches", "list") == 0
    out = capsys.readouterr().out
    assert f"accepted unbalanced by tester, difference -434.16 EUR: {reason}" in out
    # undone, the batch still says what was accepted into it
    assert _cli(db, "batches", "undo", str(row["batch_id"])) == 0
    capsys.readouterr()
    assert _cli(db, "batches", "list", "--json") == 0
    (row,) = json.loads(capsys.readouterr().out)["batches"]
    assert row["status"] == "undone" and row["accepted_unbalanced"]["reason"] == reason


def test_balanced_file_is_not_marked(
    db: Database, samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = samples / BALANCED[0]
    assert _cli(db, "import", str(path), "--accept-unbalanced", "not needed", "--json") == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["accepted_unbalanced"] is None
    assert _cli(db, "batches", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out)["batches"][0]["accepted_unbalanced"] is None


def test_dry_run_exit_codes(
    db: Database, samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unbalanced = str(samples / "camt" / "oca_camt053_001_02.xml")
    bad_rows = str(samples / "ofx" / "oca_ofx_v211_wrong_missing_curdef_fitid.ofx")
    good = str(samples / BALANCED[0])
    # would be refused: exit 1, the counts and the reason are still printed
    assert _cli(db, "import", "--dry-run", unbalanced) == 1
    captured = capsys.readouterr()
    assert "would add 3" in captured.out and "would be refused" in captured.out
    assert "difference -434.16 EUR" in captured.out
    assert "would refuse 1 file(s)" in captured.err
    assert _cli(db, "import", "--dry-run", "--json", unbalanced) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["refused"] == [unbalanced] and payload["files"][0]["new"] == 3
    assert payload["files"][0]["unbalanced"][0]["difference"] == "-434.16 EUR"
    assert _cli(db, "import", "--dry-run", unbalanced, "--accept-unbalanced", "ok") == 0
    assert "would be accepted unbalanced by tester" in capsys.readouterr().out
    assert _cli(db, "import", "--dry-run", bad_rows) == 1
    assert "--skip-bad-rows" in capsys.readouterr().out
    assert _cli(db, "import", "--dry-run", bad_rows, "--skip-bad-rows") == 0
    assert _cli(db, "import", "--dry-run", good) == 0
    assert _cli(db, "import", "--dry-run", good, unbalanced) == 1  # one of them is enough
    capsys.readouterr()
    assert _counts(db)["import_batches"] == 0 and _counts(db)["records"] == 0


OFX = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>EUR
<BANKACCTFROM><BANKID>123<ACCTID>DE44500105175407324931<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20261101<DTEND>20261130
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261102<TRNAMT>100.00<FITID>F1<NAME>A<ACCTBAL>600.00
</STMTTRN>
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261103<TRNAMT>-30.00<FITID>F2<NAME>B<ACCTBAL>570.00
</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>{ledger}<DTASOF>20261130</LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1>
</OFX>
"""


def test_ofx_ledger_balance_against_the_running_balance(db: Database, tmp_path: Path) -> None:
    good = tmp_path / "good.ofx"
    good.write_text(OFX.format(ledger="570.00"))
    off = tmp_path / "off.ofx"
    off.write_text(OFX.format(ledger="575.50"))
    assert unbalanced_statements(parse_file(good, good.read_bytes(), ImportOptions())) == []
    (u,) = unbalanced_statements(parse_file(off, off.read_bytes(), ImportOptions()))
    assert (u.currency, u.expected, u.found, u.difference_text) == ("EUR", 57000, 57550, "5.50 EUR")
    with db.session() as s, pytest.raises(UserError) as exc:
        import_file(s, off, actor="tester")
    assert "found 575.50 EUR" in str(exc.value) and "expected closing balance 570.00" in str(
        exc.value
    )
    assert _counts(db)["import_batches"] == 0
