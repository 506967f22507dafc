"""Reconciliation run: load open records once, run the rule cascade, write matches in bulk.

`run(session)` reads every record whose match state is unmatched or suggested with one query, their
reference tokens with one more, runs the enabled rules in order (see `rules`, `matchers`), then
writes new matches and members with driver-level bulk inserts and moves record states with set
updates. Confirmed and auto matches are never touched; a stored suggestion is kept (never proposed
twice) unless an auto-confirming rule now matches one of its records, which supersedes it. Pairs a
clerk rejected or unmatched are not proposed again. Records still open afterwards get an exception
case (services.reconcile.cases).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ...models import Source, utcnow
from ..common import audit
from ..common import fx_rates as fxsvc
from ..common.bulk_write import bulk_insert, deferred_indexes, gc_paused, reserve_ids
from ..common.dataframe_io import (
    delete_where_in,
    id_table,
    read_frame,
    timestamp_text,
    update_where_in,
)
from . import cases, matchers
from .rules import RuleSpec, ensure_rules, load_rules
from .working_set import SIDE_NAMES, SIDE_OF_SOURCE_KIND, TRANSFER_KINDS, Tokens, Work

Progress = Callable[[int, int, str], None]
OPEN_STATES = "('unmatched', 'suggested')"
_DEFER_STATE_INDEXES_AT = 100_000
# Rows per driver call: bounds the Python objects alive at once, and the time their building
# holds the GIL (the UI thread waits meanwhile).
_WRITE_ROWS = 25_000
_MATCH_COLUMNS = (
    "id",
    "status",
    "rule",
    "confidence",
    "difference_minor",
    "currency",
    "note",
    "created_at",
    "created_by",
    "confirmed_at",
    "confirmed_by",
)
ENGINE = "engine"


@dataclass
class RuleCount:
    """What one rule did in a run."""

    name: str
    kind: str
    auto: int = 0
    suggested: int = 0
    records_auto: int = 0
    records_suggested: int = 0
    left_after: int = 0
    seconds: float = 0.0


@dataclass
class RunReport:
    """Outcome of a reconciliation run (or of a dry run: nothing written)."""

    dry_run: bool
    candidates: int = 0
    rules: list[RuleCount] = field(default_factory=list)
    unmatched_left: int = 0
    superseded: int = 0
    blocked: int = 0
    cases_opened: int = 0
    cases_resolved: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def auto(self) -> int:
        return sum(r.auto for r in self.rules)

    @property
    def suggested(self) -> int:
        return sum(r.suggested for r in self.rules)

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "candidates": self.candidates,
            "auto": self.auto,
            "suggested": self.suggested,
            "unmatched_left": self.unmatched_left,
            "superseded": self.superseded,
            "blocked": self.blocked,
            "cases_opened": self.cases_opened,
            "cases_resolved": self.cases_resolved,
            "seconds": round(self.seconds, 3),
            "rules": [asdict(r) | {"seconds": round(r.seconds, 3)} for r in self.rules],
        }

    def describe(self) -> str:
        head = f"{'rule':<28} {'auto':>9} {'suggested':>10} {'left':>10}"
        lines = [head, "-" * len(head)]
        for r in self.rules:
            lines.append(f"{r.name[:28]:<28} {r.auto:>9,} {r.suggested:>10,} {r.left_after:>10,}")
        verb = "would leave" if self.dry_run else "left"
        lines.append(
            f"{self.candidates:,} open record(s) examined; {verb} {self.unmatched_left:,} unmatched"
            f" in {self.seconds:.2f} s"
        )
        if not self.dry_run:
            lines.append(
                f"exception cases: {self.cases_opened:,} opened, {self.cases_resolved:,} resolved"
            )
        return "\n".join(lines)


# --- loading ---------------------------------------------------------------------------------


def _sources(session: Session) -> pd.DataFrame:
    rows = session.execute(select(Source.id, Source.kind)).all()
    return pd.DataFrame(rows, columns=["id", "kind"])


def _literal_ids(ids: list[int]) -> str:
    return "(" + ",".join(str(int(i)) for i in ids) + ")" if ids else "(-1)"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def load_candidates(
    session: Session, *, with_counterparty: bool = False, also: str | None = None
) -> tuple[pd.DataFrame, Tokens]:
    """Open records (one query) and their shared reference tokens (one query).

    Args:
        with_counterparty: also load counterparty names (similarity checks).
        also: trusted SQL subquery of more record ids to treat as unmatched (backtests).

    Returns (records, tokens); records have id, source_id, side, kind, booked_on, amount, fee,
    net, orig_amount, orig_currency, currency, payout_ref, state, description (bank lines only)
    and optionally counterparty. When most records are open (a first run), tokens are read as
    groups of records sharing a value (the texts are fetched later, only for the records the
    exact rules leave); otherwise with their texts.
    """
    src = _sources(session)
    bank_ids = src.loc[src["kind"] == "bank", "id"].astype(int).tolist()
    conn = session.connection()
    dialect = conn.dialect.name
    total = int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM records")).scalar_one())
    open_count = int(
        conn.execute(
            text(f"SELECT COUNT(*) FROM records WHERE match_state IN {OPEN_STATES}")
        ).scalar_one()
    )
    # Most rows open (first run, benchmark): a table scan beats a million index lookups.
    bulk = total > 0 and open_count * 3 >= total and also is None
    scan = " NOT INDEXED" if bulk and dialect == "sqlite" else ""
    where = f"r.match_state IN {OPEN_STATES}" + (f" OR r.id IN ({also})" if also else "")
    cp = ", r.counterparty" if with_counterparty else ""
    sql = (
        "SELECT r.id, r.source_id, r.kind, r.booked_on, r.amount_minor, r.fee_minor,"
        " COALESCE(r.net_minor, r.amount_minor - COALESCE(r.fee_minor, 0)),"
        " r.orig_amount_minor, r.orig_currency, r.currency, r.payout_ref,"
        " CASE WHEN r.match_state = 'suggested' THEN 'suggested' ELSE 'unmatched' END,"
        f" CASE WHEN r.source_id IN {_literal_ids(bank_ids)} THEN r.description END"
        f"{cp} FROM records r{scan} WHERE {where} ORDER BY r.id"
    )
    schema = {
        "id": "int64",
        "source_id": "int64",
        "kind": "category",
        "booked_on": "date",
        "amount": "int64",
        "fee": "int64",
        "net": "int64",
        "orig_amount": "int64",
        "orig_currency": "category",
        "currency": "category",
        "payout_ref": "category",
        "state": "category",
        "description": "string",
    }
    if with_counterparty:
        schema["counterparty"] = "string"
    recs = read_frame(session, sql, schema)
    # A categorical from a lookup by source: mapping two million ids to strings would hold the
    # GIL (and the UI thread) for a quarter of a second.
    side_names = list(dict.fromkeys([*SIDE_OF_SOURCE_KIND.values(), "other"]))
    # one code per source, then "other" last: get_indexer's -1 (unknown source) lands there
    code_of = np.asarray(
        [side_names.index(SIDE_OF_SOURCE_KIND.get(str(k), "other")) for k in src["kind"]]
        + [side_names.index("other")],
        dtype=np.int8,
    )
    codes = code_of[pd.Index(src["id"]).get_indexer(recs["source_id"])]
    recs["side"] = pd.Categorical.from_codes(codes, categories=side_names)
    if bulk:
        agg = (
            "string_agg(CAST(record_id AS TEXT), ' ')"
            if dialect == "postgresql"
            else "group_concat(record_id, ' ')"
        )
        groups = read_frame(
            session,
            f"SELECT {agg} FROM record_references GROUP BY value"
            f" HAVING COUNT(*) BETWEEN 2 AND {matchers.MAX_TOKEN_FANOUT}",
            {"ids": "string"},
        )
        toks = _token_groups(groups["ids"].to_numpy(dtype=object))
        return recs, Tokens(toks[0], toks[1], None, lambda ids: _token_texts(session, ids))
    frame = read_frame(
        session,
        "SELECT rr.record_id, rr.value FROM records r"
        f" JOIN record_references rr ON rr.record_id = r.id WHERE {where}",
        {"record_id": "int64", "value": "string"},
    )
    values = frame["value"].to_numpy(dtype=object)
    codes, _ = pd.factorize(values)
    return recs, Tokens(frame["record_id"].to_numpy(np.int64), codes.astype(np.int64), values)


def _token_groups(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(record ids, group codes) from 'id id ...' texts, one text per shared token."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(groups) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lists = pc.split_pattern(pa.array(groups, pa.string()), " ")
    ids = pc.cast(pc.list_flatten(lists), pa.int64()).to_numpy()
    codes = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    return ids, codes


def _token_texts(session: Session, ids: np.ndarray) -> pd.DataFrame:
    """(record_id, value) of the tokens of `ids`."""
    schema = {"record_id": "int64", "value": "string"}
    if len(ids) <= 500:
        in_list = _literal_ids(np.asarray(ids).tolist())
        return read_frame(
            session,
            f"SELECT record_id, value FROM record_references WHERE record_id IN {in_list}",
            schema,
        )
    tmp = id_table(session, ids, "tmp_token_ids")
    try:
        return read_frame(
            session,
            "SELECT rr.record_id, rr.value FROM record_references rr"
            f" JOIN {tmp} t ON t.id = rr.record_id",
            schema,
        )
    finally:
        session.connection().execute(text(f"DROP TABLE {tmp}"))


def _match_members(session: Session, status: str) -> pd.DataFrame:
    rows = session.execute(
        text(
            "SELECT mm.match_id, mm.record_id FROM matches m"
            " JOIN match_members mm ON mm.match_id = m.id WHERE m.status = :s"
        ),
        {"s": status},
    ).all()
    return pd.DataFrame(rows, columns=["match_id", "record_id"]).astype("int64")


def blocked_pairs(session: Session) -> set[tuple[int, int]]:
    """Record pairs that were together in a rejected (or clerk-unmatched) match."""
    rejected = _match_members(session, "rejected")
    out: set[tuple[int, int]] = set()
    for _, part in rejected.groupby("match_id"):
        ids = sorted(part["record_id"].tolist())
        out.update(combinations(ids, 2))
    return out


def load_payout_totals(session: Session, work: Work) -> pd.DataFrame:
    """Stored totals of payouts some of whose lines are open but whose payout line is not loaded.

    Returns ref, net, gross, n_lines, day, settled (the payout line is stored and not open).
    """
    psp_open = (work.payout_ref != "") & ~work.is_transfer
    refs = set(work.payout_ref[psp_open].tolist()) - set(work.payout_ref[work.is_transfer].tolist())
    cols = ["ref", "net", "gross", "n_lines", "day", "settled"]
    if not refs:
        return pd.DataFrame(columns=cols)
    transfer = "(" + ",".join(_quote(k) for k in TRANSFER_KINDS) + ")"
    frames = []
    ordered = sorted(refs)
    for i in range(0, len(ordered), 500):
        chunk = ",".join(_quote(r) for r in ordered[i : i + 500])
        sql = (
            "SELECT payout_ref AS ref,"
            f" SUM(CASE WHEN kind IN {transfer} THEN 0"
            " ELSE COALESCE(net_minor, amount_minor - COALESCE(fee_minor, 0)) END) AS net,"
            f" SUM(CASE WHEN kind IN {transfer} THEN 0 ELSE amount_minor END) AS gross,"
            f" SUM(CASE WHEN kind IN {transfer} THEN 0 ELSE 1 END) AS n_lines,"
            " CAST(MAX(booked_on) AS TEXT) AS day,"
            f" SUM(CASE WHEN kind IN {transfer} THEN 1 ELSE 0 END) AS settled"
            f" FROM records WHERE payout_ref IN ({chunk}) GROUP BY payout_ref"
        )
        frames.append(
            read_frame(
                session,
                sql,
                {
                    "ref": "string",
                    "net": "int64",
                    "gross": "int64",
                    "n_lines": "int64",
                    "day": "date",
                    "settled": "int64",
                },
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["day"] = (out["day"].to_numpy(dtype="datetime64[D]") - np.datetime64("1970-01-01")).astype(
        np.int64
    )
    out["settled"] = out["settled"] > 0
    out["ref"] = out["ref"].astype(object)
    return out


# --- running ---------------------------------------------------------------------------------


def _tick(progress: Progress | None, done: int, total: int, msg: str) -> None:
    if progress is not None:
        progress(done, total, msg)


def simulate(
    session: Session,
    *,
    rules: list[RuleSpec] | None = None,
    progress: Progress | None = None,
    also: str | None = None,
    dry_run: bool = True,
) -> tuple[Work, RunReport]:
    """Run the cascade over the open records without writing; returns the proposals and counts.

    Args:
        rules: this rule set instead of the stored one.
        progress: `(done, total, text)`; may raise `Cancelled`.
        also: trusted SQL subquery of more record ids to treat as open (backtests).
    """
    started = time.perf_counter()
    report = RunReport(dry_run=dry_run)
    specs = [r for r in (rules if rules is not None else load_rules(session)) if r.enabled]
    steps = len(specs) + 3
    _tick(progress, 0, steps, "Loading open records")
    need_cp = any(r.kind == "window" and int(r.get("min_similarity", 0)) > 0 for r in specs)
    t = time.perf_counter()
    recs, toks = load_candidates(session, with_counterparty=need_cp, also=also)
    work = Work(
        recs,
        toks,
        blocked_pairs=blocked_pairs(session),
        fx_rates=fxsvc.rates_frame(session) if any(r.kind == "fx" for r in specs) else None,
    )
    del recs, toks
    report.timings["load"] = time.perf_counter() - t
    report.candidates = work.n
    db_totals = (
        load_payout_totals(session, work) if any(r.kind == "payout" for r in specs) else None
    )
    if db_totals is not None and not db_totals.empty:
        settled = set(db_totals.loc[db_totals["settled"], "ref"].tolist())
        if settled:  # payouts already reconciled: their open lines wait for transaction rules
            work.payout_ref = np.where(np.isin(work.payout_ref, list(settled)), "", work.payout_ref)
        db_totals = db_totals[~db_totals["settled"]]
    t = time.perf_counter()
    for i, spec in enumerate(specs, start=1):
        _tick(progress, i, steps, f"Rule {spec.name}")
        r0 = time.perf_counter()
        fn = matchers.MATCHERS.get(spec.kind)
        if fn is None:
            continue
        if spec.kind == "payout":
            counts = matchers.payout(work, spec, db_totals)
        elif spec.kind == "subset":
            name, step = spec.name, i
            counts = matchers.subset(
                work,
                spec,
                lambda: _tick(progress, step, steps, name),  # noqa: B023
            )
        else:
            counts = fn(work, spec)
        report.rules.append(
            RuleCount(
                name=spec.name,
                kind=spec.kind,
                auto=counts[0],
                suggested=counts[1],
                records_auto=counts[2],
                records_suggested=counts[3],
                left_after=int(
                    work.n - work.taken.sum() - (work.was_suggested & ~work.taken).sum()
                ),
                seconds=time.perf_counter() - r0,
            )
        )
    report.timings["match"] = time.perf_counter() - t
    report.blocked = work.dropped_blocked
    report.unmatched_left = int((~work.taken & ~work.was_suggested).sum())
    report.seconds = time.perf_counter() - started
    return work, report


def run(
    session: Session,
    *,
    actor: str = ENGINE,
    dry_run: bool = False,
    rules: list[RuleSpec] | None = None,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> RunReport:
    """Reconcile every open record; write results unless `dry_run` (see `_run`).

    The garbage collector is paused meanwhile (see `bulk.gc_paused`).
    """
    with gc_paused():
        return _run(
            session, actor=actor, dry_run=dry_run, rules=rules, progress=progress, today=today
        )


def _run(
    session: Session,
    *,
    actor: str,
    dry_run: bool,
    rules: list[RuleSpec] | None,
    progress: Progress | None,
    today: dt.date | None,
) -> RunReport:
    """Reconcile every open record; write results unless `dry_run`.

    Args:
        session: the caller commits (or rolls back a dry run).
        actor: who started the run (audit); matches are created by "engine".
        dry_run: compute the counts, write nothing.
        rules: run this rule set instead of the stored one (simulation).
        progress: `(done, total, text)`; may raise `Cancelled` (nothing is written then).
        today: the date cases are aged from (tests).

    Returns:
        counts per rule and what is left.
    """
    started = time.perf_counter()
    work, report = simulate(session, rules=rules, progress=progress, dry_run=dry_run)
    steps = len(report.rules) + 3
    _tick(progress, steps - 1, steps, "Writing matches")
    if not dry_run:
        t = time.perf_counter()
        _write(session, work, report, actor, today or dt.date.today())
        report.timings["write"] = time.perf_counter() - t
    else:
        suggested = _match_members(session, "suggested")
        report.superseded = _superseded(work, suggested)[0].size
    report.seconds = time.perf_counter() - started
    _tick(progress, steps, steps, "Done")
    return report


def _superseded(work: Work, suggested: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(match ids, their member record ids) of stored suggestions an auto match replaced."""
    if not work.superseded_positions or suggested.empty:
        return np.array([], np.int64), np.array([], np.int64)
    ids = work.ids[np.concatenate(work.superseded_positions)]
    hit = suggested.loc[suggested["record_id"].isin(ids), "match_id"].unique()
    members = suggested.loc[suggested["match_id"].isin(hit), "record_id"].to_numpy(np.int64)
    return np.asarray(hit, dtype=np.int64), members


