"""`workstation trail ID`: where the money of an order, line, payout or dispute is now."""

from __future__ import annotations

import argparse
from typing import Any

from ..cli import Context
from ..money import format_minor


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "trail",
        parents=parents,
        help="the money trail of an order, PSP transaction, payout, bank reference or dispute",
    )
    p.add_argument(
        "ident",
        metavar="ID",
        help="order number, PSP charge / transaction id, payout id, bank reference or dispute id",
    )
    p.set_defaults(handler=run_trail)


def run_trail(ctx: Context, args: argparse.Namespace) -> int:
    from ..services.settlement.trail import trail

    with ctx.db.session() as s:
        t = trail(s, args.ident)

    def human() -> str:
        lines = []
        for row in t.outline():
            n = row.node
            amount = (
                f"{format_minor(n.amount_minor, n.currency)} {n.currency}" if n.currency else ""
            )
            rel = f"{row.relation}: " if row.relation else ""
            lines.append(
                f"{'  ' * row.depth}{rel}{n.type} {n.kind} {n.label}  {n.account or ''}"
                f"  {n.booked_on or ''}  {amount}  [{n.status}]"
            )
        lines.extend(f"note: {x}" for x in t.notes)
        lines.append("reaches the bank" if t.reaches_bank else "does not reach a bank line")
        return "\n".join(lines)

    ctx.emit(t.as_json(), human)
    return 0
