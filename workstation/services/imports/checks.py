"""Checks every parsed file passes before it is stored: plausible dates, bounded amounts.

The importers read what a file says; these checks refuse what no real statement or report
says, whatever the format: a booking or value date outside the accepted window (settings
`import.earliest_date` and `import.latest_days_ahead`; a year-9999 date breaks every date
computation downstream), and an amount beyond `money.MAX_MINOR` (sums of such amounts would
overflow the store's 64-bit integers). Each offending row becomes a row problem naming its line
and field and is left out, so the file is refused unless the user imports the good rows.
Whole columns are compared at once (arrow kernels); only the offending rows are visited.

`unbalanced_statements` reads the failed balance checks of a bank statement (opening balance +
lines != closing balance, as MT940, camt and BAI2 report them through
`importers.bankcommon.balance_problem`; an OFX ledger balance that is not the running balance
after the last line) into `Unbalanced` statements with the expected and the found balance. The
import refuses such a file unless the user accepts it with a reason (`file_import`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from ... import config
from ...importers.base import ParseResult, Problem
from ...money import MAX_MINOR, format_minor, parse_minor, to_minor, too_large_message

DATE_FIELDS = {"booked_on": "booking date", "value_on": "value date"}
AMOUNT_FIELDS = {
    "amount_minor": "amount",
    "fee_minor": "fee",
    "net_minor": "net amount",
    "orig_amount_minor": "original amount",
}


def date_window(session: Session, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The dates an import accepts, from the settings (earliest date, days after today)."""
    text = str(config.get(session, "import.earliest_date"))
    try:
        earliest = dt.date.fromisoformat(text)
    except ValueError:
        earliest = dt.date.fromisoformat(config.SETTINGS["import.earliest_date"].default)
    ahead = int(config.get(session, "import.latest_days_ahead"))
    latest = (today or dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=ahead)
    return earliest, latest


