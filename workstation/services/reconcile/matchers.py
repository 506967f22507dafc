"""The rule kinds of the cascade, each a vectorised function over the working set.

reference: shared reference token (exact stored token; or normalised: leading zeros inside ids,
truncated ids by prefix); payout: one bank credit for one PSP payout batch; fx: reference pairs
whose amounts differ by the PSP fee or an exchange rate; window: amount + date window;
subset: one record equal to the sum of 2..k narrowed candidates. Every function proposes through
`Work.propose` and returns the counts of what it proposed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ...money import format_minor
from ..common import fx_rates as fxsvc
from ..common.reference_tokens import normalise
from .rules import RuleSpec, pct_to_ppm
from .working_set import SIDE_CODES, Work, allowed_diff

Counts = tuple[int, int, int, int]
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")
# A token carried by more records than this is a merchant id or a bank's constant text, not a key.
MAX_TOKEN_FANOUT = 50
_DAY_BITS = 21  # day numbers (days since 1970) stay below 2**21 until the year 7700


def _empty_groups() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        pd.DataFrame(columns=["g", "status", "confidence", "difference", "currency", "note"]),
        pd.DataFrame(columns=["g", "pos", "amount"]),
    )


def _labels(choice: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """names[choice] as an object array that shares the few name strings (taking from a tiny
    object array makes no new Python objects, unlike `np.select(...).astype(object)`)."""
    return np.asarray(names, dtype=object)[choice]


def _status(strong: np.ndarray, rule: RuleSpec) -> np.ndarray:
    return _labels(np.where(strong & rule.auto_confirm, 0, 1), ("auto", "suggested"))


# --- token pairs ----------------------------------------------------------------------------


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


def _group_totals(work: Work, members: pd.DataFrame, amount: np.ndarray) -> pd.DataFrame:
    pos = members["pos"].to_numpy(np.int64)
    signed = np.where(members["role"].to_numpy() == "L", -amount[pos], amount[pos])
    frame = pd.DataFrame(
        {
            "g": members["g"].to_numpy(),
            "diff": signed,
            "left": np.where(members["role"].to_numpy() == "L", amount[pos], 0),
            "how": members["how"].to_numpy(np.int64),
            "cur": np.where(members["role"].to_numpy() == "L", work.cur_code[pos], -1),
            "n": 1,
        }
    )
    return frame.groupby("g", sort=False).agg(
        diff=("diff", "sum"),
        left=("left", "sum"),
        how=("how", "max"),
        cur=("cur", "max"),
        n=("n", "sum"),
    )


# --- 1. reference -------------------------------------------------------------------------


def reference(work: Work, rule: RuleSpec) -> Counts:
    """Records sharing a reference token, amounts equal within tolerance."""
    mode = str(rule.get("mode", "exact"))
    prefix_min = int(rule.get("prefix_min", 8))
    abs_tol, ppm = rule.tolerance()
    total = (0, 0, 0, 0)
    for a, b in rule.pairs():
        pairs = token_pairs(work, work.side_mask(a, b), work.side_mask(b, a), mode, prefix_min)
        members = resolve_groups(work, pairs)
        if members.empty:
            continue
        tot = _group_totals(work, members, work.camt)
        ok = np.abs(tot["diff"].to_numpy()) <= allowed_diff(tot["left"].to_numpy(), abs_tol, ppm)
        tot = tot[ok]
        if tot.empty:
            continue
        how = tot["how"].to_numpy()
        conf = np.select([how == 0, how == 1], [100, 95], 90) - np.where(tot["n"] > 2, 5, 0)
        notes = _labels(
            np.select([how == 0, how == 1], [0, 1], 2),
            ("same reference", "same reference (leading zeros)", "same reference (truncated id)"),
        )
        groups = pd.DataFrame(
            {
                "g": tot.index.to_numpy(),
                "status": _status(np.ones(len(tot), bool), rule),
                "confidence": conf,
                "difference": tot["diff"].to_numpy(np.int64),
                "currency": work.currencies[tot["cur"].to_numpy(np.int64)],
                "note": notes,
            }
        )
        mem = members[members["g"].isin(groups["g"])]
        mem = mem.assign(amount=work.camt[mem["pos"].to_numpy(np.int64)])
        total = _add(total, work.propose(rule.name, groups, mem))
    return total


def _add(a: Counts, b: Counts) -> Counts:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])


# --- 2. payout grouping -------------------------------------------------------------------


def _bigram_tokens(pos: np.ndarray, texts: np.ndarray) -> pd.DataFrame:
    """Normalised words and adjacent word pairs of bank texts ("BATCH 123" -> "BATCH123")."""
    if len(pos) == 0:
        return pd.DataFrame({"pos": [], "v": []})
    words = pd.Series(texts, dtype=object).str.upper().str.split(r"[^0-9A-Z]+", regex=True)
    ex = words.explode()
    ex = ex[ex.notna() & (ex != "")]
    owner = pos[ex.index.to_numpy()]
    vals = ex.to_numpy(dtype=object)
    nxt_same = np.r_[owner[1:] == owner[:-1], False]
    bigrams = np.where(nxt_same, vals + np.r_[vals[1:], [""]], None)
    frame = pd.DataFrame(
        {
            "pos": np.r_[owner, owner[nxt_same]],
            "v": np.r_[vals, bigrams[nxt_same]],
        }
    )
    return frame[frame["v"].str.len() >= 4]


def payout_table(work: Work, db_totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Open PSP payouts: one row per payout_ref with its payout line and expected bank amount.

    Sums come from the loaded lines; `db_totals` (payout_ref, net, gross, day, currency) replaces
    them for payouts whose lines are not all loaded (see engine.load_payout_totals).
    """
    psp = (work.side == SIDE_CODES["psp"]) & (work.payout_ref != "")
    idx = np.flatnonzero(psp)
    if len(idx) == 0:
        return pd.DataFrame(
            columns=["ref", "line", "expected", "gross", "day", "cur", "n_lines", "src"]
        )
    f = pd.DataFrame(
        {
            "ref": work.payout_ref[idx],
            "pos": idx,
            "line": np.where(work.is_transfer[idx], idx, -1),
            "net": np.where(work.is_transfer[idx], 0, work.net[idx]),
            "gross": np.where(work.is_transfer[idx], 0, work.amount[idx]),
            "payout_amt": np.where(work.is_transfer[idx], work.amount[idx], 0),
            "day": work.day[idx],
            "pday": np.where(work.is_transfer[idx], work.day[idx], -1),
            "cur": work.cur_code[idx],
            "n": (~work.is_transfer[idx]).astype(np.int64),
            "src": work.source_id[idx],
        }
    )
    t = f.groupby("ref", sort=False).agg(
        line=("line", "max"),
        net=("net", "sum"),
        gross=("gross", "sum"),
        payout_amt=("payout_amt", "sum"),
        day=("day", "max"),
        pday=("pday", "max"),
        cur=("cur", "first"),
        n_lines=("n", "sum"),
        src=("src", "first"),
    )
    if db_totals is not None and not db_totals.empty:
        d = db_totals.set_index("ref")
        common = t.index.intersection(d.index)
        t.loc[common, "net"] = d.loc[common, "net"].to_numpy()
        t.loc[common, "gross"] = d.loc[common, "gross"].to_numpy()
        t.loc[common, "n_lines"] = d.loc[common, "n_lines"].to_numpy()
        t.loc[common, "day"] = np.maximum(t.loc[common, "day"], d.loc[common, "day"].to_numpy())
    has_line = t["line"].to_numpy() >= 0
    t["expected"] = np.where(has_line, -t["payout_amt"].to_numpy(), t["net"].to_numpy())
    t["day"] = np.where(has_line, t["pday"].to_numpy(), t["day"].to_numpy())
    t = t.reset_index()
    # a payout whose line is already settled is not open
    if len(t):
        line = t["line"].to_numpy(np.int64)
        settled = (line >= 0) & work.taken[np.maximum(line, 0)]
        t = t[~settled]
    return t


