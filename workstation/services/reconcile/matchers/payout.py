"""The payout rule (level 2): PSP payouts <-> bank lines.

Payouts come from the `payouts` table (services.settlement.payout_build), so a bank file imported
days after the PSP report still finds a payout whose lines were all matched to orders long ago.
A bank line names its payout by id (a stored token, or words and word pairs of its text) or,
without an id, is found by amount and date. The expected bank amount is what the PSP says it paid
out (its payout line), else the net of the payout's lines. Shapes, in this order:
one bank line <-> one payout (same currency, or the bank's original amount in the payout's
currency: FX); one bank line naming several payouts whose amounts add up; one payout whose
amount two bank lines naming it add up to; then by amount and date: one to one, two payouts in
one bank line, one payout over two bank lines (see `payout_sums`). Negative payouts match bank
debits. Members are the bank line(s), the payout line(s) and the payouts' other open non-charge
lines; the payouts themselves are listed with the match (`links`).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from ....money import format_minor
from ...common.reference_tokens import normalise
from ..rules import RuleSpec
from ..working_set import SIDE_CODES, Work, allowed_diff
from .nearest_pairs import nearest_pairs
from .payout_sums import Found, id_groups, sum_groups
from .proposals import Counts, status_of

TABLE_COLUMNS = ["t", "pid", "src", "ref", "key", "cur", "expected", "gross", "n_lines", "day"]


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


def payout_table(work: Work, payouts: pd.DataFrame | None) -> pd.DataFrame:
    """Payouts not yet at the bank, in the working set's terms: t, pid, src, ref, key, cur (code),
    expected, gross, n_lines, day, line (position of the open payout line, or -1).

    `payouts` (candidates.load_open_payouts) has pid, src, ref, currency, expected, gross,
    n_lines, day, line_id (-1: no payout line). A payout whose payout line is stored but not open
    is settled some other way and left out.
    """
    if payouts is None or payouts.empty or work.n == 0:
        return pd.DataFrame(columns=[*TABLE_COLUMNS, "line"])
    code = {str(c): i for i, c in enumerate(work.currencies)}
    cur = payouts["currency"].map(code)
    p = payouts[cur.notna()].assign(cur=cur[cur.notna()].astype(np.int64))
    line_id = p["line_id"].to_numpy(np.int64)
    pos = np.clip(np.searchsorted(work.ids, line_id), 0, work.n - 1)
    found = work.ids[pos] == line_id
    open_line = found & ~work.taken[pos]
    keep = (line_id < 0) | open_line
    p = p[keep].reset_index(drop=True)
    p["line"] = np.where(line_id[keep] < 0, -1, pos[keep])
    p["key"] = [normalise(r) for r in p["ref"]]
    p["t"] = np.arange(len(p))
    return p[[*TABLE_COLUMNS, "line"]]


def _id_hits(work: Work, bank: np.ndarray, table: pd.DataFrame) -> pd.DataFrame:
    """(pos, t): bank lines and the payouts whose id their tokens or text name."""
    bmask = np.zeros(work.n, dtype=bool)
    bmask[bank] = True
    tpos, tval = work.token_values(bmask)
    toks = pd.concat(
        [pd.DataFrame({"pos": tpos, "v": tval}), _bigram_tokens(bank, work.description[bank])],
        ignore_index=True,
    ).drop_duplicates()
    hits = toks.merge(table[["key", "t"]], left_on="v", right_on="key")[["pos", "t"]]
    hits = hits.drop_duplicates().reset_index(drop=True)
    if hits.empty:
        return hits
    line = table["line"].to_numpy(np.int64)[hits["t"].to_numpy()]
    keep = work.drop_blocked(hits["pos"].to_numpy(np.int64), np.maximum(line, 0)) | (line < 0)
    return hits[keep].reset_index(drop=True)


def _one_to_one(
    work: Work, table: pd.DataFrame, one: pd.DataFrame, abs_tol: int, ppm: int
) -> Found:
    """Bank line and payout that name only each other: amount, gross amount or FX."""
    t = table.iloc[one["t"].to_numpy()]
    bpos = one["pos"].to_numpy(np.int64)
    expected = t["expected"].to_numpy(np.int64)
    same_cur = work.cur_code[bpos] == t["cur"].to_numpy()
    diff = work.amount[bpos] - expected
    allow = allowed_diff(expected, abs_tol, ppm)
    ok = same_cur & (np.abs(diff) <= allow)
    gdiff = work.amount[bpos] - t["gross"].to_numpy(np.int64)
    ok_gross = same_cur & ~ok & (np.abs(gdiff) <= allow)
    pay_cur = work.currencies[t["cur"].to_numpy(np.int64)]
    fx = (
        ~same_cur
        & (work.orig_currency[bpos] == pay_cur)
        & (np.abs(work.orig_amount[bpos] - expected) <= allow)
        & (np.sign(work.amount[bpos]) == np.sign(expected))
    )
    sel = ok | ok_gross | fx
    exact = (ok & (diff == 0)) | (fx & (work.orig_amount[bpos] == expected))
    basis = np.where(
        ok, "by payout id", np.where(fx, "by payout id, in another currency", "by gross amount")
    )
    g = bpos[sel]
    return Found(
        groups=pd.DataFrame(
            {
                "g": g,
                "strong": exact[sel],
                "confidence": np.where(exact, 100, np.where(ok | fx, 90, 70))[sel],
                "basis": basis[sel],
            }
        ),
        banks=pd.DataFrame({"g": g, "pos": g}),
        payouts=pd.DataFrame({"g": g, "t": one["t"].to_numpy()[sel]}),
    )


def _by_amount(
    work: Work, table: pd.DataFrame, bank: np.ndarray, rule: RuleSpec, abs_tol: int, ppm: int
) -> Found:
    """No id: one bank line <-> one payout by amount and date."""
    before, after = int(rule.get("days_before", 1)), int(rule.get("days_after", 5))
    if len(bank) == 0 or table.empty:
        return Found.empty()
    pairs = nearest_pairs(
        lcur=table["cur"].to_numpy(np.int64),
        lamt=table["expected"].to_numpy(np.int64),
        lday=table["day"].to_numpy(np.int64),
        rcur=work.cur_code[bank],
        ramt=work.amount[bank],
        rday=work.day[bank],
        abs_tol=abs_tol,
        ppm=ppm,
        before=before,
        after=after,
    )
    if pairs.empty:
        return Found.empty()
    bpos = bank[pairs["r"].to_numpy()]
    tt = table["t"].to_numpy()[pairs["l"].to_numpy()]
    line = table["line"].to_numpy(np.int64)[pairs["l"].to_numpy()]
    keep = work.drop_blocked(bpos, np.maximum(line, 0)) | (line < 0)
    dd = pairs["dd"].to_numpy()
    conf = 75 - 5 * np.abs(dd - 1) - np.where(pairs["ambiguous"].to_numpy(), 20, 0)
    conf -= np.where(pairs["diff"].to_numpy() != 0, 10, 0)
    g = bpos[keep]
    return Found(
        groups=pd.DataFrame(
            {
                "g": g,
                "strong": np.zeros(len(g), dtype=bool),
                "confidence": conf[keep],
                "basis": "by amount and date",
            }
        ),
        banks=pd.DataFrame({"g": g, "pos": g}),
        payouts=pd.DataFrame({"g": g, "t": tt[keep]}),
    )


def _rate(bank: int, orig: int) -> str:
    if orig == 0:
        return "?"
    return str((Decimal(bank) / Decimal(orig)).quantize(Decimal("0.0001")))


def _notes(work: Work, table: pd.DataFrame, found: Found) -> pd.DataFrame:
    """Per group: currency, difference (bank - expected) and the note that explains it."""
    pay = found.payouts.merge(table[["t", "ref", "expected", "n_lines", "cur"]], on="t")
    pay = pay.sort_values(["g", "t"], kind="stable")
    ptot = pay.groupby("g").agg(
        expected=("expected", "sum"),
        n_lines=("n_lines", "sum"),
        cur=("cur", "first"),
        refs=("ref", lambda s: " + ".join(map(str, s))),
        parts=("expected", list),
    )
    banks = found.banks.assign(
        amount=work.amount[found.banks["pos"].to_numpy(np.int64)],
        orig=work.orig_amount[found.banks["pos"].to_numpy(np.int64)],
        bcur=work.cur_code[found.banks["pos"].to_numpy(np.int64)],
    )
    btot = banks.groupby("g").agg(
        bank=("amount", "sum"), orig=("orig", "sum"), bcur=("bcur", "first"), nb=("pos", "size")
    )
    g = found.groups.set_index("g").join(ptot).join(btot)
    currencies = work.currencies
    notes, diffs, curs = [], [], []
    for row in g.itertuples():
        pc, bc = currencies[int(row.cur)], currencies[int(row.bcur)]
        bank, expected = int(row.bank), int(row.expected)
        head = f"payout {row.refs}: {row.basis}; {int(row.n_lines)} line(s)"
        if pc != bc:
            diff = int(row.orig) - expected
            note = (
                f"{head}; bank {format_minor(bank, bc)} {bc} = payout net "
                f"{format_minor(expected, pc)} {pc} at FX {_rate(bank, int(row.orig))}"
            )
            cur = pc
        else:
            diff = bank - expected
            parts = " + ".join(format_minor(int(x), pc) for x in row.parts)
            net = f"payout net {format_minor(expected, pc)}"
            if len(row.parts) > 1:
                net += f" ({parts})"
            if int(row.nb) > 1:
                head += f"; {int(row.nb)} bank lines"
            note = f"{head}; bank {format_minor(bank, pc)} = {net}"
            if diff:
                note += f", {format_minor(diff, pc)} unexplained difference (bank charge?)"
            cur = pc
        notes.append(note)
        diffs.append(diff)
        curs.append(cur)
    return pd.DataFrame(
        {"g": g.index.to_numpy(), "note": notes, "difference": diffs, "currency": curs}
    )


def _unblocked(
    work: Work, table: pd.DataFrame, found: Found, payouts: pd.DataFrame | None
) -> Found:
    """Without the groups pairing a bank line with a payout a clerk rejected them with."""
    blocked = payouts.attrs.get("blocked") if payouts is not None else None
    if not blocked or found.groups.empty:
        return found
    pairs = found.banks.merge(found.payouts, on="g").merge(table[["t", "pid"]], on="t")
    ids = work.ids[pairs["pos"].to_numpy(np.int64)]
    bad = [(int(b), int(p)) in blocked for b, p in zip(ids, pairs["pid"].to_numpy(), strict=True)]
    drop = set(pairs["g"].to_numpy()[np.asarray(bad, dtype=bool)].tolist())
    work.dropped_blocked += len(drop)
    if not drop:
        return found
    return Found(
        found.groups[~found.groups["g"].isin(drop)],
        found.banks[~found.banks["g"].isin(drop)],
        found.payouts[~found.payouts["g"].isin(drop)],
    )


def payout(work: Work, rule: RuleSpec, payouts: pd.DataFrame | None = None) -> Counts:
    """Bank lines <-> payouts (see the module docstring)."""
    abs_tol, ppm = rule.tolerance()
    table = payout_table(work, payouts)
    bank = np.flatnonzero((work.side == SIDE_CODES["bank"]) & ~work.taken & (work.amount != 0))
    if table.empty or len(bank) == 0:
        return (0, 0, 0, 0)
    hits = _id_hits(work, bank, table)
    found: list[Found] = []
    if not hits.empty:
        dpos = hits.groupby("pos")["t"].transform("size").to_numpy()
        dt_ = hits.groupby("t")["pos"].transform("size").to_numpy()
        found.append(_one_to_one(work, table, hits[(dpos == 1) & (dt_ == 1)], abs_tol, ppm))
        found.append(id_groups(work, table, hits, dpos, dt_, abs_tol, ppm))
    named_bank = np.unique(hits["pos"].to_numpy(np.int64))
    named_t = set(hits["t"].tolist()) if not hits.empty else set()
    rest_bank = np.setdiff1d(bank, named_bank)
    rest_t = table[~table["t"].isin(named_t)]
    one = _by_amount(work, rest_t, rest_bank, rule, abs_tol, ppm)
    found.append(one)
    rest_bank = np.setdiff1d(rest_bank, one.banks["pos"].to_numpy(np.int64))
    rest_t = rest_t[~rest_t["t"].isin(one.payouts["t"])]
    found.append(sum_groups(work, rest_t, rest_bank, rule))
    chosen = _unblocked(work, table, Found.concat(found), payouts)
    if chosen.groups.empty:
        return (0, 0, 0, 0)
    explained = _notes(work, table, chosen)
    groups = chosen.groups.merge(explained, on="g")
    groups["status"] = status_of(groups["strong"].to_numpy(bool), rule)
    # members: bank line(s), open payout line(s), the payouts' other open non-charge lines
    parts = [chosen.banks.assign(amount=work.amount[chosen.banks["pos"].to_numpy(np.int64)])]
    pl = chosen.payouts.merge(table[["t", "line", "src", "ref"]], on="t")
    has = pl["line"].to_numpy(np.int64) >= 0
    lines = pl["line"].to_numpy(np.int64)[has]
    parts.append(pd.DataFrame({"g": pl["g"].to_numpy()[has], "pos": lines}))
    parts[-1]["amount"] = work.amount[lines]
    other = np.flatnonzero(
        (work.side == SIDE_CODES["psp"])
        & ~work.taken
        & ~work.is_transfer
        & ~work.is_charge
        & (work.payout_ref != "")
    )
    if len(other):
        key = pd.DataFrame({"src": work.source_id[other], "ref": work.payout_ref[other]})
        key["pos"] = other
        swept = key.merge(
            pl[["g", "src", "ref"]].drop_duplicates(["src", "ref"]), on=["src", "ref"]
        )
        swept["amount"] = work.net[swept["pos"].to_numpy(np.int64)]
        parts.append(swept[["g", "pos", "amount"]])
    members = pd.concat(parts, ignore_index=True)
    links = pl[["g", "src", "ref"]]
    return work.propose(rule.name, groups, members, links=links)
