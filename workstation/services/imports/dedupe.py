"""Duplicate lines: a fingerprint per line, and which lines are stored already.

A line's fingerprint hashes its account, bank reference (or external id), booking date, amount and
currency; with its occurrence (the n-th equal line of the file) it is the key a second import of
the same lines is recognised by. Changing how it is computed needs a new `FINGERPRINT_VERSION`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from sqlalchemy import text
from sqlalchemy.orm import Session

from .column_conversions import GIL_STEP, row_slice, strings

FINGERPRINT_VERSION = 1
_HASH_KEY = "workstation-fp01"  # pandas' 16-byte hash key; fixed so fingerprints are stable


def fingerprints(df: pd.DataFrame) -> pd.Series:
    """64-bit fingerprint of account, bank reference, date, amount (sign = direction), currency.

    Hashed in steps of rows (a row's hash does not depend on the others) so no single call
    holds the GIL for long.
    """
    out = np.empty(len(df), dtype=np.int64)
    for lo in range(0, len(df), GIL_STEP):
        part = row_slice(df, lo, GIL_STEP, ("bank_ref", "external_id", "source_id", "_booked"))
        part |= row_slice(df, lo, GIL_STEP, ("amount_minor", "currency"))
        ref = part["bank_ref"].where(part["bank_ref"].notna(), part["external_id"])
        key = pd.DataFrame(
            {
                "s": part["source_id"].astype("int64").to_numpy(),
                "r": pd.Series(pc.utf8_trim_whitespace(strings(ref)).to_pylist()).fillna(""),
                "d": part["_booked"].to_numpy(),
                "a": part["amount_minor"].astype("int64").to_numpy(),
                "c": part["currency"].to_numpy(dtype=object),
            }
        )
        hashed = pd.util.hash_pandas_object(key, index=False, hash_key=_HASH_KEY, categorize=False)
        out[lo : lo + len(key)] = hashed.to_numpy().view(np.int64)
    return pd.Series(out, index=df.index)


def rows_frame(rows: Sequence[Sequence[Any]], columns: list[str]) -> pd.DataFrame:
    """A frame of fetched rows, built column-wise.

    `pd.DataFrame(rows)` probes every SQLAlchemy Row for attributes (~30 us a row: 9 s for 300k
    stored lines); transposing with `zip` first is C-level.
    """
    if not rows:
        return pd.DataFrame({c: [] for c in columns})
    return pd.DataFrame(dict(zip(columns, (list(c) for c in zip(*rows, strict=True)), strict=True)))


def already_stored(session: Session, df: pd.DataFrame) -> np.ndarray:
    """Mask of rows whose (source, fingerprint, occurrence) is already stored."""
    conn = session.connection()
    found = []
    for source_id in df["source_id"].unique():
        rows = conn.execute(
            text("SELECT fingerprint, occurrence FROM records WHERE source_id = :s"),
            {"s": int(source_id)},
        ).all()
        if rows:
            part = rows_frame(rows, ["fingerprint", "occurrence"])
            part["source_id"] = int(source_id)
            found.append(part)
    if not found:
        return np.zeros(len(df), dtype=bool)
    existing = pd.concat(found, ignore_index=True).astype("int64")
    keys = df[["source_id", "fingerprint", "occurrence"]].astype("int64")
    merged = keys.merge(
        existing, how="left", on=["source_id", "fingerprint", "occurrence"], indicator=True
    )
    return (merged["_merge"] == "both").to_numpy()
