"""Import use case: read a file, recognise it, parse it, store it once; undo a whole batch.

A file is refused, with nothing written, while it has bad lines (unless the user imports the good
ones: `skip_bad_rows`) or a statement whose balances do not add up (unless the user accepts it
with a reason: `accept_unbalanced`; the batch report keeps who accepted it, why, and the
difference). A dry run refuses nothing but lists in `FileReport.refusals` what the real import
would refuse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from ...errors import UserError
from ...importers import registry
from ...importers.base import ImportOptions, ParseResult, Problem, Progress
from ...importers.text import decode, looks_binary
from ...models import (
    Dispute,
    DisputeLink,
    ImportBatch,
    Match,
    MatchMember,
    Record,
    RecordRaw,
    RecordReference,
)
from ..common import audit
from ..common.card_numbers import mask_text
from ..common.write_lock import begin_write
from ..disputes.intake import relink_for_batch, upsert_disputes
from ..reconcile import cases
from ..settlement import payout_build
from .checks import Unbalanced, check_records, date_window, unbalanced_statements
from .ingest import store
from .statement_overlap import StatementOverlap

MAX_FILE_BYTES = 1 << 30  # 1 GiB: larger exports should be split by date range
KEEP_ORIGINAL_BYTES = 32 << 20  # text files up to this size are kept with their batch
ACCEPTED_UNBALANCED = "accepted_unbalanced"  # key of ImportBatch.report
MAX_REASON = 500  # characters of the reason an unbalanced statement was accepted for


@dataclass
class FileReport:
    """Outcome of importing (or previewing) one file."""

    path: str
    format: str
    account: str
    new: int
    duplicates: int
    problems: int
    masked_pans: int
    batch_id: int | None
    rows_total: int = 0
    already_imported: bool = False
    dry_run: bool = False
    problem_details: list[Problem] = field(default_factory=list)
    checks: list[Problem] = field(default_factory=list)
    preview: pd.DataFrame | None = None
    disputes: dict[str, int] | None = None  # created/updated/... for dispute files
    notes: list[str] = field(default_factory=list)  # how the file was read (decimal mark...)
    unbalanced: list[Unbalanced] = field(default_factory=list)  # failed balance checks
    # What the real import would refuse with the same options (filled by dry runs).
    refusals: list[str] = field(default_factory=list)
    accepted_unbalanced: dict[str, Any] | None = None  # as kept in the batch report
    # Bank lines inside a period already stored for their account (statement_overlap).
    overlaps: list[StatementOverlap] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The CLI's per-file JSON object."""
        return {
            "path": self.path,
            "format": self.format,
            "account": self.account,
            "new": self.new,
            "duplicates": self.duplicates,
            "problems": self.problems,
            "masked_pans": self.masked_pans,
            "batch_id": self.batch_id,
            "rows_total": self.rows_total,
            "already_imported": self.already_imported,
            "dry_run": self.dry_run,
            "problem_details": [p.describe() for p in self.problem_details[:50]],
            "checks": [p.describe() for p in self.checks],
            "disputes": self.disputes,
            "notes": self.notes,
            "unbalanced": [u.as_json() for u in self.unbalanced],
            "refusals": self.refusals,
            "accepted_unbalanced": self.accepted_unbalanced,
            "overlaps": [o.as_json() for o in self.overlaps],
        }


