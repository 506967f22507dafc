"""Column conversions for the bulk insert, vectorised: text, dates, timestamps, integers.

Arrow kernels do the work (they release the GIL, and make no Python object per value until the
driver needs one); `GIL_STEP` bounds the work done between two releases of the GIL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Rows per step of work that holds the GIL (building Python rows, hashing): a step of 25k rows
# takes ~10-30 ms, so the UI thread gets the interpreter back well within a frame or two.
GIL_STEP = 25_000


def strings(values: pd.Series) -> pa.Array:
    """A pandas column as an arrow string array (None for nulls)."""
    try:
        arr = pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # mixed types: numbers in an id column
        arr = pa.array(
            values.where(values.notna(), None).map(lambda v: v if v is None else str(v)),
            type=pa.string(),
        )
    if isinstance(arr, pa.ChunkedArray):  # arrow-backed columns built by pd.concat
        arr = arr.combine_chunks()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _arrow(values: pd.Series) -> pa.Array | None:
    """The arrow array behind an arrow-backed column (one chunk), else None."""
    if not isinstance(values.dtype, pd.ArrowDtype):
        return None
    arr = pa.array(values)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def iso_dates(values: pd.Series) -> pd.Series:
    """'YYYY-MM-DD' strings (arrow-backed, null for nulls) from dates, datetimes or text."""
    arr = _arrow(values)
    if arr is not None and (pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type)):
        if pa.types.is_timestamp(arr.type):  # the calendar date where the stamp was taken
            if arr.type.tz is not None:
                arr = pc.local_timestamp(arr)
            arr = arr.cast(pa.date32())
        # a cast prints ISO dates ~10x faster than strftime, and no Python objects are made
        text_vals = arr.cast(pa.date32()).cast(pa.string())
    else:
        days = pd.to_datetime(values, errors="raise").to_numpy(dtype="datetime64[D]")
        text_vals = pa.array(np.datetime_as_string(days, unit="D"), type=pa.string())
        text_vals = pc.if_else(pa.array(np.isnat(days)), pa.scalar(None, pa.string()), text_vals)
    return pd.Series(pd.arrays.ArrowExtensionArray(text_vals), index=values.index)


def utc_texts(values: pd.Series, suffix: str) -> list[str | None]:
    """UTC timestamps as text for the driver; SQLite keeps naive UTC text like UTCDateTime."""
    if values.isna().all():
        return [None] * len(values)
    arr = _arrow(values)
    if arr is None or not pa.types.is_timestamp(arr.type):
        ts = pd.to_datetime(values, utc=True, errors="raise")
        arr = pa.array(ts.dt.tz_convert("UTC"), from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
    if arr.type.tz is not None:  # aware: arrow keeps UTC instants, drop the zone label
        arr = arr.cast(pa.timestamp(arr.type.unit, tz="UTC")).cast(pa.timestamp(arr.type.unit))
    # Microseconds always printed ("...:05.000000"), the text UTCDateTime reads back; a cast
    # prints it ~10x faster than strftime.
    text_vals = arr.cast(pa.timestamp("us")).cast(pa.string())
    if suffix:
        text_vals = pc.binary_join_element_wise(text_vals, suffix, "")
    return text_vals.to_pylist()


def ints(values: pd.Series) -> list[int | None]:
    """Integers (None for nulls) for the driver."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":  # not nullable Int64
        return values.tolist()
    return pa.array(values, type=pa.int64(), from_pandas=True).to_pylist()


def raw_texts(values: pd.Series) -> pd.Series:
    """`raw` as JSON text (importers of big files pass text already)."""
    if values.dtype == object and values.map(lambda v: isinstance(v, dict | list)).any():
        return values.map(
            lambda v: (
                json.dumps(v, default=str, ensure_ascii=False) if isinstance(v, dict | list) else v
            )
        )
    return values


def row_slice(
    df: pd.DataFrame, start: int, count: int, columns: Iterable[str]
) -> dict[str, pd.Series]:
    """Rows start..start+count of some columns, sliced column by column.

    `df.iloc[a:b]` on a wide frame of mixed columns may first consolidate all its blocks (a
    copy of the whole frame, holding the GIL); slicing single columns never does.
    """
    return {c: df[c].iloc[start : start + count] for c in columns}


def pylist(col: pa.ChunkedArray) -> list[Any]:
    """Python values of a column; dictionary columns decoded through their few values (an
    arrow dictionary array's own to_pylist is ~50x slower)."""
    arr = col.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        names = np.asarray(arr.dictionary.to_pylist(), dtype=object)
        return list(names[arr.indices.to_numpy(zero_copy_only=False)])
    return arr.to_pylist()
