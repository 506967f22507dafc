"""The engine's in-memory working set: candidate records and tokens as arrays, and proposed matches.

One `Work` holds every record still open (match state unmatched or suggested) as numpy columns
indexed by position, the records' reference tokens as integer codes, and the proposals the rules
make. A record is used by at most one proposal per run (`taken`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SIDE_CODES = {"order": 0, "psp": 1, "bank": 2, "other": 3}
SIDE_NAMES = np.array(["order", "psp", "bank", "other"], dtype=object)
SIDE_OF_SOURCE_KIND = {"ledger": "order", "psp": "psp", "bank": "bank", "other": "other"}
EPOCH = np.datetime64("1970-01-01", "D")
# Kinds whose amount leaves the account towards another one of ours (a PSP payout to the bank).
TRANSFER_KINDS = ("payout", "transfer")
# PSP lines that settle or adjust a charge rather than pay an order: they belong to payouts and
# to their charge (reconcile.links), never to an order of their own.
SETTLEMENT_KINDS = ("fee", "dispute", "dispute_reversal", "reserve", "adjustment")


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01 (the engine's date unit)."""
    return int((np.datetime64(d, "D") - EPOCH).astype(np.int64))


def allowed_diff(amount_abs: np.ndarray, abs_tol: int, ppm: int) -> np.ndarray:
    """Largest accepted difference per amount: max(absolute, percent of the amount), integers."""
    return np.maximum(np.int64(abs_tol), np.abs(amount_abs).astype(np.int64) * ppm // 1_000_000)


@dataclass
class Proposals:
    """Matches proposed in one run, as parallel arrays (group arrays and member arrays)."""

    rule: list[np.ndarray] = field(default_factory=list)
    status: list[np.ndarray] = field(default_factory=list)
    confidence: list[np.ndarray] = field(default_factory=list)
    difference: list[np.ndarray] = field(default_factory=list)
    currency: list[np.ndarray] = field(default_factory=list)
    note: list[np.ndarray] = field(default_factory=list)
    m_group: list[np.ndarray] = field(default_factory=list)
    m_pos: list[np.ndarray] = field(default_factory=list)
    m_amount: list[np.ndarray] = field(default_factory=list)
    # level-2 proposals: the payouts (PSP account, payout id) each group settles
    l_group: list[np.ndarray] = field(default_factory=list)
    l_source: list[np.ndarray] = field(default_factory=list)
    l_ref: list[np.ndarray] = field(default_factory=list)
    count: int = 0

    def links(self) -> pd.DataFrame:
        """group, source_id, payout_ref of the payouts level-2 proposals name."""
        if not self.l_group:
            return pd.DataFrame(
                {
                    "group": np.zeros(0, np.int64),
                    "source_id": np.zeros(0, np.int64),
                    "payout_ref": np.zeros(0, dtype=object),
                }
            )
        return pd.DataFrame(
            {
                "group": np.concatenate(self.l_group),
                "source_id": np.concatenate(self.l_source),
                "payout_ref": np.concatenate(self.l_ref),
            }
        )

    def groups(self) -> pd.DataFrame:
        if not self.rule:
            return pd.DataFrame(
                columns=["rule", "status", "confidence", "difference", "currency", "note"]
            )
        # Text columns stay object arrays: letting pandas infer its arrow string type would
        # convert a million Python strings holding the GIL, and the writer wants them back.
        return pd.DataFrame(
            {
                "rule": pd.Series(np.concatenate(self.rule), dtype=object),
                "status": pd.Series(np.concatenate(self.status), dtype=object),
                "confidence": np.concatenate(self.confidence),
                "difference": np.concatenate(self.difference),
                "currency": pd.Series(np.concatenate(self.currency), dtype=object),
                "note": pd.Series(np.concatenate(self.note), dtype=object),
            }
        )

    def members(self) -> pd.DataFrame:
        if not self.m_group:
            return pd.DataFrame(
                {
                    "group": np.array([], dtype=np.int64),
                    "pos": np.array([], dtype=np.int64),
                    "amount": np.array([], dtype=np.int64),
                }
            )
        return pd.DataFrame(
            {
                "group": np.concatenate(self.m_group),
                "pos": np.concatenate(self.m_pos),
                "amount": np.concatenate(self.m_amount),
            }
        )


@dataclass
class Tokens:
    """Reference tokens of the candidates: equal `code` means equal normalised value.

    `value` holds the token texts when they were loaded; otherwise `loader` fetches them, for the
    records whose ids it is given, as a frame (record_id, value).
    """

    record_id: np.ndarray
    code: np.ndarray
    value: np.ndarray | None = None
    loader: Callable[[np.ndarray], pd.DataFrame] | None = None


def _cat_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, categories as object array) of a column, categorical or not."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = np.asarray(values.cat.categories, dtype=object)
        return values.cat.codes.to_numpy(np.int64), cats
    codes, uniques = pd.factorize(values.astype(object).fillna(""))
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


