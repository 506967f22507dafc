"""`workstation init`: create or upgrade the database schema."""

from __future__ import annotations

import argparse
from typing import Any

from ..cli import Context
from ..services.common.users import ensure_user
from ..services.disputes.reason_codes import ensure_loaded


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("init", parents=parents, help="create or upgrade the database")
    p.set_defaults(handler=run)


def run(ctx: Context, args: argparse.Namespace) -> int:
    db = ctx.db  # opening it applies the migrations
    with db.session() as s:
        ensure_user(s, ctx.actor)
        ensure_loaded(s)  # reason codes: adds shipped ones, keeps the team's edits
    ctx.emit(
        {"database": db.url, "dialect": db.dialect, "status": "ready"}, f"database ready: {db.url}"
    )
    return 0
