"""`workstation dispute ...`: the dispute queue, a case, claim/assign, decide, package, submit."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from ..cli import Context
from ..errors import UserError
from ..money import format_minor
from ..services.common.users import ensure_user
from ..services.disputes.agent_actions import DECISIONS, add_note, decide, find_dispute
from ..services.disputes.assignment import assign, claim_next
from ..services.disputes.case import case_view
from ..services.disputes.linking import link_disputes
from ..services.disputes.package import export_package, mark_submitted, preflight
from ..services.disputes.queue import (
    SORTS,
    QueueFilters,
    QueueRow,
    count_disputes,
    list_disputes,
)


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dispute", help="dispute (chargeback) cases")
    what = p.add_subparsers(dest="dispute_command", metavar="ACTION", required=True)

    ls = what.add_parser("list", parents=parents, help="the queue, most urgent first")
    _filters(ls)
    ls.add_argument("--sort", choices=SORTS, default="urgency")
    ls.add_argument("--limit", type=int, default=50, help="rows to show (default 50)")
    ls.set_defaults(handler=run_list)

    show = what.add_parser("show", parents=parents, help="one case: details, trail, checklist")
    show.add_argument("dispute_id", metavar="DISPUTE_ID")
    show.set_defaults(handler=run_show)

    pkg = what.add_parser("package", parents=parents, help="build the representment package ZIP")
    pkg.add_argument("dispute_id", metavar="DISPUTE_ID")
    pkg.add_argument("--out", required=True, type=Path, metavar="FILE.zip")
    pkg.add_argument("--force", action="store_true", help="export even if pre-flight fails")
    pkg.add_argument("--check", action="store_true", help="pre-flight only: report, write nothing")
    pkg.set_defaults(handler=run_package)

    claim = what.add_parser("claim", parents=parents, help="take the most urgent open case")
    claim.set_defaults(handler=run_claim)

    asg = what.add_parser("assign", parents=parents, help="assign cases to a user")
    asg.add_argument("dispute_ids", nargs="+", metavar="DISPUTE_ID")
    asg.add_argument("--to", metavar="LOGIN", help="user login; omit to unassign")
    asg.set_defaults(handler=run_assign)

    dec = what.add_parser(
        "decide", parents=parents, help="accept the chargeback or fight it (once per case)"
    )
    dec.add_argument("dispute_id", metavar="DISPUTE_ID")
    dec.add_argument("decision", choices=DECISIONS)
    dec.add_argument(
        "--change", action="store_true", help="replace an earlier decision (fight -> accept)"
    )
    dec.set_defaults(handler=run_decide)

    note = what.add_parser("note", parents=parents, help="add a note to a case")
    note.add_argument("dispute_id", metavar="DISPUTE_ID")
    note.add_argument("text")
    note.set_defaults(handler=run_note)

    sub_ = what.add_parser(
        "submit", parents=parents, help="record that the evidence was sent; locks the evidence"
    )
    sub_.add_argument("dispute_id", metavar="DISPUTE_ID")
    sub_.add_argument("--yes", action="store_true", help="confirm (required)")
    sub_.set_defaults(handler=run_submit)

    link = what.add_parser("link", parents=parents, help="re-link every case to its records")
    link.set_defaults(handler=run_link)


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", action="append", help="needs_response, under_review, won, ...")
    p.add_argument("--stage", action="append", help="inquiry, chargeback, pre_arbitration, ...")
    p.add_argument("--category", action="append", help="fraud, authorization, ...")
    p.add_argument("--network", action="append", help="Visa, Mastercard, Amex, Discover")
    p.add_argument("--psp", action="append", help="stripe, adyen, braintree, ...")
    p.add_argument("--assignee", metavar="LOGIN")
    p.add_argument("--unassigned", action="store_true")
    p.add_argument("--due-within", type=float, metavar="DAYS")


def filters_from(args: argparse.Namespace) -> QueueFilters:
    """Queue filters from the common command-line options."""
    return QueueFilters(
        status=args.status,
        stage=args.stage,
        category=args.category,
        network=args.network,
        psp=args.psp,
        assignee=args.assignee,
        unassigned=args.unassigned,
        due_within_days=args.due_within,
    )


def _row_json(r: QueueRow) -> dict[str, Any]:
    out = dataclasses.asdict(r)
    out["amount"] = format_minor(r.amount_minor, r.currency)
    return out


def _row_text(r: QueueRow) -> str:
    amount = f"{format_minor(r.amount_minor, r.currency)} {r.currency}"
    due = r.countdown or (r.due_by.strftime("%Y-%m-%d") if r.due_by else "-")
    return (
        f"{r.psp_dispute_id:<30} {r.psp:<9} {r.network or '-':<10} {r.reason_code or '-':<7} "
        f"{r.stage:<15} {r.status:<14} {amount:>16}  {due:<18} {r.assignee or '-'}"
    )


def run_list(ctx: Context, args: argparse.Namespace) -> int:
    f = filters_from(args)
    with ctx.db.session() as s:
        page = list_disputes(s, f, sort=args.sort, limit=max(1, args.limit))
        counts = count_disputes(s, f, now=page.now)
    head = (
        f"{'DISPUTE':<30} {'PSP':<9} {'NETWORK':<10} {'REASON':<7} {'STAGE':<15} "
        f"{'STATUS':<14} {'AMOUNT':>16}  {'DUE':<18} ASSIGNEE"
    )
    ctx.emit(
        {"disputes": [_row_json(r) for r in page.rows], "counts": counts},
        lambda: "\n".join(
            [
                head,
                *(_row_text(r) for r in page.rows),
                f"{counts['total']} case(s), {counts['overdue']} overdue, "
                f"{counts['due_today']} due within 24 h, {counts['unassigned']} unassigned",
            ]
        ),
    )
    return 0


def run_show(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.db.session() as s:
        d = find_dispute(s, args.dispute_id)
        v = case_view(s, d.id)
    payload = {
        "id": v.id,
        "dispute_id": v.psp_dispute_id,
        "psp": v.psp,
        "network": v.network,
        "reason_code": v.reason_code,
        "reason_title": v.reason.title if v.reason else None,
        "category": v.reason_category,
        "stage": v.stage,
        "status": v.status,
        "amount": format_minor(v.amount_minor, v.currency),
        "currency": v.currency,
        "due_by": v.due_by,
        "countdown": v.countdown,
        "assignee": v.assignee,
        "transaction": v.transaction,
        "order": v.order,
        "customer": v.customer,
        "money_trail": {
            "summary": v.trail.summary(),
            "lines": [dataclasses.asdict(ln) for ln in v.trail.lines],
        },
        "checklist": [dataclasses.asdict(i) for i in v.checklist.items],
        "ce3": dataclasses.asdict(v.ce3) if v.ce3 else None,
        "hint": dataclasses.asdict(v.hint),
        "evidence": [dataclasses.asdict(e) for e in v.evidence],
        "timeline": [dataclasses.asdict(t) for t in v.timeline],
        "locked": v.locked,
    }

    def text() -> str:
        lines = [
            f"{v.psp_dispute_id} ({v.psp}) {v.network or '-'} {v.reason_code or '-'} "
            f"{v.reason.title if v.reason else ''}",
            f"  {v.stage}, {v.status}, {format_minor(v.amount_minor, v.currency)} {v.currency}"
            f"{', ' + v.countdown if v.countdown else ''}",
            f"  money trail: {v.trail.summary()}",
            f"  hint: {v.hint.hint} ({v.hint.likelihood:.0%}): " + "; ".join(v.hint.reasons),
            f"  checklist ({v.checklist.title}):",
            *(f"    [{'x' if i.done else ' '}] {i.label}" for i in v.checklist.items),
        ]
        if v.ce3 is not None:
            lines.append(
                f"  Visa CE 3.0: {'eligible' if v.ce3.eligible else 'not eligible'}; "
                + "; ".join(v.ce3.reasons)
            )
        lines.append(f"  evidence: {len(v.evidence)} file(s)")
        lines += [f"    {e.id}: {e.file_name} ({e.kind}, {e.size} bytes)" for e in v.evidence]
        lines.append("  timeline:")
        lines += [f"    {t.at:%Y-%m-%d %H:%M} {t.actor}: {t.text}" for t in v.timeline]
        return "\n".join(lines)

    ctx.emit(payload, text)
    return 0


def run_package(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.db.session() as s:
        d = find_dispute(s, args.dispute_id)
        report = preflight(s, d.id)
        if args.check:
            ctx.emit({"preflight": report.as_json()}, report.text())
            return 0 if report.ok else 1
        if not report.ok and not args.force and not ctx.json:
            sys.stderr.write(report.text() + "\n")  # the full report, then the error line
        result = export_package(s, d.id, args.out, actor=ctx.actor, force=args.force, report=report)
    ctx.emit(
        {"preflight": report.as_json(), "out": str(result.path), "manifest": result.manifest},
        lambda: (
            report.text()
            + f"\nwrote {result.path}: {report.pages} pages, "
            + f"{len(result.manifest['files'])} file(s)"
        ),
    )
    return 0


def run_claim(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.db.session() as s:
        d = claim_next(s, ctx.actor)
        if d is None:
            ctx.emit({"claimed": None}, "no unassigned case needs a response")
            return 0
        payload = {"claimed": d.psp_dispute_id, "id": d.id, "due_by": d.due_by}
    ctx.emit(payload, f"claimed {payload['claimed']} (case {payload['id']})")
    return 0


def run_assign(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.db.session() as s:
        ids = [find_dispute(s, ref).id for ref in args.dispute_ids]
        n = assign(s, ids, args.to, ctx.actor)
    ctx.emit({"assigned": n, "to": args.to}, f"{n} case(s) assigned to {args.to or 'nobody'}")
    return 0


def run_decide(ctx: Context, args: argparse.Namespace) -> int:
    """Decide a case; someone else's decision made meanwhile is an error naming who (exit 1)."""
    from ..models import Dispute
    from ..services.common.row_locks import lock_rows

    with ctx.db.session() as s:
        d = find_dispute(s, args.dispute_id)
        lock_rows(s, Dispute, [d.id])  # before anything is written: SQLite waits its turn here
        ensure_user(s, ctx.actor)
        ev = decide(s, d.id, args.decision, ctx.actor, seen_event="any" if args.change else None)
        payload = {"dispute_id": d.psp_dispute_id, "decision": args.decision, "event": ev.id}
        status = d.status
    ctx.emit(payload, f"{payload['dispute_id']}: {args.decision} recorded ({status})")
    return 0


def run_note(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.db.session() as s:
        ensure_user(s, ctx.actor)
        d = find_dispute(s, args.dispute_id)
        ev = add_note(s, d.id, ctx.actor, args.text)
        payload = {"dispute_id": d.psp_dispute_id, "event": ev.id}
    ctx.emit(payload, f"note added to {payload['dispute_id']}")
    return 0


def run_submit(ctx: Context, args: argparse.Namespace) -> int:
    if not args.yes:
        raise UserError("submitting locks the evidence; confirm with --yes")
    with ctx.db.session() as s:
        ensure_user(s, ctx.actor)
        d = mark_submitted(s, find_dispute(s, args.dispute_id).id, ctx.actor, confirm=True)
        payload = {"dispute_id": d.psp_dispute_id, "status": d.status, "locked": True}
    ctx.emit(payload, f"{payload['dispute_id']} submitted; evidence locked")
    return 0


def run_link(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.db.session() as s:
        report = link_disputes(s)
    ctx.emit(
        dataclasses.asdict(report),
        f"{report.disputes} case(s): {report.charges_found} charge(s), "
        f"{report.orders_found} order(s) found, {report.links_changed} link(s) changed",
    )
    return 0
