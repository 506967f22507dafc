"""Records that share a reference token: position pairs, and the groups they resolve into.

Tokens are joined exactly (the stored normalised token) or loosely (leading zeros inside digit
runs ignored, a truncated id matching by prefix); pairs become 1:1, 1:N and N:1 groups, while
many-to-many tangles are left alone.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..working_set import Work

_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")
# A token carried by more records than this is a merchant id or a bank's constant text, not a key.
MAX_TOKEN_FANOUT = 50


def _join_codes(
    lpos: np.ndarray, lcode: np.ndarray, rpos: np.ndarray, rcode: np.ndarray
) -> pd.DataFrame:
    left = pd.DataFrame({"l": lpos, "c": lcode})
    right = pd.DataFrame({"r": rpos, "c": rcode})
    # ignore tokens so common they identify nothing
    lc = left["c"].map(left["c"].value_counts())
    rc = right["c"].map(right["c"].value_counts())
    left = left[lc.to_numpy() <= MAX_TOKEN_FANOUT]
    right = right[rc.to_numpy() <= MAX_TOKEN_FANOUT]
    pairs = left.merge(right, on="c")[["l", "r"]]
    return pairs[pairs["l"] != pairs["r"]]


def _loose(values: np.ndarray) -> np.ndarray:
    """Stored token without leading zeros inside digit runs ("ORD01000001" -> "ORD1000001")."""
    return np.asarray([_LEADING_ZEROS.sub("", v) for v in values], dtype=object)


def token_pairs(
    work: Work, lmask: np.ndarray, rmask: np.ndarray, mode: str, prefix_min: int = 8
) -> pd.DataFrame:
    """Distinct (l, r, how) position pairs sharing a token; how 0 exact, 1 loose, 2 prefix.

    "exact" joins the stored (normalised) tokens; "normalised" also ignores leading zeros inside
    digit runs and accepts a token that is a truncation (>= `prefix_min` characters) of another.
    """
    if mode == "exact":
        lpos, lcode = work.tokens_of(lmask)
        rpos, rcode = work.tokens_of(rmask)
        exact = _join_codes(lpos, lcode, rpos, rcode)
        exact["how"] = 0
        return exact.drop_duplicates(["l", "r"])
    lpos, lval = work.token_values(lmask)
    rpos, rval = work.token_values(rmask)
    if len(lval) == 0 or len(rval) == 0:
        return pd.DataFrame({"l": [], "r": [], "how": []}, dtype=np.int64)
    codes, _ = pd.factorize(np.concatenate([lval, rval]))
    exact = _join_codes(lpos, codes[: len(lval)], rpos, codes[len(lval) :])
    exact["how"] = 0
    parts = [exact]
    lloose, rloose = _loose(lval), _loose(rval)
    codes, _ = pd.factorize(np.concatenate([lloose, rloose]))
    loose = _join_codes(lpos, codes[: len(lloose)], rpos, codes[len(lloose) :])
    loose["how"] = 1
    parts.append(loose)
    if prefix_min > 0:
        parts.append(_prefix_pairs(lpos, lloose, rpos, rloose, prefix_min))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("how", kind="stable").drop_duplicates(["l", "r"])


def _prefix_pairs(
    lpos: np.ndarray, lval: np.ndarray, rpos: np.ndarray, rval: np.ndarray, prefix_min: int
) -> pd.DataFrame:
    """Pairs where one token is a truncated form (prefix, >= prefix_min chars) of the other."""
    found = []
    lser, rser = pd.Series(lval, dtype=object), pd.Series(rval, dtype=object)
    llen, rlen = lser.str.len().to_numpy(), rser.str.len().to_numpy()
    for short_pos, short_val, short_len, long_pos, long_ser, long_len, flip in (
        (lpos, lser, llen, rpos, rser, rlen, False),
        (rpos, rser, rlen, lpos, lser, llen, True),
    ):
        for length in np.unique(short_len[short_len >= prefix_min]):
            s_sel = short_len == length
            l_sel = long_len > length
            if not l_sel.any():
                continue
            a = pd.DataFrame({"p": short_pos[s_sel], "v": short_val[s_sel].to_numpy()})
            b = pd.DataFrame(
                {"q": long_pos[l_sel], "v": long_ser[l_sel].str.slice(0, int(length)).to_numpy()}
            )
            m = a.merge(b, on="v")
            if m.empty:
                continue
            if flip:
                found.append(pd.DataFrame({"l": m["q"], "r": m["p"]}))
            else:
                found.append(pd.DataFrame({"l": m["p"], "r": m["q"]}))
    if not found:
        return pd.DataFrame({"l": [], "r": [], "how": []}, dtype=np.int64)
    out = pd.concat(found, ignore_index=True)
    out["how"] = 2
    return out


def resolve_groups(work: Work, pairs: pd.DataFrame, *, same_currency: bool = True) -> pd.DataFrame:
    """Turn token pairs into 1:1, 1:N and N:1 groups; many-to-many tangles are left alone.

    Returns members (g, pos, role "L"/"R", how) where g is a group key.
    """
    if pairs.empty:
        return pd.DataFrame(columns=["g", "pos", "role", "how"])
    p = pairs.drop_duplicates(["l", "r"])
    lp, rp = p["l"].to_numpy(np.int64), p["r"].to_numpy(np.int64)
    keep = np.sign(work.camt[lp]) == np.sign(work.camt[rp])
    if same_currency:
        keep &= work.cur_code[lp] == work.cur_code[rp]
    keep &= ~work.taken[lp] & ~work.taken[rp]
    keep &= work.drop_blocked(lp, rp)
    p = p[keep]
    if p.empty:
        return pd.DataFrame(columns=["g", "pos", "role", "how"])
    dl = p.groupby("l")["r"].transform("size")
    dr = p.groupby("r")["l"].transform("size")
    p = p.assign(dl=dl.to_numpy(), dr=dr.to_numpy())
    p["max_dr_of_l"] = p.groupby("l")["dr"].transform("max")
    p["max_dl_of_r"] = p.groupby("r")["dl"].transform("max")
    by_left = p[p["max_dr_of_l"] == 1]  # 1:1 and 1:N, keyed by the left record
    by_right = p[(p["max_dl_of_r"] == 1) & (p["dr"] > 1)]  # N:1, keyed by the right record
    parts = []
    if not by_left.empty:
        g = by_left["l"].to_numpy(np.int64) * 2
        parts.append(
            pd.DataFrame({"g": g, "pos": by_left["l"], "role": "L", "how": by_left["how"]})
        )
        parts.append(
            pd.DataFrame({"g": g, "pos": by_left["r"], "role": "R", "how": by_left["how"]})
        )
    if not by_right.empty:
        g = by_right["r"].to_numpy(np.int64) * 2 + 1
        parts.append(
            pd.DataFrame({"g": g, "pos": by_right["l"], "role": "L", "how": by_right["how"]})
        )
        parts.append(
            pd.DataFrame({"g": g, "pos": by_right["r"], "role": "R", "how": by_right["how"]})
        )
    members = pd.concat(parts, ignore_index=True)
    members = members.groupby(["g", "pos", "role"], as_index=False, sort=False)["how"].max()
    return members