def read_file(path: Path) -> bytes:
    """The file's bytes, refusing missing, unreadable and oversized files with a clear message."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise UserError("file not found", file=str(path)) from exc
    if path.is_dir():
        raise UserError("is a folder, not a file", file=str(path))
    if size > MAX_FILE_BYTES:
        raise UserError(
            f"file is {size / 2**30:.1f} GiB; the largest file that can be imported is "
            f"{MAX_FILE_BYTES // 2**20} MiB — export a shorter date range",
            file=str(path),
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read the file: {exc.strerror}", file=str(path)) from exc


def parse_file(
    path: Path, data: bytes, options: ImportOptions, progress: Progress | None = None
) -> ParseResult:
    """Recognise and parse a file without touching the database."""
    if options.format:
        imp = registry.by_name(options.format)
    elif options.profile is not None:  # a saved mapping says how to read this table
        imp = registry.by_name("tabular")
    else:
        imp = registry.detect(data[: registry.SNIFF_BYTES], path)
    return imp.parse(path, data, options, progress)


def import_file(
    session: Session,
    path: Path,
    *,
    actor: str,
    options: ImportOptions | None = None,
    dry_run: bool = False,
    skip_bad_rows: bool = False,
    preview_rows: int = 0,
    progress: Progress | None = None,
    accept_unbalanced: str | None = None,
) -> FileReport:
    """Import one file in the caller's transaction (the caller commits, or rolls back a dry run).

    Args:
        session: one Session for this file; commit it only if this returns.
        path: the file.
        actor: login of the importing user.
        options: format, account, mapping profile.
        dry_run: count and preview only; the caller must roll back.
        skip_bad_rows: import the good rows of a file that has row problems. Without it such a
            file is refused so nothing is written until the user has decided.
        preview_rows: how many new rows to return for a preview.
        progress: `(done, total, text)`, may raise `Cancelled`.
        accept_unbalanced: the reason to import a file with a statement whose balances do not
            add up (opening + lines != closing). Without it such a file is refused; with it the
            batch records that it was accepted, by whom, why, and the difference.
    """
    options = options or ImportOptions()
    reason = _reason(accept_unbalanced)
    data = read_file(path)
    sha = hashlib.sha256(data).hexdigest()
    if not dry_run:  # one writer at a time: what it reads next is what the last one committed
        begin_write(session, progress=progress)
    previous = session.scalar(
        select(ImportBatch).where(ImportBatch.sha256 == sha, ImportBatch.status == "committed")
    )
    if previous is not None:
        return FileReport(
            path=str(path),
            format=previous.format,
            account="",
            new=0,
            duplicates=previous.rows_total,
            problems=0,
            masked_pans=0,
            batch_id=previous.id,
            rows_total=previous.rows_total,
            already_imported=True,
            dry_run=dry_run,
        )
    result = parse_file(path, data, options, progress)
    check_records(result, window=date_window(session))
    # The file's bytes are needed again only to keep a copy; let a big one go before storing.
    original = data if _keepable(data) else None
    del data
    errors = [p for p in result.problems if p.severity == "error"]
    unbalanced = unbalanced_statements(result)
    refusals: list[UserError] = []
    if errors and not skip_bad_rows:
        first = errors[0]
        refusals.append(
            UserError(
                f"{len(errors)} line(s) cannot be imported, first: {first.message}"
                " (nothing was written; import the good lines with --skip-bad-rows)",
                file=str(path),
                line=first.line,
                field=first.field,
            )
        )
    if unbalanced and reason is None:
        refusals.append(unbalanced_refusal(path, unbalanced))
    if refusals and not dry_run:
        raise refusals[0]
    stored = store(
        session,
        result,
        file_name=path.name,
        sha256=sha,
        actor=actor,
        forced_account=options.account,
        dry_run=dry_run,
        problems=result.problems,
        progress=progress,
        release_records=True,
    )
    if not dry_run and stored.batch_id is not None and original is not None:
        _keep_original(session, stored.batch_id, original)
    accepted = None
    if unbalanced and reason is not None:
        accepted = _accepted(unbalanced, actor, reason)
        if not dry_run and stored.batch_id is not None:
            _record_accepted(session, stored.batch_id, actor, accepted)
    disputes = None
    if not dry_run and stored.batch_id is not None:
        if result.disputes:
            upserted = upsert_disputes(session, result.disputes, actor, stored.batch_id)
            disputes = upserted.as_json()
        elif stored.new:
            relink_for_batch(session, stored.batch_id, stored.new)
    preview = None
    if preview_rows and stored.new_frame is not None:
        preview = stored.new_frame.head(preview_rows)
    return FileReport(
        path=str(path),
        format=result.format,
        account=", ".join(stored.accounts),
        new=stored.new,
        duplicates=stored.duplicates,
        problems=len(errors),
        masked_pans=stored.masked_pans,
        batch_id=None if dry_run else stored.batch_id,
        rows_total=stored.rows_total,
        dry_run=dry_run,
        problem_details=result.problems,
        checks=result.checks,
        preview=preview,
        disputes=disputes,
        notes=result.notes,
        unbalanced=unbalanced,
        refusals=[r.describe() for r in refusals] if dry_run else [],
        accepted_unbalanced=accepted,
        overlaps=stored.overlaps,
    )


def unbalanced_refusal(path: Path, unbalanced: list[Unbalanced]) -> UserError:
    """The refusal of a file with statements whose balances do not add up."""
    n = len(unbalanced)
    listed = "; ".join(u.describe() for u in unbalanced[:5])
    more = f"; and {n - 5} more" if n > 5 else ""
    first = unbalanced[0].check
    head = "" if n == 1 else f"{n} statements do not balance: "
    return UserError(
        f"{head}{listed}{more}. Nothing was written; if the bank confirms the file as it is, "
        'import it with --accept-unbalanced "REASON"',
        file=str(path),
        line=first.line,
        field=first.field,
    )


def accepted_unbalanced(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a batch report says about the unbalanced statements accepted into it, or None."""
    value = (report or {}).get(ACCEPTED_UNBALANCED)
    return value if isinstance(value, dict) else None