def payout(work: Work, rule: RuleSpec, db_totals: pd.DataFrame | None = None) -> Counts:
    """One bank credit <-> one PSP payout (its payout line and the payout's other open lines)."""
    abs_tol, ppm = rule.tolerance()
    before, after = int(rule.get("days_before", 1)), int(rule.get("days_after", 5))
    table = payout_table(work, db_totals).reset_index(drop=True)
    bank = np.flatnonzero((work.side == SIDE_CODES["bank"]) & ~work.taken & (work.amount > 0))
    if table.empty or len(bank) == 0:
        return (0, 0, 0, 0)
    table["key"] = [normalise(r) for r in table["ref"]]
    table["t"] = np.arange(len(table))
    # by id: stored tokens of the bank line plus words/bigrams of its text
    bmask = np.zeros(work.n, dtype=bool)
    bmask[bank] = True
    tpos, tval = work.token_values(bmask)
    toks = pd.concat(
        [
            pd.DataFrame({"pos": tpos, "v": tval}),
            _bigram_tokens(bank, work.description[bank]),
        ],
        ignore_index=True,
    ).drop_duplicates()
    hits = toks.merge(table[["key", "t"]], left_on="v", right_on="key")[["pos", "t"]]
    hits = hits.drop_duplicates()
    if not hits.empty:
        keep = work.drop_blocked(
            hits["pos"].to_numpy(np.int64),
            np.maximum(table["line"].to_numpy(np.int64)[hits["t"].to_numpy()], 0),
        ) | (table["line"].to_numpy()[hits["t"].to_numpy()] < 0)
        hits = hits[keep]
    dpos = hits.groupby("pos")["t"].transform("size")
    dt_ = hits.groupby("t")["pos"].transform("size")
    one = hits[(dpos == 1).to_numpy() & (dt_ == 1).to_numpy()]
    chosen: list[pd.DataFrame] = []
    if not one.empty:
        t = table.iloc[one["t"].to_numpy()]
        bpos = one["pos"].to_numpy(np.int64)
        same_cur = work.cur_code[bpos] == t["cur"].to_numpy()
        diff = work.amount[bpos] - t["expected"].to_numpy(np.int64)
        allow = allowed_diff(t["expected"].to_numpy(np.int64), abs_tol, ppm)
        ok = same_cur & (np.abs(diff) <= allow)
        gdiff = work.amount[bpos] - t["gross"].to_numpy(np.int64)
        ok_gross = same_cur & ~ok & (np.abs(gdiff) <= allow)
        sel = ok | ok_gross
        exact = ok & (diff == 0)
        conf = np.where(exact, 100, np.where(ok, 90, 70))
        chosen.append(
            pd.DataFrame(
                {
                    "bank": bpos[sel],
                    "t": one["t"].to_numpy()[sel],
                    "strong": exact[sel],
                    "confidence": conf[sel],
                    "difference": np.where(ok, diff, gdiff)[sel],
                    "basis": np.where(ok, "by payout id", "by payout id, gross amount")[sel],
                }
            )
        )
    # no id in the text: amount + date window against payouts not found by id
    found_bank = set(hits["pos"].tolist())
    found_t = set(hits["t"].tolist())
    rest_bank = np.setdiff1d(bank, np.fromiter(found_bank, dtype=np.int64, count=len(found_bank)))
    rest_t = table[~table["t"].isin(found_t)]
    if len(rest_bank) and not rest_t.empty:
        pairs = nearest_pairs(
            lcur=rest_t["cur"].to_numpy(np.int64),
            lamt=rest_t["expected"].to_numpy(np.int64),
            lday=rest_t["day"].to_numpy(np.int64),
            rcur=work.cur_code[rest_bank],
            ramt=work.amount[rest_bank],
            rday=work.day[rest_bank],
            abs_tol=abs_tol,
            ppm=ppm,
            before=before,
            after=after,
        )
        if not pairs.empty:
            bpos = rest_bank[pairs["r"].to_numpy()]
            tt = rest_t["t"].to_numpy()[pairs["l"].to_numpy()]
            keep = work.drop_blocked(bpos, np.maximum(table["line"].to_numpy(np.int64)[tt], 0)) | (
                table["line"].to_numpy()[tt] < 0
            )
            dd = pairs["dd"].to_numpy()
            conf = 75 - 5 * np.abs(dd - 1) - np.where(pairs["ambiguous"].to_numpy(), 20, 0)
            conf -= np.where(pairs["diff"].to_numpy() != 0, 10, 0)
            chosen.append(
                pd.DataFrame(
                    {
                        "bank": bpos[keep],
                        "t": tt[keep],
                        "strong": np.zeros(int(keep.sum()), dtype=bool),
                        "confidence": conf[keep],
                        "difference": pairs["diff"].to_numpy()[keep],
                        "basis": "by amount and date",
                    }
                )
            )
    if not chosen:
        return (0, 0, 0, 0)
    c = pd.concat(chosen, ignore_index=True)
    t = table.iloc[c["t"].to_numpy()].reset_index(drop=True)
    g = c["bank"].to_numpy(np.int64)
    notes = [
        f"payout {ref}: {basis}; {n} line(s), expected {format_minor(int(e), work.currencies[cur])}"
        for ref, basis, n, e, cur in zip(
            t["ref"], c["basis"], t["n_lines"], t["expected"], t["cur"], strict=True
        )
    ]
    groups = pd.DataFrame(
        {
            "g": g,
            "status": _status(c["strong"].to_numpy(bool), rule),
            "confidence": c["confidence"].to_numpy(np.int64),
            "difference": c["difference"].to_numpy(np.int64),
            "currency": work.currencies[t["cur"].to_numpy(np.int64)],
            "note": np.asarray(notes, dtype=object),
        }
    )
    # members: the bank line, the payout line, and the payout's other open non-charge lines
    parts = [pd.DataFrame({"g": g, "pos": g, "amount": work.amount[g]})]
    line = t["line"].to_numpy(np.int64)
    has = line >= 0
    parts.append(pd.DataFrame({"g": g[has], "pos": line[has], "amount": work.amount[line[has]]}))
    other = np.flatnonzero(
        (work.side == SIDE_CODES["psp"])
        & ~work.taken
        & ~work.is_transfer
        & ~work.is_charge
        & (work.payout_ref != "")
    )
    if len(other):
        ref_to_g = pd.Series(g, index=t["ref"].to_numpy())
        ref_to_g = ref_to_g[~ref_to_g.index.duplicated()]
        og = pd.Series(work.payout_ref[other]).map(ref_to_g)
        sel = og.notna().to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "g": og[sel].to_numpy(np.int64),
                    "pos": other[sel],
                    "amount": work.net[other[sel]],
                }
            )
        )
    members = pd.concat(parts, ignore_index=True)
    return work.propose(rule.name, groups, members)


