"""Exact money: integer minor units plus an ISO 4217 currency, parsing and formatting with Decimal.

The minor-unit exponents are a short table of the ISO 4217 exceptions rather than a dependency:
CLDR-based libraries (babel) report *cash* digits or CLDR overrides for some currencies (e.g. HUF,
TWD), which differ from the ISO 4217 exponent that statements and PSP reports use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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

# The largest |amount| accepted anywhere, in minor units: 10^15 is ten trillion in a 2-decimal
# currency, far above any real line, and 9,223 lines at this bound still sum within int64. Sums
# over more lines are computed exactly by the analytics (`sum_minor`), never in wrapping int64.
MAX_MINOR = 10**15


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
    if not d.is_finite():
        raise ValueError(f"not an amount: {amount}")
    exp = exponent(currency)
    scaled = d.scaleb(exp)
    check_bound(scaled, str(amount), currency)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more than {exp} decimals for {currency}")
    return int(scaled)


def check_bound(minor: Decimal | int, text: str, currency: str | None = None) -> None:
    """Refuse an amount beyond `MAX_MINOR` minor units (ValueError naming the bound)."""
    if abs(Decimal(minor)) > MAX_MINOR:
        raise ValueError(too_large_message(text, currency))


def too_large_message(text: str, currency: str | None = None) -> str:
    """The message for an amount beyond `MAX_MINOR`."""
    limit = f"{from_minor(MAX_MINOR, currency):,}" if currency else f"{MAX_MINOR:,} minor units"
    unit = f" {currency}" if currency else ""
    return f"amount {text} is larger than the largest amount accepted ({limit}{unit})"


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


_GROUPED_COMMA = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d*(?:\.\d*)?")
_GROUPED_DOT = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d*)?|\d*(?:,\d*)?")


def parse_decimal(text: str, *, decimal_comma: bool | None = None) -> Decimal:
    """Parse a human amount: `1,653.75`, `4.626,81`, `-12`, `(3.00)`, `107,` (MT940), `12.50-`.

    The decimal mark is never guessed from one value where it is ambiguous: without
    `decimal_comma`, a value whose only separator is one comma not followed by three digits
    (`12,34`) is refused, and thousands groups must be three digits (`1,2345.00` is refused).

    Args:
        text: the amount as written in the file.
        decimal_comma: the file's decimal mark (declared, or detected from the whole column);
            None: only values whose mark is unambiguous are read.

    Raises:
        ValueError: not an amount (e.g. `$120`, `12abc`, `1e30`, empty) or an ambiguous one.
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
            # separators; one comma followed by anything else ("12,34") may be a decimal mark:
            # that is for the file's declared or detected convention to say, not this value.
            tail = s[last_comma + 1 :]
            if s.count(",") == 1 and len(tail) != 3:
                raise ValueError(
                    f"ambiguous amount {text!r}: is ',' the decimal mark? declare the file's "
                    "decimal mark (a mapping profile with decimal_comma)"
                )
            decimal_comma = False
        else:
            decimal_comma = False
    grouped = _GROUPED_DOT if decimal_comma else _GROUPED_COMMA
    if not grouped.fullmatch(s):
        mark, sep = (",", ".") if decimal_comma else (".", ",")
        raise ValueError(
            f"not an amount with {mark!r} as the decimal mark: {text!r} ({sep!r} must group "
            "thousands in threes, and the decimal mark appear once)"
        )
    if decimal_comma:
        s = s.replace(".", "").replace(",", ".")
    else:
        s = s.replace(",", "")
    if s.endswith("."):
        s += "0"
    if s.startswith("."):
        s = "0" + s
    try:
        d = Decimal(s)
    except InvalidOperation as exc:  # pragma: no cover - regex above guards this
        raise ValueError(f"not an amount: {text!r}") from exc
    return -d if negative else d


_SHOWS_COMMA = re.compile(r",\d{1,2}$|\.\d{3},")
_SHOWS_DOT = re.compile(r"\.\d{1,2}$|,\d{3}\.")


def decimal_comma_of(texts: Iterable[str | None]) -> bool | None:
    """The decimal mark of a (small) file's amounts, from the values that show one: True for a
    comma, False for a point, None when none shows one or they disagree (each value then has to
    be unambiguous on its own, and `parse_decimal` refuses the others)."""
    comma = dot = False
    for text in texts:
        if text:
            s = _AMOUNT_CLEAN.sub("", text).rstrip("-)")
            comma |= bool(_SHOWS_COMMA.search(s))
            dot |= bool(_SHOWS_DOT.search(s))
    return None if comma == dot else comma


def parse_minor(text: str, currency: str, *, decimal_comma: bool | None = None) -> int:
    """`parse_decimal` then `to_minor`."""
    return to_minor(parse_decimal(text, decimal_comma=decimal_comma), currency)


def round_minor(value: Decimal) -> int:
    """Banker's rounding of a Decimal number of minor units (FX conversions)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
