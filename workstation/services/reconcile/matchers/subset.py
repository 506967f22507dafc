"""The subset-sum rule: one record equal to the sum of 2..k records of the other side.

The search is bounded: candidates are narrowed to the same currency, sign and date window, and
targets with too many candidates are skipped; subset matches are never auto-confirmed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..rules import RuleSpec
from ..working_set import Work, allowed_diff
from .nearest_pairs import DAY_BITS
from .proposals import Counts, add_counts

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
            total = add_counts(total, work.propose(rule.name, groups, members))
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
    base = np.int64(1) << DAY_BITS
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
    # a subset holding a line a clerk rejected with the target is not proposed again
    ok = work.drop_blocked(many["g"].to_numpy(np.int64), many["pos"].to_numpy(np.int64))
    bad |= set(many.loc[~ok, "g"].tolist())
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
