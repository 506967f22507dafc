"""Exact measures over small frames: Decimal ratios, weighted median and percentile, filtered sums,
the main currency of a table, and the frame helpers they need."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd


def ratio(num: int | Decimal, den: int | Decimal) -> Decimal | None:
    """Exact num / den as Decimal; None when the denominator is zero."""
    if not den:
        return None
    return Decimal(int(num) if isinstance(num, int | np.integer) else num) / Decimal(
        int(den) if isinstance(den, int | np.integer) else den
    )


def ratios(nums: Sequence[Any], dens: Sequence[Any]) -> list[Decimal | None]:
    """`ratio` of each pair of two columns."""
    return [ratio(a, b) for a, b in zip(nums, dens)]


def weighted_median(values: np.ndarray, weights: np.ndarray) -> Decimal | None:
    """Median of `values` each repeated `weights` times (mean of the two middle ones if even)."""
    v, w = _sorted_weights(values, weights)
    total = int(w.sum())
    if total == 0:
        return None
    cum = np.cumsum(w)
    lo = Decimal(int(v[np.searchsorted(cum, (total + 1) // 2)]))
    hi = Decimal(int(v[np.searchsorted(cum, total // 2 + 1)]))
    return (lo + hi) / 2 if total % 2 == 0 else lo


def weighted_percentile(values: np.ndarray, weights: np.ndarray, pct: int) -> Decimal | None:
    """Nearest-rank percentile: smallest value with at least `pct` % of the weight at or below."""
    v, w = _sorted_weights(values, weights)
    total = int(w.sum())
    if total == 0:
        return None
    rank = max(1, -(-pct * total // 100))  # ceil(pct/100 * total)
    return Decimal(int(v[np.searchsorted(np.cumsum(w), rank)]))


def _sorted_weights(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=np.int64)
    w = np.asarray(weights, dtype=np.int64)
    keep = w > 0
    v, w = v[keep], w[keep]
    order = np.argsort(v, kind="stable")
    return v[order], w[order]


def sum_where(df: pd.DataFrame, col: str, **eq: Any) -> int:
    """Σ `col` over the rows whose columns equal the keyword values (0 for an empty frame)."""
    if df.empty:
        return 0
    mask = np.ones(len(df), dtype=bool)
    for k, v in eq.items():
        mask &= (df[k] == v).to_numpy()
    return int(df.loc[mask, col].sum())


def main_currency(df: pd.DataFrame, col: str) -> str | None:
    """The currency with the largest Σ `col` (ties: alphabetical first); None for no rows."""
    if df.empty or "currency" not in df.columns:
        return None
    g = df.groupby("currency")[col].sum()
    top = g.max()
    return str(sorted(str(k) for k, v in g.items() if v == top)[0])


def empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    """A frame with `columns` and no rows (object columns, like a query that found nothing)."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def as_int64(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`df` with `columns` cast to exact int64 (in place; returned for chaining)."""
    for c in columns:
        df[c] = df[c].astype("int64")
    return df


def text_or_none(value: Any) -> str | None:
    """A frame cell as text; None for NULL (pandas turns NULLs in text columns into NaN)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


def map_unique(values: pd.Series, fn: Callable[[Any], Any]) -> list[Any]:
    """`fn` applied once per distinct value (columns repeat a few values many times)."""
    cache: dict[Any, Any] = {}
    out = []
    for v in values:
        key = None if v is None or (isinstance(v, float) and v != v) else v
        if key not in cache:
            cache[key] = fn(key)
        out.append(cache[key])
    return out
