"""Importer contract: sniff content, parse to a columnar `ParseResult`, never touch the database.

An importer turns one file into a pandas DataFrame of normalised lines (`RECORD_COLUMNS`) plus
accounts, row-level problems and file-level checks (balances, control totals). The ingest service
(`workstation.services.imports.ingest`) does the rest: PAN masking, reference tokens, fingerprints,
deduplication and one-transaction storage. Fatal problems raise `UserError` naming file, line and
field; a bad row in an otherwise good file is a `Problem` and is left out of `records`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

Progress = Callable[[int, int, str], None]

# Columns every importer's `records` frame has (missing optional ones are filled with nulls).
# Extra columns whose names start with "ref_" are reference tokens (ref_order, ref_charge, ...).
RECORD_COLUMNS: dict[str, str] = {
    "line_no": "1-based line/row of the file the record came from",
    "account": "key into ParseResult.accounts",
    "external_id": "the id the source gives the line (see issue: camt AcctSvcrRef, OFX FITID...)",
    "bank_ref": "reference used in the dedupe fingerprint (defaults to external_id)",
    "booked_on": "booking date (datetime.date)",
    "value_on": "value date or None",
    "occurred_at": "aware UTC datetime or None",
    "amount_minor": "signed integer minor units, + is money in for the account holder",
    "currency": "ISO 4217 code",
    "fee_minor": "fee as a positive cost, minor units, or None",
    "net_minor": "amount - fee, or None",
    "orig_amount_minor": "amount before FX, or None",
    "orig_currency": "currency before FX, or None",
    "kind": "RecordKind value",
    "counterparty": "name of the other party",
    "description": "free text (scanned for ids)",
    "payout_ref": "payout / settlement batch id grouping PSP lines",
    "raw": "the original row as a dict (stored as JSON)",
}
REQUIRED_COLUMNS = ("line_no", "account", "booked_on", "amount_minor", "currency", "kind")


@dataclass
class AccountInfo:
    """An account a file speaks of; matched to a Source by `account_number` or `name`."""

    key: str
    kind: str  # SourceKind
    provider: str | None = None
    name: str | None = None
    account_number: str | None = None
    currency: str | None = None


@dataclass
class Problem:
    """A row-level problem or a failed file check, with where it is."""

    message: str
    line: int | None = None
    field: str | None = None
    severity: str = "error"  # error: row left out; warning: row kept

    def describe(self, file: str | None = None) -> str:
        where = [w for w in (file, f"line {self.line}" if self.line else None) if w]
        if self.field:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class ImportOptions:
    """What the user told the import (all optional)."""

    format: str | None = None
    account: str | None = None  # force all lines onto this account name
    profile: dict[str, Any] | None = None  # saved column mapping for tabular files
    profile_name: str | None = None


@dataclass
class ParseResult:
    """What one file contains, normalised."""

    format: str
    accounts: dict[str, AccountInfo]
    records: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    checks: list[Problem] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    rows_total: int | None = None
    # How the file was read where it had to be decided (the decimal mark detected from the
    # amount columns...), shown in the import report and preview.
    notes: list[str] = field(default_factory=list)
    # False when the source's line ids are never quoted elsewhere (Stripe `txn_` balance
    # transaction ids): they stay searchable on records.external_id but are not indexed as
    # reference tokens, which keeps million-row imports fast.
    tokenise_external_id: bool = True
    # Columns holding ids the PSP itself assigns in a numeric shape that can pass Luhn (Adyen's
    # 16-digit PSP references). They are never card numbers, so they are not masked, and the
    # same values are left alone where they recur in `raw` or the description of that line.
    pan_exempt_columns: tuple[str, ...] = ()


class Importer(Protocol):
    """One file format."""

    name: str
    label: str

    def sniff(self, head: bytes, filename: str) -> int:
        """0 = not this format, 100 = certainly this format; `head` is the first 64 KiB."""
        ...

    def parse(
        self, path: Path, data: bytes, options: ImportOptions, progress: Progress | None = None
    ) -> ParseResult:
        """Parse the whole file; raise UserError for a file that cannot be read at all."""
        ...


def frame_from_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Build a records frame from per-line dicts (small formats: camt, MT940, BAI2, OFX)."""
    df = pd.DataFrame.from_records(rows) if rows else pd.DataFrame()
    return ensure_columns(df)


def ensure_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Add missing optional columns as nulls so the ingest pipeline sees one shape."""
    for col in RECORD_COLUMNS:
        if col not in df.columns:
            df[col] = None
    return df


def as_date(value: Any) -> dt.date | None:
    """datetime/date/None -> date."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"not a date: {value!r}")