def _write(session: Session, work: Work, report: RunReport, actor: str, today: dt.date) -> None:
    ensure_rules(session)
    now = utcnow()
    stamp = timestamp_text(session, now)
    groups = work.props.groups()
    members = work.props.members()
    suggested = _match_members(session, "suggested")
    dead, dead_members = _superseded(work, suggested)
    if dead.size:
        update_where_in(session, "exception_cases", "match_id = NULL", dead, column="match_id")
        delete_where_in(session, "match_members", "match_id", dead.tolist())
        delete_where_in(session, "matches", "id", dead.tolist())
    report.superseded = int(dead.size)
    g = len(groups)
    match_ids = np.zeros(0, dtype=np.int64)
    if g:
        first = reserve_ids(session, "matches", g)
        match_ids = np.arange(first, first + g, dtype=np.int64)
        status = groups["status"].to_numpy(dtype=object)  # object columns: no conversion
        rule_names = groups["rule"].to_numpy(dtype=object)
        confidence = groups["confidence"].to_numpy(np.int64)
        difference = groups["difference"].to_numpy(np.int64)
        currency = groups["currency"].to_numpy(dtype=object)
        note = groups["note"].to_numpy(dtype=object)
        auto = status == "auto"
        lap = time.perf_counter()
        for lo in range(0, g, _WRITE_ROWS):
            sl = slice(lo, lo + _WRITE_ROWS)
            part = auto[sl].tolist()
            n = len(part)
            bulk_insert(
                session,
                "matches",
                _MATCH_COLUMNS,
                list(
                    zip(
                        match_ids[sl].tolist(),
                        status[sl].tolist(),
                        rule_names[sl].tolist(),
                        confidence[sl].tolist(),
                        difference[sl].tolist(),
                        currency[sl].tolist(),
                        note[sl].tolist(),
                        [stamp] * n,
                        [ENGINE] * n,
                        [stamp if a else None for a in part],
                        [ENGINE if a else None for a in part],
                        strict=True,
                    )
                ),
            )
        report.timings["write.matches"] = time.perf_counter() - lap
        lap = time.perf_counter()
        pos = members["pos"].to_numpy(np.int64)
        mgroup = members["group"].to_numpy(np.int64)
        amounts = members["amount"].to_numpy(np.int64)
        for lo in range(0, len(pos), _WRITE_ROWS):
            sl = slice(lo, lo + _WRITE_ROWS)
            bulk_insert(
                session,
                "match_members",
                ("match_id", "record_id", "side", "amount_minor"),
                list(
                    zip(
                        match_ids[mgroup[sl]].tolist(),
                        work.ids[pos[sl]].tolist(),
                        SIDE_NAMES[work.side[pos[sl]]].tolist(),
                        amounts[sl].tolist(),
                        strict=True,
                    )
                ),
            )
        report.timings["write.members"] = time.perf_counter() - lap
        m_auto = auto[mgroup]
        auto_ids = work.ids[pos[m_auto]]
        sugg_ids = work.ids[pos[~m_auto]]
    else:
        auto_ids = sugg_ids = np.zeros(0, dtype=np.int64)
    lap = time.perf_counter()
    new_sugg = sugg_ids[~np.isin(sugg_ids, work.ids[work.was_suggested])]
    reset = np.setdiff1d(dead_members, np.r_[auto_ids, sugg_ids])
    changed = len(auto_ids) + len(new_sugg) + len(reset)
    # A large state change rebuilds the match_state indexes once instead of moving every row
    # in each of them.
    with deferred_indexes(
        session, ("records",), enabled=changed >= _DEFER_STATE_INDEXES_AT, columns=("match_state",)
    ):
        update_where_in(session, "records", "match_state = 'matched'", auto_ids)
        update_where_in(session, "records", "match_state = 'suggested'", new_sugg)
        update_where_in(session, "records", "match_state = 'unmatched'", reset)
    report.timings["write.states"] = time.perf_counter() - lap
    lap = time.perf_counter()
    # exception cases for what is still open; close the cases of what got matched
    open_mask = ~work.taken
    open_mask[np.isin(work.ids, reset)] = True
    sugg_match = pd.Series(dtype=np.int64)
    if g:
        sm = ~auto[members["group"].to_numpy(np.int64)]
        sugg_match = pd.Series(
            match_ids[members["group"].to_numpy(np.int64)[sm]],
            index=work.ids[members["pos"].to_numpy(np.int64)[sm]],
        )
        open_mask |= np.isin(work.ids, sugg_match.index.to_numpy())
    still_sugg = work.was_suggested & ~work.taken
    if still_sugg.any() and not suggested.empty:
        keep = suggested[~suggested["match_id"].isin(dead)].drop_duplicates("record_id")
        sugg_match = pd.concat([sugg_match, keep.set_index("record_id")["match_id"]])
    opened, resolved = cases.sync_after_run(
        session,
        open_ids=work.ids[open_mask],
        amounts=work.amount[open_mask],
        currencies=work.currency[open_mask],
        days=work.day[open_mask],
        matched_ids=auto_ids,
        suggested_match=sugg_match[~sugg_match.index.duplicated()],
        now=now,
        today=today,
    )
    report.cases_opened, report.cases_resolved = opened, resolved
    report.timings["write.cases"] = time.perf_counter() - lap
    audit.log(
        session,
        actor,
        "reconcile.run",
        "reconcile",
        None,
        {
            "candidates": report.candidates,
            "auto": report.auto,
            "suggested": report.suggested,
            "superseded": report.superseded,
            "unmatched_left": report.unmatched_left,
            "rules": {r.name: [r.auto, r.suggested] for r in report.rules},
        },
    )
