"""Writing a reconciliation run: matches and members in bulk, record states, exception cases.

Matches and members go in with driver-level bulk inserts in chunks, record states move with set
updates (a large change rebuilds the match_state indexes once), stored suggestions an auto match
replaced are removed, and the exception cases follow (services.reconcile.cases).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from ...models import utcnow
from ..common import audit
from ..common.bulk_write import bulk_insert, deferred_indexes, reserve_ids
from ..common.dataframe_io import delete_where_in, id_table, timestamp_text, update_where_in
from . import cases
from .candidates import stored_members
from .rules import ensure_rules
from .run_report import RunReport
from .working_set import SIDE_CODES, SIDE_NAMES, Work

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
    "level",
    "created_at",
    "created_by",
    "confirmed_at",
    "confirmed_by",
)
ENGINE = "engine"


def superseded(work: Work, suggested: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(match ids, their member record ids) of stored suggestions an auto match replaced."""
    if not work.superseded_positions or suggested.empty:
        return np.array([], np.int64), np.array([], np.int64)
    ids = work.ids[np.concatenate(work.superseded_positions)]
    hit = suggested.loc[suggested["record_id"].isin(ids), "match_id"].unique()
    members = suggested.loc[suggested["match_id"].isin(hit), "record_id"].to_numpy(np.int64)
    return np.asarray(hit, dtype=np.int64), members


