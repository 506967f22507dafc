"""Helpers shared by the bank statement importers (camt, MT940/942, BAI2, OFX)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from ..models.enums import RecordKind
from ..money import format_minor, to_minor
from .base import AccountInfo, ParseResult, Problem, frame_from_rows

# Placeholders banks write where a reference is required but there is none.
PLACEHOLDER_REFS = frozenset({"NONREF", "NOTPROVIDED", "NOT PROVIDED", "NONE", "N/A", "NA", "-"})

_SPACES = re.compile(r"\s+")
_SEPA_KEYWORD = re.compile(r"^[A-Z]{4}\+$")  # a bare "KREF+" with nothing after it
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$")


def clean_ref(value: str | None) -> str | None:
    """A reference as written, or None for empty values and placeholders like NONREF."""
    if value is None:
        return None
    text = value.strip()
    if not text or text.upper() in PLACEHOLDER_REFS or _SEPA_KEYWORD.match(text):
        return None
    return text


def clean_text(*parts: str | None, sep: str = " ") -> str | None:
    """Non-empty parts with whitespace collapsed, joined once each (order kept)."""
    seen: list[str] = []
    for part in parts:
        if not part:
            continue
        text = _SPACES.sub(" ", part).strip()
        if text and text not in seen:
            seen.append(text)
    return sep.join(seen) or None


def bank_kind(amount_minor: int) -> str:
    """Record kind of a bank line by its sign."""
    return RecordKind.BANK_CREDIT.value if amount_minor >= 0 else RecordKind.BANK_DEBIT.value


def account_number(value: str | None, currency: str | None = None) -> str | None:
    """Account id as used to find the account again: no spaces; IBANs upper-case.

    Some MT940 banks append the currency to the IBAN in `:25:` (`NL81ASNB0708271685EUR`); that
    suffix is dropped so camt and MT940 exports of one account land on the same account.
    """
    if not value:
        return None
    text = _SPACES.sub("", value)
    upper = text.upper()
    if currency and upper.endswith(currency.upper()) and _IBAN.match(upper[:-3]):
        return upper[:-3]
    if _IBAN.match(upper):
        return upper
    return text or None


def luhn_ok(digits: str) -> bool:
    """Luhn checksum of a digit string."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask_card_number(value: str | None) -> str | None:
    """A card account id (OFX credit-card ACCTID) masked 6+4 if it is a Luhn-valid PAN."""
    if not value:
        return value
    digits = re.sub(r"[ -]", "", value)
    if digits.isdigit() and 13 <= len(digits) <= 19 and luhn_ok(digits):
        return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]
    return value


def add_refs(row: dict[str, Any], kind: str, values: Iterable[str | None]) -> None:
    """Put reference tokens on a record row as `ref_<kind>`, `ref_<kind>_2`, ... columns.

    The ingest path stores one token per `ref_` column and row, so several end-to-end ids of one
    batch entry need several columns. Placeholders (NONREF, NOTPROVIDED) and repeats are dropped.
    """
    refs = [r for r in map(clean_ref, values) if r is not None]
    if not refs:
        return
    present = {v for k, v in row.items() if k.startswith("ref_") and v}
    n = sum(1 for k in row if k == f"ref_{kind}" or k.startswith(f"ref_{kind}_"))
    for ref in refs:
        if ref in present:
            continue
        present.add(ref)
        n += 1
        row[f"ref_{kind}" if n == 1 else f"ref_{kind}_{n}"] = ref


def balance_problem(
    *,
    label: str,
    currency: str,
    opening: int,
    movements: int,
    closing: int,
    line: int | None,
    field: str | None = None,
    severity: str = "error",
) -> Problem | None:
    """A failed balance check (opening + lines != closing), or None when it adds up."""
    expected = opening + movements
    if expected == closing:
        return None
    return Problem(
        message=(
            f"{label}: opening balance {format_minor(opening, currency)} + lines "
            f"{format_minor(movements, currency)} = {format_minor(expected, currency)} {currency}, "
            f"but the closing balance is {format_minor(closing, currency)} {currency} "
            f"(difference {format_minor(closing - expected, currency)})"
        ),
        line=line,
        field=field,
        severity=severity,
    )


class StatementReader:
    """What reading one statement file collects: record rows, accounts, bad rows, file checks.

    Each format's reader walks its own structure and appends here: `problems` are rows left out,
    `checks` the failed balance and control-total checks of the file.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.rows: list[dict[str, Any]] = []
        self.accounts: dict[str, AccountInfo] = {}
        self.problems: list[Problem] = []
        self.checks: list[Problem] = []

    def minor_units(
        self,
        amount: Decimal,
        currency: str,
        what: str,
        *,
        line: int | None,
        field: str,
        into: list[Problem],
    ) -> int | None:
        """`amount` in minor units of `currency`; None, with a problem added to `into` (the rows'
        problems or the file's checks), when it has more decimals than the currency allows or is
        beyond the largest amount accepted (`money.MAX_MINOR`)."""
        try:
            return to_minor(amount, currency)
        except ValueError as exc:
            message = (
                str(exc)
                if "larger than" in str(exc)
                else f"{what} has more decimals than {currency} allows"
            )
            into.append(Problem(message, line=line, field=field))
            return None

    def result(self, format: str, rows_total: int) -> ParseResult:
        """The file's `ParseResult` from what was collected."""
        return ParseResult(
            format=format,
            accounts=self.accounts,
            records=frame_from_rows(self.rows),
            problems=self.problems,
            checks=self.checks,
            rows_total=rows_total,
        )
