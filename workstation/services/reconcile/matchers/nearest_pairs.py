"""One-to-one pairs by amount and date: equal currency, amount within tolerance, nearest date."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..working_set import allowed_diff

DAY_BITS = 21  # day numbers (days since 1970) stay below 2**21 until the year 7700


def nearest_pairs(
    *,
    lcur: np.ndarray,
    lamt: np.ndarray,
    lday: np.ndarray,
    rcur: np.ndarray,
    ramt: np.ndarray,
    rday: np.ndarray,
    abs_tol: int,
    ppm: int,
    before: int,
    after: int,
    rounds: int = 3,
) -> pd.DataFrame:
    """One-to-one pairs (l, r indices) with equal currency, amount within tolerance and
    r.day - l.day in [-before, after]; exact amounts first, nearest date wins.

    Returns l, r, dd (day difference), diff (r - l amount), ambiguous (another record with the
    same amount was in the window).
    """
    window = max(before, after)
    left = pd.DataFrame({"l": np.arange(len(lcur)), "cur": lcur, "amt": lamt, "day": lday})
    right = pd.DataFrame({"r": np.arange(len(rcur)), "cur": rcur, "amt": ramt, "day": rday})
    right["rday"] = right["day"]
    found: list[pd.DataFrame] = []
    for _ in range(rounds):
        if left.empty or right.empty:
            break
        m = pd.merge_asof(
            left.sort_values("day", kind="stable"),
            right.sort_values("day", kind="stable"),
            on="day",
            by=["cur", "amt"],
            direction="nearest",
            tolerance=window,
        )
        m = m[m["r"].notna()]
        if m.empty:
            break
        m = m.assign(r=m["r"].astype(np.int64), dd=(m["rday"] - m["day"]).astype(np.int64))
        m = m[(m["dd"] >= -before) & (m["dd"] <= after)]
        m = m.assign(add=m["dd"].abs()).sort_values(["add", "l"], kind="stable")
        m = m.drop_duplicates("r")
        if m.empty:
            break
        found.append(pd.DataFrame({"l": m["l"], "r": m["r"], "dd": m["dd"], "diff": 0}))
        left = left[~left["l"].isin(m["l"])]
        right = right[~right["r"].isin(m["r"])]
    if (abs_tol > 0 or ppm > 0) and not left.empty and not right.empty:
        tol = int(allowed_diff(left["amt"].to_numpy(), abs_tol, ppm).max())
        m = pd.merge_asof(
            left.sort_values("amt", kind="stable"),
            right.rename(columns={"amt": "ramt"})
            .assign(amt=right["amt"])
            .sort_values("amt", kind="stable")[["r", "cur", "amt", "ramt", "rday"]],
            on="amt",
            by="cur",
            direction="nearest",
            tolerance=tol,
        )
        m = m[m["r"].notna()]
        if not m.empty:
            m = m.assign(
                r=m["r"].astype(np.int64),
                dd=(m["rday"] - m["day"]).astype(np.int64),
                diff=(m["ramt"] - m["amt"]).astype(np.int64),
            )
            allow = allowed_diff(m["amt"].to_numpy(), abs_tol, ppm)
            m = m[(m["dd"] >= -before) & (m["dd"] <= after) & (m["diff"].abs() <= allow)]
            m = m.assign(adiff=m["diff"].abs(), add=m["dd"].abs())
            m = m.sort_values(["adiff", "add", "l"], kind="stable").drop_duplicates("r")
            found.append(m[["l", "r", "dd", "diff"]])
    if not found:
        return pd.DataFrame({"l": [], "r": [], "dd": [], "diff": [], "ambiguous": []})
    out = pd.concat(found, ignore_index=True).astype(np.int64)
    out["ambiguous"] = (
        _window_counts(
            rcur, ramt, rday, lcur[out["l"]], lamt[out["l"]], lday[out["l"]], -before, after
        )
        > 1
    ) | (
        _window_counts(
            lcur, lamt, lday, rcur[out["r"]], ramt[out["r"]], rday[out["r"]], -after, before
        )
        > 1
    )
    return out


def _window_counts(
    cur: np.ndarray,
    amt: np.ndarray,
    day: np.ndarray,
    qcur: np.ndarray,
    qamt: np.ndarray,
    qday: np.ndarray,
    lo: int,
    hi: int,
) -> np.ndarray:
    """For each query, how many (cur, amt) equal records lie within [qday + lo, qday + hi]."""
    if len(qcur) == 0:
        return np.zeros(0, dtype=np.int64)
    keys = pd.MultiIndex.from_arrays([np.r_[cur, qcur], np.r_[amt, qamt]])
    codes, _ = pd.factorize(keys)
    gc, gq = codes[: len(cur)].astype(np.int64), codes[len(cur) :].astype(np.int64)
    base = np.int64(1) << DAY_BITS
    sorted_keys = np.sort(gc * base + day)
    low = np.searchsorted(sorted_keys, gq * base + qday + lo, "left")
    high = np.searchsorted(sorted_keys, gq * base + qday + hi, "right")
    return high - low