# --- amount + date nearest pairs -----------------------------------------------------------


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
    base = np.int64(1) << _DAY_BITS
    sorted_keys = np.sort(gc * base + day)
    low = np.searchsorted(sorted_keys, gq * base + qday + lo, "left")
    high = np.searchsorted(sorted_keys, gq * base + qday + hi, "right")
    return high - low


# --- 3. fee / FX aware reference ----------------------------------------------------------


def fx(work: Work, rule: RuleSpec) -> Counts:
    """Reference pairs whose amounts differ: explained by the PSP fee (net), the line's original
    currency amount, or the rate table; unexplained differences are suggested at low confidence."""
    abs_tol, ppm = rule.tolerance()
    fx_ppm = pct_to_ppm(rule.get("fx_pct_tolerance", "2"))
    unexplained = bool(rule.get("suggest_unexplained", True))
    total = (0, 0, 0, 0)
    for a, b in rule.pairs():
        pairs = token_pairs(work, work.side_mask(a, b), work.side_mask(b, a), "normalised", 0)
        members = resolve_groups(work, pairs, same_currency=False)
        if members.empty:
            continue
        sizes = members.groupby("g")["pos"].transform("size")
        members = members[sizes.to_numpy() == 2]  # one-to-one only
        if members.empty:
            continue
        lm = members[members["role"] == "L"].set_index("g")["pos"]
        rm = members[members["role"] == "R"].set_index("g")["pos"]
        g = lm.index.intersection(rm.index)
        lp, rp = lm.loc[g].to_numpy(np.int64), rm.loc[g].to_numpy(np.int64)
        lamt = work.camt[lp]
        allow = allowed_diff(lamt, abs_tol, ppm)
        same = work.cur_code[lp] == work.cur_code[rp]
        d_gross = work.camt[rp] - lamt
        d_net = np.where(work.is_transfer[rp], -work.net[rp], work.net[rp]) - lamt
        d_orig = np.where(work.is_transfer[rp], -work.orig_amount[rp], work.orig_amount[rp]) - lamt
        orig_ok = (work.orig_currency[rp] == work.currency[lp]) & (work.orig_amount[rp] != 0)
        ok_gross = same & (np.abs(d_gross) <= allow)
        ok_net = same & ~ok_gross & (work.fee[rp] != 0) & (np.abs(d_net) <= allow)
        ok_orig = ~same & orig_ok & (np.abs(d_orig) <= allow)
        d_rate, ok_rate, rates = _rate_diff(work, lp, rp, ~same & ~ok_orig, fx_ppm)
        basis = _labels(
            np.select([ok_gross, ok_net, ok_orig, ok_rate], [0, 1, 2, 3], 4),
            (
                "same amount",
                "net of fee",
                "original currency amount",
                "exchange rate",
                "unexplained",
            ),
        )
        diff = np.select([ok_gross, ok_net, ok_orig, ok_rate], [d_gross, d_net, d_orig, d_rate], 0)
        diff = np.where(basis == "unexplained", np.where(same, d_gross, 0), diff).astype(np.int64)
        explained = basis != "unexplained"
        conf = np.select(
            [ok_gross, ok_net, ok_orig, ok_rate], [95, 85, 85, 80], np.where(same, 40, 30)
        )
        sel = explained | unexplained
        if not sel.any():
            continue
        notes = []
        for i in np.flatnonzero(sel):
            cur = work.currency[lp[i]]
            if basis[i] == "net of fee":
                notes.append(f"compared net of fee {format_minor(int(work.fee[rp[i]]), cur)}")
            elif basis[i] == "exchange rate":
                notes.append(
                    f"converted {work.currency[rp[i]]}->{cur} at "
                    f"{rates[i] / fxsvc.RATE_SCALE:.6f}"  # display only
                )
            elif basis[i] == "unexplained":
                notes.append(
                    f"same reference, amounts differ by {format_minor(int(diff[i]), cur)}"
                    if same[i]
                    else f"same reference, {work.currency[rp[i]]} vs {cur}, no rate"
                )
            else:
                notes.append(f"same reference, {basis[i]}")
        groups = pd.DataFrame(
            {
                "g": np.asarray(g)[sel],
                "status": _status(explained[sel], rule),
                "confidence": conf[sel],
                "difference": diff[sel],
                "currency": work.currency[lp[sel]],
                "note": np.asarray(notes, dtype=object),
            }
        )
        mem = members[members["g"].isin(groups["g"])]
        mem = mem.assign(amount=work.camt[mem["pos"].to_numpy(np.int64)])
        total = _add(total, work.propose(rule.name, groups, mem))
    return total


