"""`workstation roundtrip apply FILE.xlsx` and `workstation export roundtrip`: Excel decisions.

    workstation export roundtrip --queue exceptions --out decisions.xlsx [--age-bucket 8-30 ...]
    workstation roundtrip apply decisions.xlsx [--dry-run] [--force] [--json]

`apply` prints the plan (what changes from -> to, rows changed by someone else since the
export, invalid decisions with their sheet row and column, unknown ids) and applies the clean
rows; `--dry-run` stops after the plan, `--force` applies the conflicting rows too. A row that
someone else changed between the plan and the apply (say, a colleague applying a workbook of
the same export at the same moment) is reported as skipped, never as applied.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..cli import Context
from ..errors import UserError


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("roundtrip", help="apply decisions filled in a workbook exported for Excel")
    what = p.add_subparsers(dest="roundtrip_command", metavar="ACTION", required=True)
    ap = what.add_parser(
        "apply",
        parents=parents,
        help="show what a filled-in decision workbook changes, then apply it",
    )
    ap.add_argument("file", type=Path, metavar="FILE.xlsx")
    ap.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    ap.add_argument(
        "--force", action="store_true", help="also apply rows changed by someone else since"
    )
    ap.set_defaults(handler=run_apply)


def register_export(what: Any, parents: list[argparse.ArgumentParser]) -> None:
    """The `export roundtrip` subcommand (registered by commands/export.py)."""
    from .dispute import _filters

    p = what.add_parser(
        "roundtrip",
        parents=parents,
        help="a queue as .xlsx with a decision drop-down, to fill in and apply back",
    )
    p.add_argument("--queue", required=True, choices=("exceptions", "disputes"))
    p.add_argument("--out", required=True, type=Path, metavar="FILE.xlsx")
    _filters(p)  # disputes: --status --stage --category --network --psp --assignee ...
    g = p.add_argument_group("exceptions filters")
    g.add_argument("--state", action="append", help="unmatched, suggested (default both)")
    g.add_argument("--source-kind", action="append", help="bank, psp, ledger")
    g.add_argument("--currency", action="append", help="ISO currency code")
    g.add_argument("--age-bucket", choices=("0-2", "3-7", "8-30", ">30"))
    g.add_argument("--case-status", action="append", help="open, assigned, pending, resolved")
    g.add_argument("--text", help="reference, id, counterparty or description")
    p.set_defaults(handler=run_export)


def exception_filters(args: argparse.Namespace) -> Any:
    from ..services.reconcile.table_filters import OPEN_STATES, ExceptionFilters

    assignee = "" if args.unassigned else args.assignee
    return ExceptionFilters(
        states=tuple(args.state or OPEN_STATES),
        source_kinds=tuple(args.source_kind or ()),
        currencies=tuple(c.upper() for c in args.currency or ()),
        age_bucket=args.age_bucket,
        case_statuses=tuple(args.case_status or ()),
        assignee=assignee,
        text=args.text,
    )


def run_export(ctx: Context, args: argparse.Namespace) -> int:
    from ..services.roundtrip.export import export_roundtrip
    from .dispute import filters_from

    filters = exception_filters(args) if args.queue == "exceptions" else filters_from(args)
    with ctx.db.session() as s:
        report = export_roundtrip(s, args.queue, args.out, filters, actor=ctx.actor)
    ctx.emit(
        report.as_json(),
        f"wrote {report.rows:,} {args.queue} row(s) to {args.out}; fill in the decision column "
        f"and run `workstation roundtrip apply {args.out}`",
    )
    return 0


def run_apply(ctx: Context, args: argparse.Namespace) -> int:
    from ..services.roundtrip.apply import apply_roundtrip
    from ..services.roundtrip.plan import plan_roundtrip

    if not args.file.is_file():
        raise UserError("file not found", file=str(args.file))
    with ctx.db.session() as s:
        plan = plan_roundtrip(s, args.file)
        if args.dry_run:
            ctx.emit({"plan": plan.as_json(), "applied": None}, plan.describe())
            return 0
        report = apply_roundtrip(s, plan, ctx.actor, force=args.force)
    ctx.emit(
        {"plan": plan.as_json(), "applied": report.as_json()},
        lambda: plan.describe() + "\n" + report.describe(),
    )
    return 0
