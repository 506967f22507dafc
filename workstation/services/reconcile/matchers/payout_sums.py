"""Payout shapes beyond one to one: one bank line for several payouts, one payout over two lines.

By id: a bank line that names several payouts (and no other line names them) settles them when
their amounts add up to it; a payout named by several bank lines (each naming only it) is settled
by them when theirs add up to it. Without ids, by amount and date: two payouts of one PSP account
whose amounts add up exactly to one bank line, or two bank lines that add up exactly to one
payout, within the rule's day window; unique sums only, and only among the few payouts and bank
lines the one-to-one shapes left (a pair search over all of them would be quadratic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..rules import RuleSpec
from ..working_set import Work, allowed_diff

# Pair searches stop above this many candidates in one currency (a bank statement with
# thousands of unrelated lines a day would make pairs explode; such lines wait for a clerk).
_MAX_PAIR_SIDE = 400


@dataclass
class Found:
    """Proposed level-2 groups: per group g (a bank position) its bank lines and its payouts."""

    groups: pd.DataFrame  # g, strong, confidence, basis
    banks: pd.DataFrame  # g, pos
    payouts: pd.DataFrame  # g, t

    @staticmethod
    def empty() -> Found:
        return Found(
            pd.DataFrame({"g": [], "strong": [], "confidence": [], "basis": []}),
            pd.DataFrame({"g": np.zeros(0, np.int64), "pos": np.zeros(0, np.int64)}),
            pd.DataFrame({"g": np.zeros(0, np.int64), "t": np.zeros(0, np.int64)}),
        )

    @staticmethod
    def concat(parts: list[Found]) -> Found:
        parts = [p for p in parts if not p.groups.empty]
        if not parts:
            return Found.empty()
        return Found(
            pd.concat([p.groups for p in parts], ignore_index=True),
            pd.concat([p.banks for p in parts], ignore_index=True).astype(np.int64),
            pd.concat([p.payouts for p in parts], ignore_index=True).astype(np.int64),
        )


def id_groups(
    work: Work,
    table: pd.DataFrame,
    hits: pd.DataFrame,
    dpos: np.ndarray,
    dt_: np.ndarray,
    abs_tol: int,
    ppm: int,
) -> Found:
    """Several payouts named by one bank line, or one payout named by several, adding up."""
    expected = table["expected"].to_numpy(np.int64)
    cur = table["cur"].to_numpy(np.int64)
    out: list[Found] = []
    many = hits[(dpos > 1) & (dt_ == 1)]  # one bank line, several payouts only it names
    if not many.empty:
        m = many.assign(e=expected[many["t"].to_numpy()], c=cur[many["t"].to_numpy()])
        agg = m.groupby("pos").agg(e=("e", "sum"), c_min=("c", "min"), c_max=("c", "max"))
        pos = agg.index.to_numpy(np.int64)
        diff = work.amount[pos] - agg["e"].to_numpy(np.int64)
        ok = (
            (agg["c_min"].to_numpy() == agg["c_max"].to_numpy())
            & (agg["c_min"].to_numpy() == work.cur_code[pos])
            & (np.abs(diff) <= allowed_diff(agg["e"].to_numpy(np.int64), abs_tol, ppm))
        )
        g = pos[ok]
        out.append(
            Found(
                pd.DataFrame(
                    {
                        "g": g,
                        "strong": diff[ok] == 0,
                        "confidence": np.where(diff[ok] == 0, 95, 85),
                        "basis": "one bank line for several payouts, by payout id",
                    }
                ),
                pd.DataFrame({"g": g, "pos": g}),
                many[many["pos"].isin(g)].rename(columns={"pos": "g"})[["g", "t"]],
            )
        )
    split = hits[(dpos == 1) & (dt_ > 1)]  # one payout, several bank lines naming only it
    if not split.empty:
        s = split.assign(a=work.amount[split["pos"].to_numpy(np.int64)])
        s = s.assign(c=work.cur_code[s["pos"].to_numpy(np.int64)])
        agg = s.groupby("t").agg(a=("a", "sum"), first=("pos", "min"), c_max=("c", "max"))
        t = agg.index.to_numpy(np.int64)
        diff = agg["a"].to_numpy(np.int64) - expected[t]
        ok = (agg["c_max"].to_numpy() == cur[t]) & (
            np.abs(diff) <= allowed_diff(expected[t], abs_tol, ppm)
        )
        first = agg["first"].to_numpy(np.int64)[ok]
        banks = s[s["t"].isin(t[ok])].merge(pd.DataFrame({"t": t[ok], "g": first}), on="t")[
            ["g", "pos"]
        ]
        out.append(
            Found(
                pd.DataFrame(
                    {
                        "g": first,
                        "strong": diff[ok] == 0,
                        "confidence": np.where(diff[ok] == 0, 95, 85),
                        "basis": "one payout over several bank lines, by payout id",
                    }
                ),
                banks,
                pd.DataFrame({"g": first, "t": t[ok]}),
            )
        )
    return Found.concat(out)


def _unique_pairs(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Pairs (a < b) of one frame's rows in the same currency."""
    p = frame.merge(frame, on="cur", suffixes=("_a", "_b"))
    return p[p[f"{key}_a"] < p[f"{key}_b"]]