def _rate_diff(
    work: Work, lp: np.ndarray, rp: np.ndarray, need: np.ndarray, fx_ppm: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference after converting the right amount into the left currency with the rate table."""
    n = len(lp)
    diff = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    rates = np.zeros(n, dtype=object)
    idx = np.flatnonzero(need)
    if len(idx) == 0 or work.fx_rates is None or work.fx_rates.empty:
        return diff, ok, rates
    frame = pd.DataFrame(
        {
            "day": pd.to_datetime(work.day[rp[idx]], unit="D"),
            "base": work.currency[rp[idx]],
            "quote": work.currency[lp[idx]],
            "amt": work.camt[rp[idx]],
            "i": idx,
        }
    )
    for (src, dst), part in frame.groupby(["base", "quote"]):
        found = fxsvc.lookup(work.fx_rates, part["day"], part["base"], part["quote"])
        conv = fxsvc.convert_minor(part["amt"].to_numpy(np.int64), found, str(src), str(dst))
        for j, i in enumerate(part["i"].to_numpy()):
            if conv[j] is None:
                continue
            d = int(conv[j]) - int(work.camt[lp[i]])
            diff[i] = d
            rates[i] = found.iloc[j]
            ok[i] = abs(d) <= int(allowed_diff(np.array([work.camt[lp[i]]]), 0, fx_ppm)[0])
    return diff, ok, rates


# --- 4. amount + date window ---------------------------------------------------------------


def window(work: Work, rule: RuleSpec) -> Counts:
    """Same currency, amount within tolerance, date within the window; nearest date wins."""
    abs_tol, ppm = rule.tolerance()
    before, after = int(rule.get("days_before", 1)), int(rule.get("days_after", 4))
    min_sim = int(rule.get("min_similarity", 0))
    total = (0, 0, 0, 0)
    for a, b in rule.pairs():
        lpos = np.flatnonzero(work.side_mask(a, b))
        rpos = np.flatnonzero(work.side_mask(b, a))
        if len(lpos) == 0 or len(rpos) == 0:
            continue
        pairs = nearest_pairs(
            lcur=work.cur_code[lpos] * 2 + (work.camt[lpos] > 0),
            lamt=np.abs(work.camt[lpos]),
            lday=work.day[lpos],
            rcur=work.cur_code[rpos] * 2 + (work.camt[rpos] > 0),
            ramt=np.abs(work.camt[rpos]),
            rday=work.day[rpos],
            abs_tol=abs_tol,
            ppm=ppm,
            before=before,
            after=after,
        )
        if pairs.empty:
            continue
        lp = lpos[pairs["l"].to_numpy()]
        rp = rpos[pairs["r"].to_numpy()]
        keep = work.drop_blocked(lp, rp)
        sim = np.full(len(lp), -1, dtype=np.int64)
        if min_sim > 0 and work.counterparty is not None:
            from rapidfuzz import fuzz, process

            sim = process.cpdist(
                list(work.counterparty[lp]),
                list(work.counterparty[rp]),
                scorer=fuzz.token_set_ratio,
                workers=1,
            ).astype(np.int64)
            keep &= sim >= min_sim
        lp, rp, sim = lp[keep], rp[keep], sim[keep]
        dd = pairs["dd"].to_numpy()[keep]
        diff = (work.camt[rp] - work.camt[lp]).astype(np.int64)
        amb = pairs["ambiguous"].to_numpy(bool)[keep]
        conf = 75 - 5 * np.abs(dd) - np.where(amb, 20, 0) - np.where(diff != 0, 10, 0)
        conf += np.where(sim >= 90, 10, 0)
        strong = (dd == 0) & ~amb & (diff == 0)
        notes = np.asarray(
            [
                f"amount {'equal' if df == 0 else 'within tolerance'}, date {int(d):+d} d"
                + (", same amount nearby" if am else "")
                + (f", names {int(s)} % alike" if s >= 0 else "")
                for df, d, am, s in zip(diff, dd, amb, sim, strict=True)
            ],
            dtype=object,
        )
        g = lp.astype(np.int64)
        groups = pd.DataFrame(
            {
                "g": g,
                "status": _status(strong, rule),
                "confidence": conf,
                "difference": diff,
                "currency": work.currency[lp],
                "note": notes,
            }
        )
        members = pd.DataFrame(
            {
                "g": np.r_[g, g],
                "pos": np.r_[lp, rp],
                "amount": np.r_[work.camt[lp], work.camt[rp]],
            }
        )
        total = _add(total, work.propose(rule.name, groups, members))
    return total


# --- 5. subset sum -------------------------------------------------------------------------

_COMBOS: dict[tuple[int, int], np.ndarray] = {}


def _combos(n: int, k: int) -> np.ndarray:
    key = (n, k)
    if key not in _COMBOS:
        _COMBOS[key] = np.array(list(itertools.combinations(range(n), k)), dtype=np.int16)
    return _COMBOS[key]


def subset(work: Work, rule: RuleSpec, progress: Callable[[], None] | None = None) -> Counts:
    """One record equal to the sum of 2..max_members records of the other side (bounded search).

    Candidates are narrowed to same currency, same sign, smaller amount and the date window;
    targets with more than `max_candidates` candidates are skipped. A total hit by more than one
    subset is flagged and proposed at low confidence; subset matches are never auto-confirmed.
    """
    abs_tol, ppm = rule.tolerance()
    before, after = int(rule.get("days_before", 3)), int(rule.get("days_after", 5))
    cap = int(rule.get("max_candidates", 20))
    kmax = max(2, min(int(rule.get("max_members", 4)), cap))
    max_targets = int(rule.get("max_targets", 20000))
    total = (0, 0, 0, 0)
    for a, b in rule.pairs():
        for one, many in ((a, b), (b, a)):
            tmask = work.side_mask(one, many)
            pmask = work.side_mask(many, one)
            targets = np.flatnonzero(tmask)[:max_targets]
            pool = np.flatnonzero(pmask)
            if len(targets) == 0 or len(pool) < 2:
                continue
            found = _subset_search(
                work, targets, pool, one == a, abs_tol, ppm, before, after, cap, kmax
            )
            if progress is not None:
                progress()
            if found is None:
                continue
            groups, members = found
            total = _add(total, work.propose(rule.name, groups, members))
    return total


def _subset_search(
    work: Work,
    targets: np.ndarray,
    pool: np.ndarray,
    target_is_left: bool,
    abs_tol: int,
    ppm: int,
    before: int,
    after: int,
    cap: int,
    kmax: int,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    # window of each target in the pool sorted by (currency, sign, day); day offsets are
    # measured from the left record to the right one
    base = np.int64(1) << _DAY_BITS
    pg = (work.cur_code[pool] * 2 + (work.camt[pool] > 0)).astype(np.int64)
    order = np.argsort(pg * base + work.day[pool], kind="stable")
    pool = pool[order]
    pkey = (pg[order] * base + work.day[pool]).astype(np.int64)
    tg = (work.cur_code[targets] * 2 + (work.camt[targets] > 0)).astype(np.int64)
    lo_off, hi_off = (-before, after) if target_is_left else (-after, before)
    lo = np.searchsorted(pkey, tg * base + work.day[targets] + lo_off, "left")
    hi = np.searchsorted(pkey, tg * base + work.day[targets] + hi_off, "right")
    width = 4 * cap
    cnt = hi - lo
    sel = (cnt >= 2) & (cnt <= width)
    targets, lo, cnt = targets[sel], lo[sel], cnt[sel]
    if len(targets) == 0:
        return None
    cols = np.arange(width)
    idx = lo[:, None] + cols[None, :]
    valid = cols[None, :] < cnt[:, None]
    idx = np.where(valid, idx, 0)
    cand = pool[idx]
    tamt = np.abs(work.camt[targets])
    camt = np.abs(work.camt[cand])
    valid &= camt < tamt[:, None]
    nvalid = valid.sum(axis=1)
    keep = (nvalid >= 2) & (nvalid <= cap)
    targets, cand, camt, valid, tamt = (
        targets[keep],
        cand[keep],
        camt[keep],
        valid[keep],
        tamt[keep],
    )
    if len(targets) == 0:
        return None
    # compact valid candidates to the left, cap columns
    order = np.argsort(~valid, axis=1, kind="stable")[:, :cap]
    cand = np.take_along_axis(cand, order, axis=1)
    camt = np.take_along_axis(camt, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    sentinel = np.int64(1) << 50
    amounts = np.where(valid, camt, sentinel).astype(np.int64)
    allow = allowed_diff(tamt, abs_tol, ppm)
    n = amounts.shape[1]
    best_k = np.zeros(len(targets), dtype=np.int64)
    best_c = np.zeros(len(targets), dtype=np.int64)
    hits_total = np.zeros(len(targets), dtype=np.int64)
    combos_by_k = {k: _combos(n, k) for k in range(2, min(kmax, n) + 1)}
    chunk = max(1, 2_000_000 // max(len(c) for c in combos_by_k.values()))
    for start in range(0, len(targets), chunk):
        sl = slice(start, start + chunk)
        amt = amounts[sl]
        for k, combos in combos_by_k.items():
            sums = amt[:, combos].sum(axis=2)
            hit = np.abs(sums - tamt[sl, None]) <= allow[sl, None]
            nh = hit.sum(axis=1)
            first = np.argmax(hit, axis=1)
            new = (nh > 0) & (best_k[sl] == 0)
            bk = best_k[sl]
            bc = best_c[sl]
            bk[new] = k
            bc[new] = first[new]
            best_k[sl], best_c[sl] = bk, bc
            hits_total[sl] += nh
    found = best_k > 0
    if not found.any():
        return None
    rows: list[pd.DataFrame] = []
    gid = targets[found].astype(np.int64)
    for k in np.unique(best_k[found]):
        sel = found & (best_k == k)
        combo = combos_by_k[int(k)][best_c[sel]]
        picked = np.take_along_axis(cand[sel], combo.astype(np.int64), axis=1)
        g = targets[sel].astype(np.int64)
        rows.append(
            pd.DataFrame({"g": np.repeat(g, int(k)), "pos": picked.ravel(), "order": int(k)})
        )
    many = pd.concat(rows, ignore_index=True)
    unique = hits_total[found] == 1
    frame = pd.DataFrame({"g": gid, "unique": unique, "k": best_k[found]})
    # conflicts: a record picked by two targets stays with the better (unique, smaller) one
    frame = frame.sort_values(["unique", "k", "g"], ascending=[False, True, True], kind="stable")
    rank = pd.Series(np.arange(len(frame)), index=frame["g"].to_numpy())
    many["rank"] = many["g"].map(rank).to_numpy()
    owner = many.groupby("pos")["rank"].transform("min")
    bad = set(many.loc[owner.to_numpy() != many["rank"].to_numpy(), "g"].tolist())
    frame = frame[~frame["g"].isin(bad)]
    many = many[~many["g"].isin(bad)]
    if frame.empty:
        return None
    g = frame["g"].to_numpy(np.int64)
    sums = many.assign(a=work.camt[many["pos"].to_numpy(np.int64)]).groupby("g")["a"].sum()
    tot = sums.reindex(g).to_numpy(np.int64)
    diff = (tot - work.camt[g]) if target_is_left else (work.camt[g] - tot)
    uniq = frame["unique"].to_numpy(bool)
    hits = pd.Series(hits_total[found], index=gid).reindex(g).to_numpy()
    k = frame["k"].to_numpy(np.int64)
    conf = np.where(uniq, 60 - 5 * (k - 2), 20)
    notes = np.asarray(
        [
            f"sum of {int(kk)} lines" + ("" if u else f"; {int(h)} subsets reach this total")
            for kk, u, h in zip(k, uniq, hits, strict=True)
        ],
        dtype=object,
    )
    groups = pd.DataFrame(
        {
            "g": g,
            "status": "suggested",
            "confidence": conf,
            "difference": diff.astype(np.int64),
            "currency": work.currency[g],
            "note": notes,
        }
    )
    members = pd.concat(
        [
            pd.DataFrame({"g": g, "pos": g, "amount": work.camt[g]}),
            pd.DataFrame(
                {
                    "g": many["g"].to_numpy(np.int64),
                    "pos": many["pos"].to_numpy(np.int64),
                    "amount": work.camt[many["pos"].to_numpy(np.int64)],
                }
            ),
        ],
        ignore_index=True,
    )
    return groups, members


MATCHERS: dict[str, Callable[..., Counts]] = {
    "reference": reference,
    "payout": payout,
    "fx": fx,
    "window": window,
    "subset": subset,
}
