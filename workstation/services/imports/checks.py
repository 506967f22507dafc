"""Checks every parsed file passes before it is stored: plausible dates, bounded amounts.

The importers read what a file says; these checks refuse what no real statement or report
says, whatever the format: a booking or value date outside the accepted window (settings
`import.earliest_date` and `import.latest_days_ahead`; a year-9999 date breaks every date
computation downstream), and an amount beyond `money.MAX_MINOR` (sums of such amounts would
overflow the store's 64-bit integers). Each offending row becomes a row problem naming its line
and field and is left out, so the file is refused unless the user imports the good rows.
Whole columns are compared at once (arrow kernels); only the offending rows are visited.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from ... import config
from ...importers.base import ParseResult, Problem
from ...money import MAX_MINOR, too_large_message

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