def sum_groups(work: Work, table: pd.DataFrame, bank: np.ndarray, rule: RuleSpec) -> Found:
    """Without ids: two payouts in one bank line, one payout over two bank lines (exact sums)."""
    before, after = int(rule.get("days_before", 1)), int(rule.get("days_after", 5))
    if table.empty or len(bank) == 0:
        return Found.empty()
    out: list[Found] = []
    b = pd.DataFrame(
        {"pos": bank, "cur": work.cur_code[bank], "amt": work.amount[bank], "bday": work.day[bank]}
    )
    t = table[["t", "cur", "expected", "day", "src"]].rename(columns={"expected": "amt"})
    if 1 < len(t) <= _MAX_PAIR_SIDE:
        p = _unique_pairs(t, "t")
        p = p[(p["src_a"] == p["src_b"]) & ((p["day_a"] - p["day_b"]).abs() <= after)]
        p = p.assign(amt=p["amt_a"] + p["amt_b"], day=np.maximum(p["day_a"], p["day_b"]))
        m = p.merge(b, on=["cur", "amt"])
        dd = m["bday"] - m["day"]
        m = m[(dd >= -before) & (dd <= after)]
        m = m[~m["pos"].duplicated(keep=False)]  # one pair per bank line
        used = pd.concat([m["t_a"], m["t_b"]])
        m = m[~m["t_a"].isin(used[used.duplicated()]) & ~m["t_b"].isin(used[used.duplicated()])]
        if not m.empty:
            g = m["pos"].to_numpy(np.int64)
            out.append(
                Found(
                    pd.DataFrame(
                        {
                            "g": g,
                            "strong": np.zeros(len(g), dtype=bool),
                            "confidence": 70,
                            "basis": "two payouts in one bank line, by amount and date",
                        }
                    ),
                    pd.DataFrame({"g": g, "pos": g}),
                    pd.DataFrame(
                        {"g": np.r_[g, g], "t": np.r_[m["t_a"].to_numpy(), m["t_b"].to_numpy()]}
                    ),
                )
            )
            bank = np.setdiff1d(bank, g)
            table = table[~table["t"].isin(used)]
            b = b[b["pos"].isin(bank)]
    if 1 < len(b) <= _MAX_PAIR_SIDE and not table.empty:
        p = _unique_pairs(b, "pos")
        p = p[(p["bday_a"] - p["bday_b"]).abs() <= after]
        p = p.assign(amt=p["amt_a"] + p["amt_b"], bday=np.minimum(p["bday_a"], p["bday_b"]))
        tt = table[["t", "cur", "expected", "day"]].rename(columns={"expected": "amt"})
        m = p.merge(tt, on=["cur", "amt"])
        dd = m["bday"] - m["day"]
        m = m[(dd >= -before) & (dd <= after)]
        m = m[~m["t"].duplicated(keep=False)]
        used = pd.concat([m["pos_a"], m["pos_b"]])
        m = m[~m["pos_a"].isin(used[used.duplicated()]) & ~m["pos_b"].isin(used[used.duplicated()])]
        if not m.empty:
            g = m["pos_a"].to_numpy(np.int64)
            out.append(
                Found(
                    pd.DataFrame(
                        {
                            "g": g,
                            "strong": np.zeros(len(g), dtype=bool),
                            "confidence": 65,
                            "basis": "one payout over two bank lines, by amount and date",
                        }
                    ),
                    pd.DataFrame(
                        {"g": np.r_[g, g], "pos": np.r_[g, m["pos_b"].to_numpy(np.int64)]}
                    ),
                    pd.DataFrame({"g": g, "t": m["t"].to_numpy(np.int64)}),
                )
            )
    return Found.concat(out)
