"""The amount + date window rule: same currency, amount within tolerance, nearest date wins."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..rules import RuleSpec
from ..working_set import Work
from .nearest_pairs import nearest_pairs
from .proposals import Counts, add_counts, status_of


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
                "status": status_of(strong, rule),
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
        total = add_counts(total, work.propose(rule.name, groups, members))
    return total
