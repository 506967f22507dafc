"""Column kernels for the demo generator: text columns built with pyarrow, not Python loops.

Every function works on whole columns (numpy in, pyarrow string arrays out), which is what lets
`services.demo.merchant_month` build a million orders in seconds. Values are pasted into JSON text
as they are, so callers only pass text without quotes or backslashes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

EPOCH = dt.date(1970, 1, 1)
DAY = 86_400
B62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
HEX = np.frombuffer(b"0123456789abcdef", np.uint8)

Strs = Any  # a pyarrow string Array (pyarrow is untyped)


def lookup(vocab: Sequence[str], idx: np.ndarray) -> Strs:
    """vocab[idx] as a string array, through a dictionary array (no Python loop)."""
    indices = pa.array(np.asarray(idx, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(vocab), pa.string())).cast(
        pa.string()
    )


def num(values: np.ndarray, width: int = 0) -> Strs:
    """Integers as text, left-padded with zeros to `width` when it is given."""
    text = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(text, width=width, padding="0") if width else text


def cat(*parts: Any) -> Strs:
    """Element-wise concatenation; nulls count as empty strings."""
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def major(minor: np.ndarray) -> Strs:
    """Integer minor units (exponent 2) as major-unit text, e.g. -1234 -> "-12.34"."""
    minor = np.asarray(minor, dtype=np.int64)
    absolute = np.abs(minor)
    sign = lookup(("", "-"), (minor < 0).astype(np.int32))
    return cat(sign, num(absolute // 100), ".", num(absolute % 100, 2))


def chars(rng: np.random.Generator, n: int, width: int, alphabet: np.ndarray) -> Strs:
    """`n` random strings of `width` characters from `alphabet` (ASCII bytes)."""
    codes = alphabet[rng.integers(0, len(alphabet), size=(n, width), dtype=np.uint8)]
    offsets = np.arange(n + 1, dtype=np.int32) * width
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(codes.tobytes()))


def stripe_ids(rng: np.random.Generator, prefix: str, n: int) -> Strs:
    """`n` Stripe-style object ids: `prefix` and 24 base-62 characters."""
    return cat(prefix, chars(rng, n, 24, B62))


def adyen_refs(rng: np.random.Generator, n: int, state: list[int]) -> Strs:
    """Unique, increasing 16-digit PSP references failing the Luhn check (never taken for PANs)."""
    gaps = rng.integers(1, 4_000, size=n, dtype=np.int64)
    body = state[0] + np.cumsum(gaps)  # 15 digits
    state[0] = int(body[-1]) if n else state[0]
    digits = (body[:, None] // 10 ** np.arange(14, -1, -1, dtype=np.int64)) % 10
    # Luhn over body + check digit: the body's rightmost digit is doubled.
    doubled = digits[:, ::-1].copy()
    doubled[:, 0::2] *= 2
    doubled[doubled > 9] -= 9
    valid_check = (10 - doubled.sum(axis=1) % 10) % 10
    check = (valid_check + rng.integers(1, 10, size=n)) % 10
    return num(body * 10 + check)


def series(values: Any) -> pd.Series:
    """A pandas string Series over a pyarrow array (no copy)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pd.Series(pd.arrays.ArrowStringArray(values))


def json_objects(fields: Sequence[tuple[str, Any, bool]]) -> Strs:
    """One flat JSON object per row from (key, values, quoted) columns; values are plain text."""
    parts: list[Any] = []
    for i, (key, values, quoted) in enumerate(fields):
        quote = '"' if quoted else ""
        parts.append(("{" if i == 0 else ",") + f'"{key}":' + quote)
        parts.append(values)
        parts.append(quote)
    parts.append("}")
    merged: list[Any] = []  # adjacent literals joined first: fewer, longer kernel inputs
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif not (isinstance(part, str) and not part):
            merged.append(part)
    return cat(*merged)


class Calendar:
    """Day-number (relative to `start`) to date objects and ISO text, by table lookup."""

    def __init__(self, start: dt.date, horizon: int) -> None:
        self.start = start
        self.dates = np.array([start + dt.timedelta(days=i) for i in range(horizon)], dtype=object)
        self.iso = [d.isoformat() for d in self.dates]
        self.epoch0 = (start - EPOCH).days * DAY

    def date_objs(self, days: np.ndarray) -> pd.Series:
        return pd.Series(self.dates[np.asarray(days, dtype=np.int64)], dtype=object)

    def iso_text(self, days: np.ndarray) -> Strs:
        return lookup(self.iso, days)

    def stamp_text(self, secs: np.ndarray) -> Strs:
        """Epoch seconds -> "YYYY-MM-DD HH:MM:SS" (UTC)."""
        rel = np.asarray(secs, dtype=np.int64) - self.epoch0
        day, tod = np.divmod(rel, DAY)
        return cat(
            self.iso_text(day),
            " ",
            num(tod // 3600, 2),
            ":",
            num(tod // 60 % 60, 2),
            ":",
            num(tod % 60, 2),
        )