def drop_taken(
    session: Session,
    work: Work,
    groups: pd.DataFrame,
    members: pd.DataFrame,
    links: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """Proposals without those one of whose records is in a live match by now (a clerk matched it
    while the run was computing); returns (groups, members and links renumbered, how many were
    dropped).

    The run holds the store's write lock (`write_lock`), so no other run or import writes
    meanwhile; the unique index on live members is the last guard against a clerk's action racing
    this check.
    """
    if members.empty:
        return groups, members, links, 0
    record_ids = work.ids[members["pos"].to_numpy(np.int64)]
    tmp = id_table(session, record_ids, "tmp_run_ids")
    try:
        taken = np.asarray(
            session.execute(
                text(
                    f"SELECT DISTINCT mm.record_id FROM match_members mm"
                    f" JOIN {tmp} t ON t.id = mm.record_id WHERE mm.live"
                )
            )
            .scalars()
            .all(),
            dtype=np.int64,
        )
    finally:
        session.connection().execute(text(f"DROP TABLE {tmp}"))
    if not taken.size:
        return groups, members, links, 0
    mgroup = members["group"].to_numpy(np.int64)
    hit = np.isin(record_ids, taken)
    bad = np.zeros(len(groups), dtype=bool)
    bad[mgroup[hit]] = True
    keep_member = ~bad[mgroup]
    # the other records of a dropped proposal are open again (no case for those taken meanwhile)
    work.taken[members["pos"].to_numpy(np.int64)[~keep_member & ~hit]] = False
    renumber = np.cumsum(~bad) - 1
    groups = groups[~bad].reset_index(drop=True)
    members = members[keep_member].reset_index(drop=True)
    members["group"] = renumber[members["group"].to_numpy(np.int64)]
    if not links.empty:
        links = links[~bad[links["group"].to_numpy(np.int64)]].reset_index(drop=True)
        links["group"] = renumber[links["group"].to_numpy(np.int64)]
    return groups, members, links, int(bad.sum())


def match_levels(work: Work, members: pd.DataFrame, n_groups: int) -> np.ndarray:
    """Level per group: 2 when it holds a bank line and a PSP line (payout <-> bank), else 1."""
    sides = work.side[members["pos"].to_numpy(np.int64)]
    mgroup = members["group"].to_numpy(np.int64)
    has_bank = np.zeros(n_groups, dtype=bool)
    has_psp = np.zeros(n_groups, dtype=bool)
    has_bank[mgroup[sides == SIDE_CODES["bank"]]] = True
    has_psp[mgroup[sides == SIDE_CODES["psp"]]] = True
    return np.where(has_bank & has_psp, 2, 1).astype(np.int64)


def write_payout_links(
    session: Session,
    work: Work,
    members: pd.DataFrame,
    links: pd.DataFrame,
    match_ids: np.ndarray,
    level: np.ndarray,
) -> None:
    """match_payouts of the new level-2 matches: the payouts the rule named, and those their PSP
    members belong to (a payout line matched by another rule)."""
    level2 = np.flatnonzero(level == 2)
    if not len(level2) and links.empty:
        return
    pos = members["pos"].to_numpy(np.int64)
    mg = members["group"].to_numpy(np.int64)
    psp = (work.side[pos] == SIDE_CODES["psp"]) & (work.payout_ref[pos] != "") & (level[mg] == 2)
    keys = pd.concat(
        [
            links[["group", "source_id", "payout_ref"]],
            pd.DataFrame(
                {
                    "group": mg[psp],
                    "source_id": work.source_id[pos[psp]],
                    "payout_ref": work.payout_ref[pos[psp]],
                }
            ),
        ],
        ignore_index=True,
    ).drop_duplicates()
    if keys.empty:
        return
    refs = sorted(set(keys["payout_ref"].astype(str)))
    found: list[Any] = []
    for lo in range(0, len(refs), 500):
        found.extend(
            session.execute(
                text(
                    "SELECT id, source_id, payout_ref, COALESCE(payout_minor, net_minor)"
                    " FROM payouts WHERE payout_ref IN :refs"
                ).bindparams(bindparam("refs", expanding=True)),
                {"refs": refs[lo : lo + 500]},
            ).all()
        )
    payouts = pd.DataFrame(found, columns=["pid", "source_id", "payout_ref", "amount"])
    payouts["payout_ref"] = payouts["payout_ref"].astype(object)
    keys["payout_ref"] = keys["payout_ref"].astype(object)
    rows = keys.merge(payouts, on=["source_id", "payout_ref"]).drop_duplicates(["group", "pid"])
    bulk_insert(
        session,
        "match_payouts",
        ("match_id", "payout_id", "amount_minor"),
        list(
            zip(
                match_ids[rows["group"].to_numpy(np.int64)].tolist(),
                rows["pid"].astype(np.int64).tolist(),
                rows["amount"].astype(np.int64).tolist(),
                strict=True,
            )
        ),
    )


def last_event(session: Session) -> int:
    """Id of the newest audit event: every clerk action on a match writes one."""
    return int(session.execute(text("SELECT COALESCE(MAX(id), 0) FROM audit_events")).scalar_one())


def write_run(
    session: Session,
    work: Work,
    report: RunReport,
    actor: str,
    today: dt.date,
    *,
    read_after: int | None = None,
) -> None:
    """Write the run's proposals: matches, members, record states, exception cases, audit.

    Args:
        read_after: `last_event()` when the run read the store; while it is still the newest,
            nobody changed a match meanwhile and the re-check of the proposals is skipped.
    """
    ensure_rules(session)
    now = utcnow()
    stamp = timestamp_text(session, now)
    groups = work.props.groups()
    members = work.props.members()
    links = work.props.links()
    suggested = stored_members(session, "suggested")
    dead, dead_members = superseded(work, suggested)
    if dead.size:
        update_where_in(session, "exception_cases", "match_id = NULL", dead, column="match_id")
        delete_where_in(session, "match_members", "match_id", dead.tolist())
        delete_where_in(session, "matches", "id", dead.tolist())
    report.superseded = int(dead.size)
    lap = time.perf_counter()
    if read_after is None or last_event(session) > read_after:
        groups, members, links, report.changed_meanwhile = drop_taken(
            session, work, groups, members, links
        )
    report.timings["write.recheck"] = time.perf_counter() - lap
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
        level = match_levels(work, members, g)
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
                        level[sl].tolist(),
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
                ("match_id", "record_id", "side", "amount_minor", "level"),
                list(
                    zip(
                        match_ids[mgroup[sl]].tolist(),
                        work.ids[pos[sl]].tolist(),
                        SIDE_NAMES[work.side[pos[sl]]].tolist(),
                        amounts[sl].tolist(),
                        level[mgroup[sl]].tolist(),
                        strict=True,
                    )
                ),
            )
        report.timings["write.members"] = time.perf_counter() - lap
        write_payout_links(session, work, members, links, match_ids, level)
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
