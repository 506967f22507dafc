"""`workstation export WHAT --out FILE.csv|FILE.xlsx`: tables to CSV or XLSX, one subcommand each.

Each table has a `_register_<what>(what, parents)` function adding its sub-parser and a handler;
`register` calls every function named in `_TABLES`.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..cli import Context
from ..errors import UserError


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="export a table to CSV or XLSX")
    what = p.add_subparsers(dest="export_what", metavar="WHAT", required=True)
    for add in _TABLES:
        add(what, parents)


def _out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help="FILE.csv or FILE.xlsx")


# ----------------------------------------------------------------------------- disputes


def _register_disputes(what: Any, parents: list[argparse.ArgumentParser]) -> None:
    from .dispute import _filters

    p = what.add_parser("disputes", parents=parents, help="dispute cases")
    _out(p)
    _filters(p)
    p.set_defaults(handler=run_disputes)


def run_disputes(ctx: Context, args: argparse.Namespace) -> int:
    from ..services.disputes.queue_export import export_disputes
    from .dispute import filters_from

    with ctx.db.session() as s:
        n = export_disputes(s, args.out, filters_from(args))
    ctx.emit({"out": str(args.out), "rows": n}, f"wrote {n} dispute(s) to {args.out}")
    return 0


# ----------------------------------------------------------------------------- kpis


def _register_kpis(what: Any, parents: list[argparse.ArgumentParser]) -> None:
    from .chart import add_period_args

    p = what.add_parser("kpis", parents=parents, help="management KPI workbook with charts")
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help="FILE.xlsx")
    add_period_args(p)
    p.set_defaults(handler=run_kpis)


def run_kpis(ctx: Context, args: argparse.Namespace) -> int:
    from ..services.analytics.catalogue import export_kpis
    from .chart import period_from_args

    with ctx.db.session() as s:
        lo, hi = period_from_args(s, args)
        report = export_kpis(s, args.out, lo, hi)
    ctx.emit(
        report.as_json(),
        f"wrote {len(report.sheets)} sheets ({lo} to {hi}) to {args.out}",
    )
    return 0


# ----------------------------------------------------------------------------- reconciliation


def _register_matches(what: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = what.add_parser("matches", parents=parents, help="matches, one row per member record")
    _out(p)
    p.add_argument(
        "--status",
        default="auto,confirmed,suggested",
        help="comma-separated match statuses (default: auto,confirmed,suggested)",
    )
    p.set_defaults(handler=run_matches)


def run_matches(ctx: Context, args: argparse.Namespace) -> int:
    from ..services.reconcile.exports import export_matches
    from ..services.reconcile.table_filters import MatchFilters

    statuses = tuple(s.strip() for s in args.status.split(",") if s.strip())
    with ctx.db.sessions() as s:
        n = export_matches(s, args.out, MatchFilters(statuses=statuses))
    ctx.emit({"out": str(args.out), "rows": n}, f"wrote {n} match row(s) to {args.out}")
    return 0


def _register_unmatched(what: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = what.add_parser("unmatched", parents=parents, help="records no match covers yet")
    _out(p)
    p.add_argument(
        "--with-suggested", action="store_true", help="include records held by suggestions"
    )
    p.set_defaults(handler=run_unmatched)


def run_unmatched(ctx: Context, args: argparse.Namespace) -> int:
    from ..services.reconcile.exports import export_unmatched
    from ..services.reconcile.table_filters import ExceptionFilters

    states = ("unmatched", "suggested") if args.with_suggested else ("unmatched",)
    with ctx.db.sessions() as s:
        n = export_unmatched(s, args.out, ExceptionFilters(states=states))
    ctx.emit({"out": str(args.out), "rows": n}, f"wrote {n} unmatched record(s) to {args.out}")
    return 0


def _register_roundtrip(what: Any, parents: list[argparse.ArgumentParser]) -> None:
    from .roundtrip import register_export

    register_export(what, parents)


# ----------------------------------------------------------------------------- settlement


def _day_arg(value: str | None, option: str) -> dt.date | None:
    """A YYYY-MM-DD option value; a UserError naming the option otherwise."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise UserError(f"not a date (YYYY-MM-DD): {value!r}", field=option) from None


