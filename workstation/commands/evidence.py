"""`workstation evidence ...`: attach evidence files to a dispute, list them, list the kinds."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..cli import Context
from ..models import Evidence
from ..services.common.users import ensure_user
from ..services.disputes.agent_actions import find_dispute
from ..services.disputes.evidence import add_evidence_file
from ..services.disputes.reason_codes import evidence_kinds


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("evidence", help="dispute evidence files")
    what = p.add_subparsers(dest="evidence_command", metavar="ACTION", required=True)

    add = what.add_parser("add", parents=parents, help="attach a file to a dispute")
    add.add_argument("dispute_id", metavar="DISPUTE_ID", help="the PSP's id, e.g. dp_...")
    add.add_argument("file", type=Path, metavar="FILE")
    add.add_argument("--kind", help="receipt, proof_of_delivery, ... (see `evidence kinds`)")
    add.set_defaults(handler=run_add)

    ls = what.add_parser("list", parents=parents, help="the evidence of a dispute")
    ls.add_argument("dispute_id", metavar="DISPUTE_ID")
    ls.set_defaults(handler=run_list)

    kinds = what.add_parser("kinds", parents=parents, help="evidence kinds")
    kinds.set_defaults(handler=run_kinds)


def run_add(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.db.session() as s:
        ensure_user(s, ctx.actor)
        d = find_dispute(s, args.dispute_id)
        ev = add_evidence_file(s, d.id, args.file, kind=args.kind, actor=ctx.actor)
        payload = {
            "dispute_id": d.psp_dispute_id,
            "evidence_id": ev.id,
            "file_name": ev.file_name,
            "kind": ev.kind,
            "media_type": ev.media_type,
            "size": ev.size,
            "sha256": ev.sha256,
        }
    ctx.emit(
        payload,
        f"attached {payload['file_name']} ({payload['media_type']}, {payload['kind']}) "
        f"to {payload['dispute_id']}",
    )
    return 0


def run_list(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.db.session() as s:
        d = find_dispute(s, args.dispute_id)
        items = [
            {
                "evidence_id": e.id,
                "file_name": e.file_name,
                "kind": e.kind,
                "media_type": e.media_type,
                "size": e.size,
                "sha256": e.sha256,
                "added_by": e.added_by,
                "added_at": e.added_at,
            }
            for e in s.query(Evidence).filter(Evidence.dispute_id == d.id).order_by(Evidence.id)
        ]
    ctx.emit(
        {"dispute_id": args.dispute_id, "evidence": items},
        lambda: (
            "\n".join(
                f"{i['evidence_id']:>5}  {i['kind']:<28} {i['media_type']:<20} {i['file_name']}"
                for i in items
            )
            or "no evidence"
        ),
    )
    return 0


def run_kinds(ctx: Context, args: argparse.Namespace) -> int:
    kinds = evidence_kinds()
    ctx.emit({"kinds": kinds}, "\n".join(f"{k:<32} {v}" for k, v in kinds.items()))
    return 0
