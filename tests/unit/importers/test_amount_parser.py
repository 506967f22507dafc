"""The amount parser: one value (`money.parse_decimal`) and whole columns (`column_values`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from workstation.importers import column_values
from workstation.importers.column_values import Issues
from workstation.importers.csvutil import STRING, Table
from workstation.money import MAX_MINOR, decimal_comma_of, parse_decimal, parse_minor, to_minor


@pytest.mark.parametrize(
    ("text", "comma", "expected"),
    [
        ("1,234.56", None, Decimal("1234.56")),
        ("1,234.56", False, Decimal("1234.56")),
        ("1.234,56", True, Decimal("1234.56")),
        ("1.234,56", None, Decimal("1234.56")),  # both marks: the last one is the decimal mark
        ("-12.00", None, Decimal("-12.00")),
        ("12,34", True, Decimal("12.34")),
        ("1,234,567", None, Decimal("1234567")),
    ],
)
def test_valid_amounts(text: str, comma: bool | None, expected: Decimal) -> None:
    assert parse_decimal(text, decimal_comma=comma) == expected


@pytest.mark.parametrize(
    ("text", "comma", "why"),
    [
        ("12,34", None, "ambiguous"),
        ("12,34", False, "must group thousands in threes"),
        ("1,2345.00", None, "must group thousands in threes"),
        ("1,2345.00", False, "must group thousands in threes"),
        ("1.2345,00", True, "must group thousands in threes"),
        ("1,234.56", True, "',' as the decimal mark"),
        ("1.234,56", False, "'.' as the decimal mark"),
        ("1e30", None, "not an amount"),
        ("1O,0O", None, "not an amount"),
        ("1O,0O", True, "not an amount"),
    ],
)
def test_refused_amounts(text: str, comma: bool | None, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_decimal(text, decimal_comma=comma)


def test_bound_is_in_minor_units() -> None:
    assert to_minor(Decimal(MAX_MINOR).scaleb(-2), "EUR") == MAX_MINOR
    with pytest.raises(ValueError, match="larger than the largest amount accepted"):
        parse_minor("10000000000000.01", "EUR")
    with pytest.raises(ValueError, match="larger than"):
        parse_minor("99999999999999999999999", "JPY")
    with pytest.raises(ValueError, match="not an amount"):
        to_minor(Decimal("NaN"), "EUR")


def test_file_decimal_mark_from_all_values() -> None:
    assert decimal_comma_of(["12,34", "1.234,50", "7"]) is True
    assert decimal_comma_of(["12.34", "1,234.50"]) is False
    assert decimal_comma_of(["1,234", "7"]) is None  # nothing shows a mark
    assert decimal_comma_of(["12,34", "5.00"]) is None  # they disagree: each must stand alone


def _table(values: list[str | None]) -> Table:
    frame = pd.DataFrame({"amount": pd.array(values, dtype=STRING)})
    return Table(Path("f.csv"), frame, np.arange(2, len(values) + 2), ["amount"])


def _read(
    values: list[str | None], declared: bool | None = None
) -> tuple[list, Issues, str | None]:
    table = _table(values)
    issues = Issues(table)
    col = table.col("amount")
    comma, note = column_values.decimal_mark([("amount", col)], issues, declared)
    exps = np.full(len(values), 2, dtype=np.int64)
    out = column_values.amounts(col, exps, issues, "amount", decimal_comma=comma)
    return out.astype(object).where(out.notna(), None).tolist(), issues, note


def test_column_detects_a_comma_decimal_mark_and_says_so() -> None:
    out, issues, note = _read(["12,34", "1.234,56", "-0,50"])
    assert out == [1234, 123456, -50] and not issues.problems
    assert (
        note
        == "amounts read with ',' as the decimal mark (detected from all 3 values that show one)"
    )


def test_column_declared_mark_refuses_values_against_it() -> None:
    out, issues, note = _read(["12,34", "1,234.56"], declared=True)
    assert out == [1234, None] and note and "(declared)" in note
    assert [(p.line, p.field) for p in issues.problems] == [(3, "amount")]


def test_column_refuses_the_minority_of_mixed_marks() -> None:
    _out, issues, note = _read(["1,234.56", "12,34", "7.25", "1.234,56", "3.10"])
    assert issues.bad.tolist() == [False, True, False, True, False]  # rows left out
    assert [p.line for p in issues.problems] == [3, 5]
    assert "mixes number formats" in issues.problems[0].message
    assert note and "3 values show it, 2 show the other mark and are refused" in note


def test_column_tie_refuses_both_sides() -> None:
    _out, issues, _note = _read(["12,34", "7.25"])
    assert issues.bad.tolist() == [True, True] and len(issues.problems) == 2


def test_column_bounds_scientific_and_garbage() -> None:
    out, issues, _note = _read(
        ["10.00", "99999999999999999999999", "1e3", "1O,0O", "12000000000000.00"]
    )
    assert out == [1000, None, None, None, None]
    messages = {p.line: p.message for p in issues.problems}
    assert "larger than the largest amount accepted" in messages[3]
    assert "not an amount" in messages[4] and "not an amount" in messages[5]
    assert "larger than" in messages[6]


def test_fast_path_is_untouched_by_good_columns() -> None:
    values = [f"{i}.{i % 100:02d}" for i in range(10_000)]
    out, issues, note = _read(values)
    assert out[123] == 12323 and not issues.problems and note is not None


def test_repeated_ids_name_the_first_line() -> None:
    table = _table(["txn_1", "txn_2", "txn_1", None, None])
    issues = Issues(table)
    column_values.repeated_ids(table.col("amount"), issues, "id", "balance transaction id")
    assert [(p.line, p.message) for p in issues.problems] == [
        (
            4,
            "balance transaction id txn_1 occurs again (first on line 2): the same transaction "
            "twice in one file",
        )
    ]
    assert issues.bad.tolist() == [False, False, True, False, False]


def test_arrow_is_used_for_the_column() -> None:
    # the helper tables above hold arrow strings, as read_table's do
    assert isinstance(_table(["1"]).frame["amount"].dtype, pd.ArrowDtype)
    assert pa.types.is_string(_table(["1"]).frame["amount"].dtype.pyarrow_dtype)