class Work:
    """Candidate records (columns by position), tokens, and the run's proposals."""

    def __init__(
        self,
        recs: pd.DataFrame,
        toks: Tokens,
        *,
        blocked_pairs: set[tuple[int, int]] | None = None,
        fx_rates: pd.DataFrame | None = None,
    ) -> None:
        if not recs["id"].is_monotonic_increasing:
            recs = recs.sort_values("id", kind="stable").reset_index(drop=True)
        self.n = len(recs)
        self.ids = recs["id"].to_numpy(np.int64)
        self.source_id = recs["source_id"].to_numpy(np.int64)
        self.side = recs["side"].map(SIDE_CODES).fillna(3).to_numpy(np.int8)
        kcode, kcats = _cat_codes(recs["kind"])
        self.kind = kcats[kcode] if len(kcats) else np.zeros(0, dtype=object)
        days = recs["booked_on"].to_numpy(dtype="datetime64[D]")
        self.day = (days - EPOCH).astype(np.int64)
        self.amount = recs["amount"].to_numpy(np.int64)
        self.fee = recs["fee"].to_numpy(np.int64)
        self.net = recs["net"].to_numpy(np.int64)
        self.orig_amount = recs["orig_amount"].to_numpy(np.int64)
        ocode, ocats = _cat_codes(recs["orig_currency"])
        self.orig_currency = ocats[ocode] if len(ocats) else np.zeros(0, dtype=object)
        self.cur_code, self.currencies = _cat_codes(recs["currency"])
        self.currency = self.currencies[self.cur_code] if self.n else np.zeros(0, dtype=object)
        pcode, pcats = _cat_codes(recs["payout_ref"])
        self.payout_ref = pcats[pcode] if len(pcats) else np.zeros(0, dtype=object)
        self.description = (
            recs["description"].astype(object).fillna("").to_numpy()
            if "description" in recs
            else np.full(self.n, "", dtype=object)
        )
        self.counterparty = (
            recs["counterparty"].astype(object).fillna("").to_numpy()
            if "counterparty" in recs
            else None
        )
        self.is_transfer = np.isin(kcats, TRANSFER_KINDS)[kcode] if len(kcats) else kcode > 0
        self.is_charge = (kcats == "charge")[kcode] if len(kcats) else kcode > 0
        self.is_settlement = np.isin(kcats, SETTLEMENT_KINDS)[kcode] if len(kcats) else kcode > 0
        self.camt = np.where(self.is_transfer, -self.amount, self.amount)
        scode, scats = _cat_codes(recs["state"])
        self.was_suggested = (scats == "suggested")[scode] if len(scats) else scode > 0
        self.taken = np.zeros(self.n, dtype=bool)
        self.blocked_pairs = blocked_pairs or set()
        self.blocked_ids = np.array(sorted({i for p in self.blocked_pairs for i in p}), np.int64)
        self.fx_rates = fx_rates
        # tokens -> positions
        rid = toks.record_id.astype(np.int64)
        pos = np.searchsorted(self.ids, rid)
        pos = np.clip(pos, 0, max(self.n - 1, 0))
        ok = (self.ids[pos] == rid) if self.n else np.zeros(len(rid), dtype=bool)
        self.tok_pos = pos[ok].astype(np.int64)
        self.tok_code = toks.code[ok].astype(np.int64)
        self._tok_value = None if toks.value is None else toks.value[ok]
        self._loader = toks.loader
        self.props = Proposals()
        self.dropped_blocked = 0
        self.superseded_positions: list[np.ndarray] = []

    def token_values(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, token texts) of the tokens of records in `mask`."""
        if self._tok_value is not None:
            sel = mask[self.tok_pos]
            return self.tok_pos[sel], self._tok_value[sel]
        ids = self.ids[mask]
        if self._loader is None or len(ids) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
        frame = self._loader(ids)
        rid = frame["record_id"].to_numpy(np.int64)
        pos = np.searchsorted(self.ids, rid)
        pos = np.clip(pos, 0, max(self.n - 1, 0))
        ok = self.ids[pos] == rid
        return pos[ok].astype(np.int64), frame["value"].to_numpy(dtype=object)[ok]

    # --- selections -----------------------------------------------------------------------

    def side_mask(self, side: str, partner: str) -> np.ndarray:
        """Untaken records of `side` that may pair with `partner` lines.

        PSP lines pair with orders as transactions (charges, refunds) and with bank lines as
        payouts.
        """
        m = (self.side == SIDE_CODES[side]) & ~self.taken
        if side == "psp":
            if partner == "bank":
                m &= self.is_transfer
            else:
                m &= ~self.is_transfer & ~self.is_settlement
        return m

    def tokens_of(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, token codes) of the tokens of records in `mask`."""
        sel = mask[self.tok_pos]
        return self.tok_pos[sel], self.tok_code[sel]

    # --- blocked pairs (clerks rejected or unmatched these records together) ----------------

    def drop_blocked(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Mask of pairs (positions) a clerk has not rejected."""
        if not self.blocked_pairs or len(left) == 0:
            return np.ones(len(left), dtype=bool)
        a, b = self.ids[left], self.ids[right]
        maybe = np.isin(a, self.blocked_ids) & np.isin(b, self.blocked_ids)
        keep = np.ones(len(left), dtype=bool)
        for i in np.flatnonzero(maybe):
            x, y = int(a[i]), int(b[i])
            if (min(x, y), max(x, y)) in self.blocked_pairs:
                keep[i] = False
        self.dropped_blocked += int((~keep).sum())
        return keep

    # --- proposals --------------------------------------------------------------------------

    def propose(
        self,
        rule: str,
        groups: pd.DataFrame,
        members: pd.DataFrame,
        *,
        links: pd.DataFrame | None = None,
    ) -> tuple[int, int, int, int]:
        """Record proposals of one rule; returns (auto groups, suggested groups, records each).

        `groups` has a `g` key plus status, confidence, difference, currency, note; `members`
        has g, pos, amount; `links` (level-2 rules) has g, src, ref of the payouts a group
        settles. Suggestions touching a record already in a stored suggestion are
        dropped (no duplicates); an auto match supersedes such suggestions.
        """
        if groups.empty:
            return 0, 0, 0, 0
        members = members[members["g"].isin(groups["g"])]
        pos = members["pos"].to_numpy(np.int64)
        bad = self.taken[pos]
        sugg_grp = members["g"].map(groups.set_index("g")["status"]).to_numpy() == "suggested"
        bad |= self.was_suggested[pos] & sugg_grp
        if bad.any():
            drop = np.unique(members["g"].to_numpy()[bad])
            groups = groups[~groups["g"].isin(drop)]
            members = members[~members["g"].isin(drop)]
            pos = members["pos"].to_numpy(np.int64)
        if groups.empty:
            return 0, 0, 0, 0
        # a record may only appear once even within one rule's output
        dup = pd.Series(pos).duplicated().to_numpy()
        if dup.any():
            drop = np.unique(members["g"].to_numpy()[dup])
            groups = groups[~groups["g"].isin(drop)]
            members = members[~members["g"].isin(drop)]
            pos = members["pos"].to_numpy(np.int64)
        sup = pos[self.was_suggested[pos]]
        if len(sup):
            self.superseded_positions.append(sup)
        self.taken[pos] = True
        _, g_uniques = pd.factorize(groups["g"])
        local = pd.Series(np.arange(len(g_uniques)) + self.props.count, index=g_uniques)
        n = len(groups)
        self.props.rule.append(np.full(n, rule, dtype=object))
        self.props.status.append(groups["status"].astype(object).to_numpy())
        self.props.confidence.append(
            np.clip(groups["confidence"].to_numpy(np.int64), 0, 100).astype(np.int64)
        )
        self.props.difference.append(groups["difference"].to_numpy(np.int64))
        self.props.currency.append(groups["currency"].astype(object).to_numpy())
        self.props.note.append(groups["note"].astype(object).to_numpy())
        self.props.m_group.append(local.reindex(members["g"].to_numpy()).to_numpy(np.int64))
        self.props.m_pos.append(pos)
        self.props.m_amount.append(members["amount"].to_numpy(np.int64))
        if links is not None and not links.empty:
            links = links[links["g"].isin(groups["g"])]
            self.props.l_group.append(local.reindex(links["g"].to_numpy()).to_numpy(np.int64))
            self.props.l_source.append(links["src"].to_numpy(np.int64))
            self.props.l_ref.append(links["ref"].astype(object).to_numpy())
        self.props.count += n
        is_auto = groups["status"].to_numpy() == "auto"
        auto_groups = set(groups["g"].to_numpy()[is_auto].tolist())
        m_auto = members["g"].isin(auto_groups).to_numpy()
        return (
            int(is_auto.sum()),
            int((~is_auto).sum()),
            int(m_auto.sum()),
            int((~m_auto).sum()),
        )
