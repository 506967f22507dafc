"""What the table importers share: progress steps, the records frame, accounts and the result.

The PSP report importers (Stripe, Adyen, PayPal, Braintree) and the generic tabular one read a
`csvutil.Table`, convert its columns with `column_values` and end the same way: the rows without
problems become the records frame and, with the accounts and the problems in file order, the
`ParseResult`. The PSP reports are also recognised the same way, by their header names
(`ReportImporter`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from . import csvutil
from .base import AccountInfo, ImportOptions, ParseResult, Progress, ensure_columns
from .column_values import Issues

Reader = Callable[[Path, bytes, Progress | None], ParseResult]


def report(progress: Progress | None, done: int, total: int, text: str) -> None:
    """Call the progress callback (which may raise Cancelled)."""
    if progress is not None:
        progress(done, total, text)


def finish(records: dict[str, Any], issues: Issues) -> pd.DataFrame:
    """Build the records frame from column arrays and drop the rows with problems."""
    frame = pd.DataFrame(records, copy=False)
    keep = ~issues.bad
    if not keep.all():
        frame = frame.loc[keep].reset_index(drop=True)
    for name in frame.columns:
        col = frame[name]
        chunked = getattr(col.array, "_pa_array", None)
        if chunked is not None and chunked.num_chunks > 1:
            # one contiguous array per column: consumers may treat it as a plain pa.Array
            frame[name] = pd.Series(pd.array(chunked.combine_chunks(), dtype=col.dtype))
        elif isinstance(col.dtype, pd.Int64Dtype) and col.isna().any():
            # nullable integers with gaps travel as Python ints / None, which every writer takes
            frame[name] = col.astype(object).where(col.notna(), None)
    return frame


def currency_account(provider: str, label: str, currency: str) -> AccountInfo:
    """The PSP balance of one currency, e.g. key `stripe-EUR`, named "Stripe EUR"."""
    return AccountInfo(
        key=f"{provider}-{currency}",
        kind="psp",
        provider=provider,
        name=f"{label} {currency}",
        currency=currency,
    )


def result(
    format: str,
    frame: pd.DataFrame,
    accounts: dict[str, AccountInfo],
    issues: Issues,
    rows_total: int,
    **extra: Any,
) -> ParseResult:
    """What a table holds: its records with every column, and its problems in file order.

    `extra` are the further `ParseResult` fields a format sets (checks, PAN-exempt columns...).
    """
    return ParseResult(
        format=format,
        accounts=accounts,
        records=ensure_columns(frame),
        problems=issues.sorted(),
        rows_total=rows_total,
        notes=list(issues.notes),
        **extra,
    )


class ReportImporter:
    """A PSP report recognised by its header names and read by one function of its module.

    A subclass sets `name` and `label` and scores the header names in `score`.
    """

    name: str
    label: str

    def __init__(self, read: Reader) -> None:
        self.read = read

    def score(self, names: set[str]) -> int:
        """0-100 for the normalised names of the file's header line."""
        raise NotImplementedError

    def sniff(self, head: bytes, filename: str) -> int:
        return self.score(set(csvutil.header_names(head)))

    def parse(
        self, path: Path, data: bytes, options: ImportOptions, progress: Progress | None = None
    ) -> ParseResult:
        return self.read(path, data, progress)
