"""Import use case: read a file, recognise it, parse it, store it once; undo a whole batch."""

from __future__ import annotations

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
from .checks import check_records, date_window
from .ingest import store

MAX_FILE_BYTES = 1 << 30  # 1 GiB: larger exports should be split by date range
KEEP_ORIGINAL_BYTES = 32 << 20  # text files up to this size are kept with their batch


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
    """
    options = options or ImportOptions()
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
    if errors and not skip_bad_rows and not dry_run:
        first = errors[0]
        raise UserError(
            f"{len(errors)} line(s) cannot be imported, first: {first.message}"
            " (nothing was written; import the good lines with --skip-bad-rows)",
            file=str(path),
            line=first.line,
            field=first.field,
        )
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
