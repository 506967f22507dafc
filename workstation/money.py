"""Exact money: integer minor units plus an ISO 4217 currency, parsing and formatting with Decimal.

The minor-unit exponents are a short table of the ISO 4217 exceptions rather than a dependency:
CLDR-based libraries (babel) report *cash* digits or CLDR overrides for some currencies (e.g. HUF,
TWD), which differ from the ISO 4217 exponent that statements and PSP reports use.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

_EXPONENTS: dict[str, int] = {
    # zero-decimal currencies (ISO 4217)
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    # three-decimal currencies
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    # four-decimal units of account
    **dict.fromkeys(["CLF", "UYW"], 4),
}

_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def normalise_currency(code: str | None) -> str:
    """Upper-case, validated ISO 4217 alpha code (Stripe writes `usd`)."""
    c = (code or "").strip().upper()
    if not _CURRENCY_RE.match(c):
        raise ValueError(f"not an ISO 4217 currency code: {code!r}")
    return c


def currencies_by_exponent() -> dict[int, list[str]]:
    """The ISO 4217 exceptions grouped by exponent (every other currency has 2), for SQL CASEs."""
    groups: dict[int, list[str]] = {}
    for cur, exp in sorted(_EXPONENTS.items()):
        groups.setdefault(exp, []).append(cur)
    return groups


def exponent(currency: str) -> int:
    """Number of minor-unit digits of `currency` (JPY 0, EUR 2, BHD 3)."""
    return _EXPONENTS.get(currency.upper(), 2)


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """Convert a major-unit amount to integer minor units, refusing to lose precision.

    Raises:
        ValueError: the amount has more significant decimals than the currency allows.
    """
    d = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    exp = exponent(currency)
    scaled = d.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more than {exp} decimals for {currency}")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Major-unit Decimal for integer minor units (exact)."""
    exp = exponent(currency)
    return Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))


def format_minor(minor: int | None, currency: str | None = None, *, symbol: bool = False) -> str:
    """Human display with thousands separators: `1,234.50` (or `1,234.50 EUR`)."""
    if minor is None:
        return ""
    cur = currency or "XXX"
    text = f"{from_minor(minor, cur):,}"
    return f"{text} {cur}" if symbol and currency else text


_AMOUNT_CLEAN = re.compile(r"[\s\u00a0\u202f']")


def parse_decimal(text: str, *, decimal_comma: bool | None = None) -> Decimal:
    """Parse a human amount: `1,653.75`, `4.626,81`, `-12`, `(3.00)`, `107,` (MT940), `12.50-`.

    Args:
        text: the amount as written in the file.
        decimal_comma: force the decimal separator; None guesses from the text.

    Raises:
        ValueError: not an amount (e.g. `$120`, `12abc`, empty).
    """
    s = _AMOUNT_CLEAN.sub("", text or "")
    if not s:
        raise ValueError("empty amount")
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1]
    if s.endswith("-"):
        negative, s = True, s[:-1]
    if s.startswith(("-", "+")):
        negative, s = (s[0] == "-") != negative, s[1:]
    if not s or not re.fullmatch(r"[0-9.,]+", s) or not re.search(r"\d", s):
        raise ValueError(f"not an amount: {text!r}")
    if decimal_comma is None:
        last_dot, last_comma = s.rfind("."), s.rfind(",")
        if last_dot >= 0 and last_comma >= 0:
            decimal_comma = last_comma > last_dot
        elif last_comma >= 0:
            # Several commas, or one followed by exactly three digits ("1,653"), are thousands
            # separators; otherwise ("49,37", MT940 "107,") the comma is the decimal mark.
            # Importers that know the file's convention pass `decimal_comma` explicitly.
            tail = s[last_comma + 1 :]
            decimal_comma = s.count(",") == 1 and len(tail) != 3
        else:
            decimal_comma = False
    if decimal_comma:
        s = s.replace(".", "").replace(",", ".")
    else:
        s = s.replace(",", "")
    if s.count(".") > 1:
        raise ValueError(f"not an amount: {text!r}")
    if s.endswith("."):
        s += "0"
    try:
        d = Decimal(s)
    except InvalidOperation as exc:  # pragma: no cover - regex above guards this
        raise ValueError(f"not an amount: {text!r}") from exc
    return -d if negative else d


def parse_minor(text: str, currency: str, *, decimal_comma: bool | None = None) -> int:
    """`parse_decimal` then `to_minor`."""
    return to_minor(parse_decimal(text, decimal_comma=decimal_comma), currency)


def round_minor(value: Decimal) -> int:
    """Banker's rounding of a Decimal number of minor units (FX conversions)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
