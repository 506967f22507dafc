"""`workstation batches list|undo`: past imports, and undoing a whole import batch."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import select

from ..cli import Context
from ..models import ImportBatch
from ..services.imports.file_import import accepted_unbalanced, undo_batch


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("batches", help="list past imports or undo one")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", parents=parents, help="past import batches, newest first")
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(handler=run_list)
    undo = verbs.add_parser("undo", parents=parents, help="remove every line an import added")
    undo.add_argument("batch_id", type=int, metavar="BATCH_ID")
    undo.set_defaults(handler=run_undo)


def run_list(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.db.session() as s:
        batches = list(
            s.scalars(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(args.limit))
        )
        rows = [
            {
                "batch_id": b.id,
                "file": b.file_name,
                "format": b.format,
                "imported_by": b.imported_by,
                "imported_at": b.imported_at.isoformat(timespec="seconds"),
                "status": b.status,
                "rows": b.rows_total,
                "new": b.rows_new,
                "duplicates": b.rows_duplicate,
                "problems": b.rows_problem,
                "masked_pans": b.masked_pans,
                # who imported a statement whose balances do not add up, why, the difference
                "accepted_unbalanced": _accepted(b.report),
            }
            for b in batches
        ]

    def text() -> str:
        if not rows:
            return "no imports yet"
        return "\n".join(
            f"{r['batch_id']:>6}  {r['imported_at']}  {r['status']:<9} {r['format']:<10} "
            f"new {r['new']:>8,}  dup {r['duplicates']:>8,}  {r['file']}{_flag(r)}"
            for r in rows
        )

    ctx.emit({"batches": rows}, text)
    return 0


def _accepted(report: dict[str, Any] | None) -> dict[str, Any] | None:
    a = accepted_unbalanced(report)
    if a is None:
        return None
    keys = ("by", "at", "reason", "difference")
    return {**{k: a.get(k) for k in keys}, "statements": len(a.get("statements") or [])}


def _flag(row: dict[str, Any]) -> str:
    a = row["accepted_unbalanced"]
    if a is None:
        return ""
    return (
        f"\n        ! accepted unbalanced by {a['by']}, difference {a['difference']}: {a['reason']}"
    )


def run_undo(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.db.session() as s:
        removed = undo_batch(s, args.batch_id, actor=ctx.actor)
    ctx.emit(
        {"batch_id": args.batch_id, "removed": removed, "status": "undone"},
        f"import batch {args.batch_id} undone: {removed:,} line(s) removed",
    )
    return 0
