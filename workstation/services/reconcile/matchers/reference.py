"""The reference rule: records sharing a reference token, amounts equal within tolerance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..rules import RuleSpec
from ..working_set import Work, allowed_diff
from .proposals import Counts, add_counts, labels, status_of
from .token_pairs import resolve_groups, token_pairs


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
        notes = labels(
            np.select([how == 0, how == 1], [0, 1], 2),
            ("same reference", "same reference (leading zeros)", "same reference (truncated id)"),
        )
        groups = pd.DataFrame(
            {
                "g": tot.index.to_numpy(),
                "status": status_of(np.ones(len(tot), bool), rule),
                "confidence": conf,
                "difference": tot["diff"].to_numpy(np.int64),
                "currency": work.currencies[tot["cur"].to_numpy(np.int64)],
                "note": notes,
            }
        )
        mem = members[members["g"].isin(groups["g"])]
        mem = mem.assign(amount=work.camt[mem["pos"].to_numpy(np.int64)])
        total = add_counts(total, work.propose(rule.name, groups, mem))
    return total
