"""Command line: `workstation [--db URL] COMMAND ...`; no command starts the GUI.

Exit codes: 0 success; 1 with `error: ...` on stderr for anything the user caused; 2 for usage
errors (argparse). `--json` prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .config import current_login
from .db import Database
from .errors import UserError

# Modules under workstation.commands, each with `register(subparsers, parents)`.
COMMAND_MODULES = (
    "init",
    "demo",
    "gui",
    "import_",
    "batches",
    "reconcile",
    "export",
    "dispute",
    "evidence",
    "chart",
    "roundtrip",
    "trail",
)


@dataclass
class Context:
    """What every command handler gets."""

    db_url: str | None
    json: bool
    actor: str = field(default_factory=current_login)
    _db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.db_url)
        return self._db

    def emit(self, payload: dict[str, Any], text: str | Callable[[], str] | None = None) -> None:
        """Print `payload` as one JSON object with --json, else the human text."""
        if self.json:
            sys.stdout.write(json.dumps(payload, default=str, ensure_ascii=False) + "\n")
        else:
            out = text() if callable(text) else text
            if out is None:
                out = "\n".join(f"{k}: {v}" for k, v in payload.items())
            sys.stdout.write(out + "\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser = argparse.ArgumentParser(
        prog="workstation",
        description="Reconciliation & dispute workstation. Without a command, starts the GUI.",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="SQLAlchemy URL (default: $WORKSTATION_DB or the embedded SQLite file)",
    )
    parser.add_argument("--version", action="version", version=f"workstation {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.commands.{name}":
                continue
            raise
        module.register(sub, [common])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*(argv or []), "gui"])
    ctx = Context(db_url=args.db, json=getattr(args, "json", False))
    try:
        code = args.handler(ctx, args)
        return int(code or 0)
    except UserError as exc:
        sys.stderr.write(f"error: {exc.describe()}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 1
    finally:
        if ctx._db is not None:
            ctx._db.dispose()
