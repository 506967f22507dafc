"""`workstation chart NAME --out FILE.png|FILE.svg`: a dashboard chart as an image (`--list`)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ..cli import Context
from ..errors import UserError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def add_period_args(p: argparse.ArgumentParser) -> None:
    """`--from DATE --to DATE` (inclusive); either alone means its calendar month."""
    p.add_argument(
        "--from",
        dest="date_from",
        type=_date,
        metavar="DATE",
        help="first day (default: start of the month of the latest booked line)",
    )
    p.add_argument(
        "--to",
        dest="date_to",
        type=_date,
        metavar="DATE",
        help="last day, inclusive (default: end of that month)",
    )


def period_from_args(session: Session, args: argparse.Namespace) -> tuple[dt.date, dt.date]:
    """The period the user asked for; the month of the latest data when they gave none."""
    from ..services.analytics.catalogue import default_period, month_end, month_start

    lo, hi = args.date_from, args.date_to
    if lo is None and hi is None:
        return default_period(session)
    if lo is None:
        lo = month_start(hi)
    if hi is None:
        hi = month_end(lo)
    if hi < lo:
        raise UserError(f"--to {hi} is before --from {lo}")
    return lo, hi


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "chart",
        parents=parents,
        help="write a dashboard chart as PNG or SVG (--list names them)",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="chart name (see --list)")
    p.add_argument("--list", action="store_true", help="list the chart names and exit")
    p.add_argument("--out", type=Path, metavar="FILE", help="FILE.png or FILE.svg")
    add_period_args(p)
    p.add_argument("--source", action="append", metavar="NAME", help="only this account")
    p.add_argument("--psp", action="append", metavar="NAME", help="only this PSP (stripe...)")
    p.add_argument(
        "--width", type=int, default=2400, metavar="PX", help="PNG width in pixels (2400)"
    )
    p.set_defaults(handler=run)


def run(ctx: Context, args: argparse.Namespace) -> int:
    from ..services.analytics.catalogue import CHARTS, chart_data

    if args.list:
        ctx.emit(
            {
                "charts": [
                    {"name": s.name, "title": s.title, "description": s.description}
                    for s in CHARTS.values()
                ]
            },
            lambda: "\n".join(f"{s.name:22} {s.description}" for s in CHARTS.values()),
        )
        return 0
    if not args.name:
        raise UserError("name a chart (workstation chart --list shows them)")
    if args.name not in CHARTS:
        raise UserError(f"no chart named {args.name!r}; charts: {', '.join(CHARTS)}")
    if args.out is None:
        raise UserError("--out FILE.png or --out FILE.svg is required")
    if args.out.suffix.lower() not in (".png", ".svg"):
        raise UserError("chart file name must end in .png or .svg", file=str(args.out))
    if not args.out.parent.is_dir():
        raise UserError("folder does not exist", file=str(args.out.parent))
    if args.width < 200 or args.width > 20_000:
        raise UserError("--width must be between 200 and 20000 pixels")
    with ctx.db.session() as s:
        lo, hi = period_from_args(s, args)
        data = chart_data(s, args.name, lo, hi, sources=args.source, psps=args.psp)
    from ..views.charts.render import render_to_file  # Qt only when an image is wanted

    path = render_to_file(data, args.out, width=args.width)
    size = path.stat().st_size
    ctx.emit(
        {
            "chart": args.name,
            "out": str(path),
            "bytes": size,
            "from": lo.isoformat(),
            "to": hi.isoformat(),
            "series": len(data.series),
            "points": len(data.x),
        },
        f"wrote {args.name} ({lo} to {hi}) to {path}",
    )
    return 0
