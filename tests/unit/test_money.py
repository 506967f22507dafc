"""Money parsing and exponents."""

from decimal import Decimal

import pytest

from workstation.money import (
    exponent,
    format_minor,
    from_minor,
    parse_decimal,
    parse_minor,
    to_minor,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,653.75", Decimal("1653.75")),
        ("4.626,81", Decimal("4626.81")),
        ("-12.50", Decimal("-12.50")),
        ("(3.00)", Decimal("-3.00")),
        ("12.50-", Decimal("-12.50")),
        ("18.150", Decimal("18.150")),
    ],
)
def test_parse_decimal(text: str, expected: Decimal) -> None:
    assert parse_decimal(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("49,37", Decimal("49.37")), ("107,", Decimal("107")), ("1 234,5", Decimal("1234.5"))],
)
def test_parse_decimal_comma_needs_the_files_mark(text: str, expected: Decimal) -> None:
    # A lone comma not followed by three digits is a decimal mark only when the file says so
    # (declared or detected from the whole column); on its own the value is ambiguous.
    assert parse_decimal(text, decimal_comma=True) == expected
    with pytest.raises(ValueError, match="ambiguous"):
        parse_decimal(text)


@pytest.mark.parametrize("bad", ["$120", "", "12abc", "1.2.3", "--"])
def test_parse_decimal_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_decimal(bad)


def test_exponents_and_minor_units() -> None:
    assert exponent("JPY") == 0 and exponent("BHD") == 3 and exponent("EUR") == 2
    assert to_minor("1500", "JPY") == 1500
    assert to_minor("1.234", "BHD") == 1234
    assert parse_minor("18.150", "EUR") == 1815
    with pytest.raises(ValueError):
        to_minor("1.5", "JPY")
    assert from_minor(-1815, "EUR") == Decimal("-18.15")
    assert format_minor(123456789, "EUR") == "1,234,567.89"
    assert format_minor(1000, "BHD", symbol=True) == "1.000 BHD"


def test_currencies_by_exponent_agrees_with_exponent() -> None:
    from workstation.money import currencies_by_exponent

    groups = currencies_by_exponent()
    assert "JPY" in groups[0] and "BHD" in groups[3] and 2 not in groups
    assert all(exponent(c) == e for e, curs in groups.items() for c in curs)
