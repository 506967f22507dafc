"""Reconciliation run: load open records once, run the rule cascade, write matches in bulk.

`run(session)` reads every record whose match state is unmatched or suggested with one query, their
reference tokens with one more, runs the enabled rules in order (see `rules`, `matchers`), then
writes new matches and members with driver-level bulk inserts and moves record states with set
updates. Confirmed and auto matches are never touched; a stored suggestion is kept (never proposed
twice) unless an auto-confirming rule now matches one of its records, which supersedes it. Pairs a
clerk rejected or unmatched are not proposed again. Records still open afterwards get an exception
case (services.reconcile.cases).

The reading is `candidates`, the rules are `matchers`, the writing is `run_writes` and the counts
are `run_report`; this module runs them in order.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...errors import UserError
from ..common import fx_rates as fxsvc
from ..common.bulk_write import gc_paused
from ..common.write_lock import WAITING, begin_write
from .candidates import blocked_pairs, load_candidates, load_open_payouts, stored_members
from .matchers import MATCHERS
from .rules import RuleSpec, load_rules
from .run_report import RuleCount, RunReport
from .run_writes import ENGINE, last_event, superseded, write_run
from .working_set import Work

Progress = Callable[[int, int, str], None]

__all__ = ["ENGINE", "Progress", "RuleCount", "RunReport", "run", "simulate"]


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
    payouts = None
    if any(r.kind == "payout" for r in specs):
        payouts, settled = load_open_payouts(session)
        if settled and work.n:  # payouts already at the bank: their open lines wait for level 1
            keys = pd.Series(
                list(zip(work.source_id.tolist(), work.payout_ref.tolist(), strict=True))
            )
            done = keys.isin(settled).to_numpy()
            work.payout_ref = np.where(done, "", work.payout_ref)
    t = time.perf_counter()
    for i, spec in enumerate(specs, start=1):
        _tick(progress, i, steps, f"Rule {spec.name}")
        r0 = time.perf_counter()
        fn = MATCHERS.get(spec.kind)
        if fn is None:
            continue
        if spec.kind == "payout":
            counts = fn(work, spec, payouts)
        elif spec.kind == "subset":
            name, step = spec.name, i
            counts = fn(
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
    waited = False
    if not dry_run:  # one run (or import) at a time; the next one reads what this one wrote

        def heard(done: int, total: int, text: str) -> None:
            nonlocal waited
            waited = waited or text == WAITING
            _tick(progress, done, total, text)

        begin_write(session, progress=heard)
    read_after = last_event(session)
    work, report = simulate(session, rules=rules, progress=progress, dry_run=dry_run)
    report.waited = waited
    steps = len(report.rules) + 3
    _tick(progress, steps - 1, steps, "Writing matches")
    if not dry_run:
        t = time.perf_counter()
        try:
            write_run(session, work, report, actor, today or dt.date.today(), read_after=read_after)
        except IntegrityError as exc:  # a clerk matched a record between the check and the write
            if "match_members" not in str(exc.orig) and "ux_match_members" not in str(exc.orig):
                raise
            raise UserError(
                "a record was matched by someone else while the run was writing; nothing was"
                " written, run the reconciliation again"
            ) from exc
        report.timings["write"] = time.perf_counter() - t
    else:
        suggested = stored_members(session, "suggested")
        report.superseded = superseded(work, suggested)[0].size
    report.seconds = time.perf_counter() - started
    _tick(progress, steps, steps, "Done")
    return report
