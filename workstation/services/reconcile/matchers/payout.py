"""The payout rule: one bank credit for one PSP payout (its payout line and its other open lines).

A bank line names the payout by id (a stored token, or words and word pairs of its text) or,
without an id, is found by amount and date; the expected amount is the payout's net.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ....money import format_minor
from ...common.reference_tokens import normalise
from ..rules import RuleSpec
from ..working_set import SIDE_CODES, Work, allowed_diff
from .nearest_pairs import nearest_pairs
from .proposals import Counts, status_of


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
    them for payouts whose lines are not all loaded (see candidates.load_payout_totals).
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
            "status": status_of(c["strong"].to_numpy(bool), rule),
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
