"""`workstation gui`: start the desktop application."""

from __future__ import annotations

import argparse
from typing import Any

from ..cli import Context


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("gui", help="start the desktop application (the default)")
    p.set_defaults(handler=run)


def run(ctx: Context, args: argparse.Namespace) -> int:
    from ..views.app import run_app  # Qt is imported only when the GUI is wanted

    return run_app(ctx.db_url)
