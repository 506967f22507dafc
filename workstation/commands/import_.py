"""`workstation import FILE...`: import statements and reports (each file atomic, idempotent).

A file with bad lines needs `--skip-bad-rows`, a statement whose balances do not add up needs
`--accept-unbalanced "REASON"`; without them the file is refused and nothing is written. A dry
run prints what it read and exits 1 when the real import would refuse a file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..cli import Context
from ..errors import UserError
from ..importers.base import ImportOptions
from ..money import format_minor
from ..services.common.write_lock import WAITING, begin_write
from ..services.imports.file_import import FileReport, import_file
from ..services.imports.mapping_profiles import load_profile


def tell_waiting(_done: int, _total: int, text: str) -> None:
    """Progress for CLI writers: only the wait for another writer is shown (on stderr)."""
    if text == WAITING:
        sys.stderr.write(f"{text}\n")
        sys.stderr.flush()


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("import", parents=parents, help="import statement and report files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--format", help="skip detection and read as this format")
    p.add_argument("--account", help="put every line on this account (source) name")
    p.add_argument("--profile", help="saved column mapping profile for tabular files")
    p.add_argument("--dry-run", action="store_true", help="count and check, write nothing")
    p.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="import the good lines of a file with bad lines",
    )
    p.add_argument(
        "--accept-unbalanced",
        metavar="REASON",
        help="import a statement whose balances do not add up (opening + lines != closing); "
        "the batch keeps the reason, who accepted it and the difference",
    )
    p.set_defaults(handler=run)


def _line(r: FileReport) -> str:
    if r.already_imported:
        return f"{r.path}: already imported as batch {r.batch_id}; nothing added"
    verb = "would add" if r.dry_run else "added"
    text = (
        f"{r.path}: {r.format}, {r.account}: {verb} {r.new}, {r.duplicates} duplicate(s), "
        f"{r.problems} problem(s), {r.masked_pans} card number(s) masked"
    )
    for p in r.problem_details[:20]:
        text += f"\n  problem: {p.describe(r.path)}"
    for c in r.checks:
        text += f"\n  check: {c.describe(r.path)}"
    for note in r.notes:
        text += f"\n  note: {note}"
    if r.accepted_unbalanced:
        a = r.accepted_unbalanced
        verb = "would be accepted" if r.dry_run else "accepted"
        text += f"\n  {verb} unbalanced by {a['by']} (difference {a['difference']}): {a['reason']}"
    for o in r.overlaps:
        if not o.in_stored_period:
            continue
        text += (
            f"\n  overlap with stored lines of {o.account} ({o.first} .. {o.last}):"
            f" {o.already_stored} already stored"
            f" ({o.by_date_and_amount} by date and amount), {o.new_in_overlap} new"
        )
        if o.partial:
            for ln in o.lines[:50]:
                status = "already stored" if ln.status == "stored" else "new"
                amount = format_minor(ln.amount_minor, ln.currency)
                text += f"\n    line {ln.line_no} {ln.booked_on} {amount} {ln.currency}: {status}"
    for refusal in r.refusals:
        text += f"\n  would be refused: {refusal}"
    return text


def run(ctx: Context, args: argparse.Namespace) -> int:
    db = ctx.db
    reports: list[FileReport] = []
    for name in args.files:
        path = Path(name)
        with db.sessions() as session:
            if not args.dry_run:  # the write lock before anything is read
                begin_write(session, progress=tell_waiting)
            profile = load_profile(session, args.profile) if args.profile else None
            options = ImportOptions(
                format=args.format, account=args.account, profile=profile, profile_name=args.profile
            )
            try:
                report = import_file(
                    session,
                    path,
                    actor=ctx.actor,
                    options=options,
                    dry_run=args.dry_run,
                    skip_bad_rows=args.skip_bad_rows,
                    progress=tell_waiting,
                    accept_unbalanced=args.accept_unbalanced,
                )
            except UserError:
                session.rollback()
                raise
            if args.dry_run:
                session.rollback()
            else:
                session.commit()
        reports.append(report)
    refused = [r.path for r in reports if r.refusals]
    ctx.emit(
        {
            "files": [r.as_json() for r in reports],
            "new": sum(r.new for r in reports),
            "duplicates": sum(r.duplicates for r in reports),
            "refused": refused,
        },
        lambda: "\n".join(_line(r) for r in reports),
    )
    if refused:  # a dry run: the real import would refuse these files
        sys.stderr.write(
            f"error: the import would refuse {len(refused)} file(s): {', '.join(refused)}\n"
        )
        return 1
    return 0
