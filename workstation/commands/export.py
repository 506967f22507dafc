"""`workstation export WHAT --out FILE.csv|FILE.xlsx`: tables to CSV or XLSX, one subcommand each.

Each table has a `_register_<what>(what, parents)` function adding its sub-parser and a handler;
`register` calls every function named in `_TABLES`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..cli import Context


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


_TABLES: tuple[Callable[[Any, list[argparse.ArgumentParser]], None], ...] = (
    _register_disputes,
    _register_kpis,
    _register_matches,
    _register_unmatched,
    _register_roundtrip,
)
