"""`workstation reconcile`: run the match cascade (or simulate it, or backtest it)."""

from __future__ import annotations

import argparse
from typing import Any

from ..cli import Context


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "reconcile", parents=parents, help="match open records with the rule cascade"
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run", action="store_true", help="show what the rules would do, write nothing"
    )
    mode.add_argument(
        "--backtest",
        action="store_true",
        help="compare the rules with the matches clerks confirmed (precision, recall)",
    )
    mode.add_argument("--explain", type=int, metavar="RECORD_ID", help="why a record is unmatched")
    p.set_defaults(handler=run)


def run(ctx: Context, args: argparse.Namespace) -> int:
    from ..services.reconcile import backtest, engine, why_not
    from .import_ import tell_waiting

    db = ctx.db
    if args.backtest:
        with db.sessions() as s:
            bt = backtest.backtest(s)
            s.rollback()
        ctx.emit(bt.as_json(), bt.describe())
        return 0
    if args.explain is not None:
        with db.sessions() as s:
            ex = why_not.why_not(s, args.explain)
        payload = {
            "record_id": args.explain,
            "candidates": [
                {
                    "record_id": c.record_id,
                    "source": c.source,
                    "external_id": c.external_id,
                    "booked_on": c.booked_on.isoformat(),
                    "amount_minor": c.amount_minor,
                    "currency": c.currency,
                    "score": c.score,
                    "failed": [x.text for x in c.failed],
                    "passed": [x.text for x in c.checks if x.ok],
                }
                for c in ex.candidates
            ],
        }
        lines = [f"record {args.explain}: {len(ex.candidates)} candidate(s)"]
        for c in ex.candidates:
            lines.append(
                f"  {c.record_id:>9} {c.source:<18} {c.external_id or '':<24} "
                f"score {c.score:>4}: {c.summary}"
            )
        ctx.emit(payload, "\n".join(lines))
        return 0
    with db.sessions() as s:
        report = engine.run(s, actor=ctx.actor, dry_run=args.dry_run, progress=tell_waiting)
        if args.dry_run:
            s.rollback()
        else:
            s.commit()
    ctx.emit(report.as_json(), report.describe())
    return 0