def _reason(text: str | None) -> str | None:
    """The reason an unbalanced statement is accepted for: required, one line, bounded."""
    if text is None:
        return None
    reason = " ".join(text.split())
    if not reason:
        raise UserError("accepting an unbalanced statement needs a reason (--accept-unbalanced)")
    if len(reason) > MAX_REASON:
        raise UserError(f"the reason is {len(reason)} characters long; at most {MAX_REASON}")
    return reason


def _accepted(unbalanced: list[Unbalanced], actor: str, reason: str) -> dict[str, Any]:
    by_ccy: dict[str, int] = {}
    for u in unbalanced:
        if u.difference is not None and u.currency:
            by_ccy[u.currency] = by_ccy.get(u.currency, 0) + u.difference
    return {
        "by": actor,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "reason": reason,
        "difference": ", ".join(
            Unbalanced.money_of(minor, ccy) for ccy, minor in sorted(by_ccy.items())
        )
        or "?",
        "statements": [u.as_json() for u in unbalanced],
    }


def _record_accepted(session: Session, batch_id: int, actor: str, accepted: dict[str, Any]) -> None:
    """Mark the batch, for ever, as holding unbalanced statements accepted by `actor`."""
    batch = session.get(ImportBatch, batch_id)
    assert batch is not None
    batch.report = {**(batch.report or {}), ACCEPTED_UNBALANCED: accepted}
    session.flush()
    audit.log(
        session,
        actor,
        "accept_unbalanced",
        "import_batch",
        batch_id,
        {
            "reason": accepted["reason"],
            "difference": accepted["difference"],
            "statements": [s["statement"] for s in accepted["statements"]],
        },
    )


def undo_batch(session: Session, batch_id: int, *, actor: str) -> int:
    """Remove every record a batch added, if none of them is in a match. Returns records removed."""
    begin_write(session)
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise UserError(f"no import batch {batch_id}")
    if batch.status != "committed":
        raise UserError(f"import batch {batch_id} was already undone")
    in_batch = select(Record.id).where(Record.batch_id == batch_id)
    live = (
        select(MatchMember.id)
        .join(Match, Match.id == MatchMember.match_id)
        .where(MatchMember.record_id.in_(in_batch), Match.status != "rejected")
    )
    if session.scalar(select(exists(live))):
        raise UserError(
            f"import batch {batch_id} has matched lines; unmatch them before undoing the import"
        )
    refs = payout_build.refs_of_batch(session, batch_id)
    settled = payout_build.settled_payouts(session, refs, batch_id)
    if settled:
        raise UserError(
            f"import batch {batch_id} has lines of payout {settled[0]}, which is matched to its"
            " bank line; unmatch that payout before undoing the import"
        )
    # Rejected pairings only remember "never propose this again"; they go with their lines.
    rejected = select(MatchMember.match_id).where(MatchMember.record_id.in_(in_batch))
    session.execute(delete(Match).where(Match.id.in_(rejected), Match.status == "rejected"))
    cases.delete_for_batch(session, batch_id)  # open exception cases of these lines go too
    session.execute(delete(DisputeLink).where(DisputeLink.record_id.in_(in_batch)))
    for col in (Dispute.charge_record_id, Dispute.order_record_id):
        session.execute(update(Dispute).where(col.in_(in_batch)).values({col.key: None}))
    session.execute(delete(RecordReference).where(RecordReference.record_id.in_(in_batch)))
    session.execute(delete(RecordRaw).where(RecordRaw.record_id.in_(in_batch)))
    removed = session.execute(delete(Record).where(Record.batch_id == batch_id)).rowcount or 0  # type: ignore[attr-defined]
    payout_build.refresh_payouts(session, refs)
    session.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(status="undone"))
    audit.log(session, actor, "undo_import", "import_batch", batch_id, {"records": removed})
    return int(removed)


def _keepable(data: bytes) -> bool:
    """Text files up to KEEP_ORIGINAL_BYTES are kept with their batch; binary and huge ones not."""
    return len(data) <= KEEP_ORIGINAL_BYTES and not looks_binary(data[:4096])


def _keep_original(session: Session, batch_id: int, data: bytes) -> None:
    """Keep a text file with its batch, card numbers masked."""
    text, encoding = decode(data)
    masked, _ = mask_text(text)
    session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id)
        .values(content=masked.encode(encoding if encoding != "utf-16" else "utf-8"))
    )