def _register_settlement(what: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = what.add_parser(
        "settlement",
        parents=parents,
        help="month-end settlement proof: PSP roll-forward, bank receipts, in transit (XLSX)",
    )
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help="FILE.xlsx")
    p.add_argument("--from", dest="date_from", required=True, metavar="DATE", help="first day")
    p.add_argument("--to", dest="date_to", required=True, metavar="DATE", help="cut-off day")
    p.set_defaults(handler=run_settlement)


def run_settlement(ctx: Context, args: argparse.Namespace) -> int:
    from functools import partial

    from ..exporters.settlement_workbook import write_settlement_workbook
    from ..money import format_minor
    from ..services.settlement.rollforward import proof_lines, roll_forward

    lo = _day_arg(args.date_from, "--from")
    hi = _day_arg(args.date_to, "--to")
    assert lo is not None and hi is not None  # both are required options
    if hi < lo:
        raise UserError(f"--to {hi} is before --from {lo}", field="--to")
    with ctx.db.session() as s:
        proof = roll_forward(s, lo, hi)
        report = write_settlement_workbook(proof, args.out, partial(proof_lines, s))
    payload = proof.as_json() | {
        "out": str(args.out),
        "lines": report.lines,
        "lines_total": report.lines_total,
        "truncated": report.truncated,
    }

    def summary() -> str:
        out = [f"settlement proof {lo} to {hi} written to {args.out} ({report.lines:,} lines)"]
        for b in proof.psp:
            mark = "closes" if b.closes else "DOES NOT CLOSE"
            cur = b.currency
            out.append(
                f"  {b.account} {cur}: opening {format_minor(b.opening.amount_minor, cur)}"
                f", closing {format_minor(b.closing.amount_minor, cur)}, {mark}"
                f" (difference {format_minor(b.difference_minor, cur)})"
            )
        for cur, (n, total) in proof.in_transit_by_currency().items():
            out.append(f"  in transit at {hi}: {n} payout(s), {format_minor(total, cur)} {cur}")
        if report.truncated:
            out.append(
                f"  note: lines sheet truncated ({report.lines:,} of {report.lines_total:,})"
            )
        return "\n".join(out)

    ctx.emit(payload, summary)
    return 0


# ----------------------------------------------------------------------------- payouts


def _register_payouts(what: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = what.add_parser("payouts", parents=parents, help="payouts with their bank lines")
    _out(p)
    p.add_argument("--status", help="open, in_transit, paid, failed or carried_forward")
    p.add_argument("--psp", help="stripe, adyen, ...")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="first payout date")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="last payout date")
    p.add_argument("--as-of", dest="as_of", metavar="DATE", help="status at the end of this day")
    p.set_defaults(handler=run_payouts)


def run_payouts(ctx: Context, args: argparse.Namespace) -> int:
    from ..services.settlement.payout_queries import STATES, PayoutFilter, export_payouts

    status = (args.status or "").strip().lower() or None
    if status is not None and status not in STATES:
        raise UserError(
            f"unknown status {args.status!r}; one of {', '.join(STATES)}", field="--status"
        )
    filters = PayoutFilter(
        psp=(args.psp or "").strip().lower() or None,
        status=status,
        date_from=_day_arg(args.date_from, "--from"),
        date_to=_day_arg(args.date_to, "--to"),
        as_of=_day_arg(args.as_of, "--as-of"),
    )
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        raise UserError(
            f"--to {filters.date_to} is before --from {filters.date_from}", field="--to"
        )
    with ctx.db.session() as s:
        n = export_payouts(s, args.out, filters)
    ctx.emit({"out": str(args.out), "rows": n}, f"wrote {n} payout(s) to {args.out}")
    return 0


_TABLES: tuple[Callable[[Any, list[argparse.ArgumentParser]], None], ...] = (
    _register_disputes,
    _register_kpis,
    _register_matches,
    _register_unmatched,
    _register_roundtrip,
    _register_settlement,
    _register_payouts,
)
