"""The fee / FX aware reference rule: reference pairs whose amounts differ by a fee or a rate."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ....money import format_minor
from ...common import fx_rates as fxsvc
from ..rules import RuleSpec, pct_to_ppm
from ..working_set import Work, allowed_diff
from .proposals import Counts, add_counts, labels, status_of
from .token_pairs import resolve_groups, token_pairs


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
        basis = labels(
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
                "status": status_of(explained[sel], rule),
                "confidence": conf[sel],
                "difference": diff[sel],
                "currency": work.currency[lp[sel]],
                "note": np.asarray(notes, dtype=object),
            }
        )
        mem = members[members["g"].isin(groups["g"])]
        mem = mem.assign(amount=work.camt[mem["pos"].to_numpy(np.int64)])
        total = add_counts(total, work.propose(rule.name, groups, mem))
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
