"""`workstation demo`: fill the database with a deterministic demo month (orders, PSPs, bank)."""

from __future__ import annotations

import argparse
from typing import Any

from ..cli import Context
from ..errors import UserError
from ..services.demo.merchant_month import load_demo
from ..services.demo.storage import DemoSummary

MAX_ORDERS = 10_000_000


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        parents=parents,
        help="load a demo month: orders, Stripe and Adyen settlements, bank lines, disputes",
    )
    p.add_argument("--orders", type=int, default=2000, metavar="N", help="orders (default 2000)")
    p.add_argument("--seed", type=int, default=7, metavar="S", help="random seed (default 7)")
    p.add_argument(
        "--force", action="store_true", help="add the demo data even if the database has records"
    )
    p.set_defaults(handler=run)


def _text(summary: DemoSummary) -> str:
    lines = [f"demo month with {summary.orders:,} orders loaded"]
    for name, count in summary.records.items():
        lines.append(f"  {name}: {count:,} records")
    lines.append("  by kind: " + ", ".join(f"{k} {v:,}" for k, v in summary.kinds.items()))
    lines.append(f"  disputes: {summary.disputes:,}")
    return "\n".join(lines)


def run(ctx: Context, args: argparse.Namespace) -> int:
    if not 1 <= args.orders <= MAX_ORDERS:
        raise UserError(f"--orders must be between 1 and {MAX_ORDERS:,}")
    with ctx.db.session() as session:
        summary = load_demo(
            session, orders=args.orders, seed=args.seed, actor=ctx.actor, force=args.force
        )
    ctx.emit(summary.as_json(), lambda: _text(summary))
    return 0
