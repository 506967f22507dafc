"""MT940 on real Dutch bank exports (tests/data/mt940, provenance in SOURCES.md).

ING breaks lines anywhere: `-` alone inside `:86:` free text (`/MARF/MND` `-` `EV01`), the bank
reference of a `:61:` over two lines, `/TRCD/010` `16` `/`, even `:28C:0000` `0`. These files must
import with all their lines and balance. A damaged `:61:` amount is a row error, never a guess.
Expected values were read off the files by hand (amounts in minor units).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from workstation.cli import main
from workstation.db import Database
from workstation.errors import UserError
from workstation.importers import registry
from workstation.importers.base import ImportOptions, ParseResult
from workstation.importers.mt940_lines import Tag, amount_problem, join_statement_line
from workstation.models import ImportBatch, Record
from workstation.services.imports.file_import import import_file

DATA = Path(__file__).resolve().parents[2] / "data" / "mt940"
OCA_ING = DATA / "oca_mt940_base_ing_swift_blocks.940"

# file: (account, :61: line numbers, sum of the lines, opening, closing)
ING_LINES = [9, 14, 17, 21, 31, 39, 47, 51]
FILES = {
    "oca_mt940_base_ing_swift_blocks.940": ("NL77INGB0574908765", ING_LINES, 66223, 56435),
    "oca_nl_ing_old_preamble_xxx_trailer.940": ("NL77INGB0574908765", ING_LINES, 66223, 56435),
    "oca_parse_nl_ing_dash_then_brace.940": ("NL77ABNA0574908765", ING_LINES, 66223, 56435),
    "jejik_ing4_preamble_wrapped_86.txt": ("1234567", [8, 11, 16, 20], 0, 0),
}


def parse(path: Path) -> ParseResult:
    data = path.read_bytes()
    imp = registry.detect(data[: registry.SNIFF_BYTES], path)
    return imp.parse(path, data, ImportOptions())


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def damaged(tmp_path: Path, old: str, new: str) -> Path:
    """The OCA ING file with one `:61:` amount damaged (everything else byte for byte)."""
    data = OCA_ING.read_bytes()
    assert data.count(old.encode()) == 1
    path = tmp_path / "ing_damaged.940"
    path.write_bytes(data.replace(old.encode(), new.encode()))
    return path


# --- class 1: `-` inside :86:, :61: over several lines ------------------------------------------


@pytest.mark.parametrize("name", sorted(FILES))
def test_ing_files_import_all_lines_and_balance(name: str) -> None:
    account, lines, opening, closing = FILES[name]
    result = parse(DATA / name)
    assert result.format == "mt940"
    df = result.records
    assert list(df["line_no"]) == lines
    assert set(df["account"]) == {account}
    assert opening + int(df["amount_minor"].sum()) == closing
    assert result.checks == [] and result.problems == []


def test_ing_values(tmp_path: Path) -> None:
    df = parse(OCA_ING).records
    assert list(df["amount_minor"]) == [156, -157, 157, -114, 145, -1275, 3200, -11900]
    # the bank reference wrapped after 11 digits: `//00000000001` + `005`
    assert list(df["external_id"]) == [f"000000000010{n:02d}" for n in (5, 6, 7, 9, 8, 10, 11, 12)]
    raw = df["raw"].tolist()
    assert [r["supplementary"] for r in raw][3:] == [
        "/TRCD/01016/",  # `/TRCD/010` `16` `/`
        "/TRCD/01000/",
        "/TRCD/01315/",
        "/TRCD/00108/",
        "/TRCD/00108/",  # `/` `TRCD/00108/`
    ]
    # the `-` lines of line 25 and 43 are free text of the :86:, the statement goes on
    assert "EV01//CSID/NL32ZZZ9999999" in raw[3]["details"]
    assert "NTRIBUTIE FEB 2014/" in raw[5]["details"]
    assert raw[5]["details"].startswith("/RTRN/MS03//EREF/20120501P0123478//MARF/MND - 120123")
    types = ["NTRF", "NTRF", "NRTI", "NDDT", "NDDT", "NRTI", "NTRF", "NTRF"]
    assert [r["type"] for r in raw] == types


def test_ing_file_through_the_import(sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        report = import_file(s, OCA_ING, actor="tester")
        s.commit()
    assert (report.format, report.new, report.problems, report.checks) == ("mt940", 8, 0, [])
    with sqlite_db.session() as s:
        assert s.scalar(select(func.sum(Record.amount_minor))) == 56435 - 66223


def test_dash_ends_a_message_only_before_a_new_one(tmp_path: Path) -> None:
    text = OCA_ING.read_text()
    # `-` then :20: of a second statement: two statements
    two = text.replace("-}\n", "-\n" + text[text.index(":20:") : text.index("-}")] + "-}\n")
    path = tmp_path / "two.940"
    path.write_text(two)
    result = parse(path)
    assert len(result.records) == 16 and result.checks == []
    # `-` as the last line of the file ends it too
    path.write_text(text.replace("-}\n", "-\n"))
    assert len(parse(path).records) == 8
    # `-` followed by a :61: is free text; the statement is still one and balances
    body = text.replace(":86:/PREF/M000000003333333//REMI/USTD//TOTAAL 1 VZ/\n", ":86:X\n-\n")
    path.write_text(body)
    result = parse(path)
    assert len(result.records) == 8 and result.checks == []
    assert result.records["raw"].iloc[1]["details"] == "X -"


def test_join_statement_line() -> None:
    assert join_statement_line("100722D1,00NTRFX//0000000001\n23\n/TRCD/010\n16\n/") == (
        "100722D1,00NTRFX//000000000123\n/TRCD/01016/"
    )
    # mBank: supplementary details on line 2 are not a wrapped bank reference
    assert join_statement_line("1702010201CN45,00NTRFNONREF//MB170201323000\n911-TRANSAKCJA") == (
        "1702010201CN45,00NTRFNONREF//MB170201323000\n911-TRANSAKCJA"
    )
    # a digits line that would make the bank reference longer than 16 is not part of it
    assert join_statement_line("100722D1,00NTRFX//12345678901234\n567") == (
        "100722D1,00NTRFX//12345678901234\n567"
    )


# --- class 2: amounts are exact or refused ------------------------------------------------------


@pytest.mark.parametrize(
    "new",
    [
        "C1O,0ONTRF",  # letter O for zero: mt-940 reads 1.00 with customer reference "O,0ONTRF"
        "C1,00XNTRF",  # a stray letter before the type
        "C1,00X//",  # no transaction type at all
        "CO,56NTRF",  # letter O first: not a funds code
        "C1,5ONTRF",
        "C1,56",  # amount, then nothing
    ],
)
def test_damaged_amount_is_a_row_error(tmp_path: Path, new: str) -> None:
    path = damaged(tmp_path, "C1,56NTRF", new)
    result = parse(path)
    (problem,) = result.problems
    assert (problem.line, problem.field, problem.severity) == (9, ":61: amount", "error")
    assert "amount cannot be read" in problem.message
    assert list(result.records["line_no"]) == ING_LINES[1:]  # left out, not read as 1.00
    (check,) = result.checks  # and the statement is short by it
    assert check.line == 56 and "closing balance" in check.message


def test_damaged_amount_refuses_the_import(tmp_path: Path, sqlite_db: Database) -> None:
    path = damaged(tmp_path, "C1,56NTRF", "C1O,0ONTRF")
    with sqlite_db.session() as s, pytest.raises(UserError) as exc:
        import_file(s, path, actor="tester")
    assert (exc.value.file, exc.value.line, exc.value.field) == (str(path), 9, ":61: amount")
    assert "'1O,0ONTRFEREF//00000'" in exc.value.message
    assert count(sqlite_db, Record) == 0 and count(sqlite_db, ImportBatch) == 0


def test_damaged_amount_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["--db", url, "import", str(OCA_ING)]) == 0
    capsys.readouterr()
    path = damaged(tmp_path, "1402200220C1,56NTRF", "1402200220C1,00XNTRF")
    assert main(["--db", url, "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}, line 9, field :61: amount: ") and "Traceback" not in err
    db = Database(url)
    try:
        assert count(db, Record) == 8 and count(db, ImportBatch) == 1
    finally:
        db.dispose()


def test_good_amounts_and_a_bank_type_outside_swift() -> None:
    for value in ("100722D1,56NTRFX", "1710111011DF2402,00S   X", "100722D9,N192NONREF"):
        assert amount_problem(Tag("61", value, 1)) is None, value
    assert amount_problem(Tag("61", "100722D25,03NOV NONREF", 1)) is None  # ING pads with spaces
    # A real MT942 (WoLpH/mt940 self-provided) sends `0,42MCI0`: kept, with a warning.
    warning = amount_problem(Tag("61", "1610301031D0,42MCI0NONREF//055001022000001", 7))
    assert warning is not None
    assert (warning.severity, warning.field, warning.line) == (
        "warning",
        ":61: transaction type",
        7,
    )
    # ...but not after an incomplete amount or a letter that stands for a digit
    for value in ("100722D10,O0NTRF", "100722D10,MCI0", "100722D1,00OCI0", "100722D1,00XTRF"):
        problem = amount_problem(Tag("61", value, 1))
        assert problem is not None and problem.severity == "error", value