def _dates(values: pd.Series) -> pa.Array | None:
    try:
        arr = pa.array(values, type=pa.date32(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        try:
            arr = pa.array(values.astype(object), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
        if pa.types.is_timestamp(arr.type):
            arr = pc.cast(arr, pa.date32()) if arr.type.tz is None else arr
        if not pa.types.is_date(arr.type):
            return None
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def check_records(result: ParseResult, *, window: tuple[dt.date, dt.date]) -> int:
    """Move the rows of `result.records` with implausible dates or amounts to its problems.

    Returns:
        how many rows were left out.
    """
    df = result.records
    if df.empty:
        return 0
    n = len(df)
    bad = np.zeros(n, dtype=bool)
    found: list[Problem] = []
    lines = pd.to_numeric(df["line_no"], errors="coerce").to_numpy(dtype=float, na_value=0)
    earliest, latest = window
    for col, label in DATE_FIELDS.items():
        if col not in df.columns or not df[col].notna().any():
            continue
        arr = _dates(df[col])
        if arr is None:
            continue
        outside = pc.or_(
            pc.less(arr, pa.scalar(earliest, pa.date32())),
            pc.greater(arr, pa.scalar(latest, pa.date32())),
        )
        rows = pc.fill_null(outside, False).to_numpy(zero_copy_only=False) & ~bad
        for i in np.flatnonzero(rows):
            found.append(
                Problem(
                    f"{label} {arr[int(i)].as_py()} is outside the accepted dates {earliest} .. "
                    f"{latest} (settings import.earliest_date, import.latest_days_ahead)",
                    line=int(lines[i]) or None,
                    field=col,
                )
            )
        bad |= rows
    for col, label in AMOUNT_FIELDS.items():
        if col not in df.columns:
            continue
        values = pd.to_numeric(df[col], errors="coerce")
        big = (values.abs() > MAX_MINOR).to_numpy(dtype=bool, na_value=False) & ~bad
        if not big.any():
            continue
        raw = df[col].to_numpy(dtype=object)
        currency = df["currency"].to_numpy(dtype=object) if "currency" in df.columns else None
        for i in np.flatnonzero(big):
            cur = str(currency[i]) if currency is not None and currency[i] else None
            found.append(
                Problem(
                    f"{label}: {too_large_message(f'{raw[i]} minor units', cur)}",
                    line=int(lines[i]) or None,
                    field=col,
                )
            )
        bad |= big
    if not found:
        return 0
    result.records = df.loc[~bad].reset_index(drop=True)
    result.problems = sorted([*result.problems, *found], key=lambda p: p.line or 0)
    return int(bad.sum())


# -- balances -------------------------------------------------------------------------------

# The message of `importers.bankcommon.balance_problem` (amounts as `money.format_minor` writes
# them); tests/unit/importers/test_unbalanced.py keeps the two in step.
_BALANCE = re.compile(
    r"^(?P<label>.+): opening balance (?P<opening>\S+) \+ lines (?P<lines>\S+) = "
    r"(?P<expected>\S+) (?P<ccy>[A-Z]{3}), but the closing balance is (?P<found>\S+) [A-Z]{3} "
    r"\(difference \S+\)$"
)
# OFX (`importers.ofx`): LEDGERBAL against the running balance (ACCTBAL) of the latest line.
_LEDGER = re.compile(
    r"^ledger balance (?P<found>\S+) differs from the running balance (?P<expected>\S+) "
    r"after the latest line \(line (?P<line>\d+)\)$"
)
_STATEMENT = re.compile(r"^statement (?:(?P<ident>.*) )?of (?P<account>\S+)$")
_ACCOUNT = re.compile(r"^account (?P<account>\S+)$")


@dataclass
class Unbalanced:
    """A statement whose balances do not add up: a failed balance check of its file.

    Amounts are signed minor units of `currency`; None where the check did not say.
    """

    statement: str  # as the file's check names it: "statement 1234Test/1 of NL77ABNA..."
    account: str | None
    statement_id: str | None
    currency: str | None
    opening: int | None
    lines: int | None
    expected: int | None  # opening + lines (OFX: the running balance after the latest line)
    found: int | None  # the closing (ledger) balance the statement states
    first_date: dt.date | None
    last_date: dt.date | None
    check: Problem

    @property
    def difference(self) -> int | None:
        """Found minus expected closing balance."""
        if self.expected is None or self.found is None:
            return None
        return self.found - self.expected

    @staticmethod
    def money_of(minor: int | None, currency: str | None) -> str:
        """`1,234.56 EUR` (or `?` for an amount the check did not give)."""
        if minor is None:
            return "?"
        return f"{format_minor(minor, currency)} {currency or ''}".strip()

    def money(self, minor: int | None) -> str:
        """An amount of this statement, with its currency."""
        return self.money_of(minor, self.currency)

    @property
    def difference_text(self) -> str:
        return self.money(self.difference)

    @property
    def dates_text(self) -> str:
        if self.first_date is None or self.last_date is None:
            return ""
        if self.first_date == self.last_date:
            return f"lines dated {self.first_date.isoformat()}"
        return f"lines dated {self.first_date.isoformat()} .. {self.last_date.isoformat()}"

    def describe(self) -> str:
        """One sentence naming the statement and the expected and found closing balance."""
        name = self.statement + (f" ({self.dates_text})" if self.dates_text else "")
        how = (
            f"opening {format_minor(self.opening, self.currency)} + lines "
            f"{format_minor(self.lines, self.currency)}"
            if self.opening is not None and self.lines is not None
            else "running balance after the latest line"
        )
        where = f" (line {self.check.line})" if self.check.line else ""
        return (
            f"{name} does not balance: expected closing balance {self.money(self.expected)} "
            f"({how}), found {self.money(self.found)}{where}, "
            f"difference {self.difference_text}"
        )

    def as_json(self) -> dict[str, Any]:
        """What the batch report keeps of it."""
        return {
            "statement": self.statement,
            "account": self.account,
            "statement_id": self.statement_id,
            "currency": self.currency,
            "expected_minor": self.expected,
            "found_minor": self.found,
            "difference_minor": self.difference,
            "expected": self.money(self.expected),
            "found": self.money(self.found),
            "difference": self.difference_text,
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "line": self.check.line,
            "field": self.check.field,
            "message": self.check.message,
        }


def _formatted(text: str, currency: str) -> int | None:
    """Minor units of an amount written by `money.format_minor` (`-1,234.56`)."""
    try:
        return to_minor(Decimal(text.replace(",", "")), currency)
    except (InvalidOperation, ValueError):
        return None


def _as_written(text: str, currency: str | None) -> int | None:
    """Minor units of an amount as a file writes it (OFX `1234.56`, `-12,50`)."""
    if not currency:
        return None
    try:
        return parse_minor(text, currency)
    except (InvalidOperation, ValueError):
        return None


def _statement_dates(
    df: pd.DataFrame, account: str | None, statement_id: str | None
) -> tuple[dt.date | None, dt.date | None]:
    """First and last booking date of the lines of one statement (or account)."""
    if df.empty or account is None or "booked_on" not in df.columns:
        return None, None
    mine = df["account"].astype(str) == account
    if statement_id is not None and "raw" in df.columns:
        same = df["raw"].map(lambda r: isinstance(r, dict) and r.get("statement") == statement_id)
        if (mine & same).any():
            mine &= same
    booked = [d for d in df.loc[mine, "booked_on"] if isinstance(d, dt.date)]
    return (min(booked), max(booked)) if booked else (None, None)


def _balance(check: Problem, df: pd.DataFrame) -> Unbalanced | None:
    m = _BALANCE.match(check.message)
    if m is None:
        return None
    ccy, label = m["ccy"], m["label"]
    account = statement_id = None
    if s := _STATEMENT.match(label):
        account, statement_id = s["account"], s["ident"]
    elif a := _ACCOUNT.match(label):
        account = a["account"]
    first, last = _statement_dates(df, account, statement_id)
    return Unbalanced(
        statement=label,
        account=account,
        statement_id=statement_id,
        currency=ccy,
        opening=_formatted(m["opening"], ccy),
        lines=_formatted(m["lines"], ccy),
        expected=_formatted(m["expected"], ccy),
        found=_formatted(m["found"], ccy),
        first_date=first,
        last_date=last,
        check=check,
    )


def _ledger(check: Problem, df: pd.DataFrame) -> Unbalanced | None:
    m = _LEDGER.match(check.message)
    if m is None:
        return None
    account = currency = None
    if not df.empty and "line_no" in df.columns:
        line = pd.to_numeric(df["line_no"], errors="coerce") == int(m["line"])
        if line.any():
            row = df.loc[line].iloc[0]
            account, currency = str(row["account"]), str(row["currency"])
    first, last = _statement_dates(df, account, None)
    return Unbalanced(
        statement=f"statement of {account}" if account else "statement",
        account=account,
        statement_id=None,
        currency=currency,
        opening=None,
        lines=None,
        expected=_as_written(m["expected"], currency),
        found=_as_written(m["found"], currency),
        first_date=first,
        last_date=last,
        check=check,
    )


def unbalanced_statements(result: ParseResult) -> list[Unbalanced]:
    """The statements of `result` whose balance check failed, in the order of its checks."""
    found = []
    for check in result.checks:
        u = _balance(check, result.records) or _ledger(check, result.records)
        if u is not None:
            found.append(u)
    return found
