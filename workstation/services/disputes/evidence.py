"""Evidence of a dispute and its texts: files stored once by content, kinds, the lock, drafts.

Files are checked by content (`evidence_content`) and stored once per sha256 in `evidence_blobs`.
After submission the case's evidence is locked and every change here is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ... import config
from ...errors import UserError
from ...models import Dispute, DisputeEvent, Evidence, EvidenceBlob, utcnow
from ..common import audit
from ..common.card_numbers import mask_text
from .evidence_content import (
    JPEG,
    PDF,
    PNG,
    check_content,
    masked_original,
    size_text,
    text_of,
    validate,
)
from .reason_codes import evidence_kinds

TEXT_FIELDS = ("product_description", "communication_summary", "rebuttal")
_COALESCE = dt.timedelta(minutes=15)


def _dispute(session: Session, dispute_id: int, *, for_change: bool) -> Dispute:
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    if for_change and d.evidence_locked:
        when = d.submitted_at.strftime("%Y-%m-%d %H:%M UTC") if d.submitted_at else "earlier"
        raise UserError(f"case {d.psp_dispute_id} was submitted ({when}); its evidence is locked")
    return d


def check_kind(kind: str | None) -> str:
    """A known evidence kind (default: uncategorized)."""
    k = (kind or "uncategorized").strip().lower()
    kinds = evidence_kinds()
    if k not in kinds:
        raise UserError(f"unknown evidence kind {kind!r}; use one of: {', '.join(kinds)}")
    return k


def add_evidence(
    session: Session,
    dispute_id: int,
    data: bytes,
    file_name: str,
    *,
    kind: str | None = None,
    actor: str,
) -> Evidence:
    """Attach a file's bytes to a case after checking name, size and content.

    Text, CSV and e-mail files are stored with their card numbers masked.
    """
    d = _dispute(session, dispute_id, for_change=True)
    k = check_kind(kind)
    max_bytes = int(config.get(session, "evidence.max_file_bytes"))
    name, detected = check_content(data, file_name, max_bytes)
    data, _ = masked_original(data, detected.media_type)  # no card number is stored
    sha = hashlib.sha256(data).hexdigest()
    same = session.scalar(
        select(Evidence).where(Evidence.dispute_id == d.id, Evidence.sha256 == sha)
    )
    if same is not None:
        raise UserError(f"{name} is already attached to this case as {same.file_name}")
    if session.get(EvidenceBlob, sha) is None:
        session.add(EvidenceBlob(sha256=sha, size=len(data), content=data))
    ev = Evidence(
        dispute_id=d.id,
        kind=k,
        file_name=name,
        media_type=detected.media_type,
        size=len(data),
        sha256=sha,
        added_by=actor,
    )
    session.add(ev)
    session.flush()
    session.add(
        DisputeEvent(
            dispute_id=d.id,
            actor=actor,
            kind="evidence_added",
            detail={"evidence_id": ev.id, "file_name": name, "kind": k, "sha256": sha},
        )
    )
    d.updated_at = utcnow()
    audit.log(session, actor, "add_evidence", "dispute", d.id, {"file": name, "sha256": sha})
    session.flush()
    return ev


def add_evidence_file(
    session: Session, dispute_id: int, path: Path, *, kind: str | None = None, actor: str
) -> Evidence:
    """Attach a file from disk (drag-and-drop, file dialog, CLI)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise UserError("file not found", file=str(path)) from exc
    if path.is_dir():
        raise UserError("is a folder, not a file", file=str(path))
    max_bytes = int(config.get(session, "evidence.max_file_bytes"))
    if size > max_bytes:
        raise UserError(
            f"{path.name} is {size_text(size)}; the largest evidence file accepted is "
            f"{size_text(max_bytes)} (setting evidence.max_file_bytes)"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read the file: {exc.strerror}", file=str(path)) from exc
    return add_evidence(session, dispute_id, data, path.name, kind=kind, actor=actor)


def remove_evidence(session: Session, evidence_id: int, actor: str) -> None:
    """Detach an evidence item; its content goes when no other case uses it."""
    ev = session.get(Evidence, evidence_id)
    if ev is None:
        raise UserError(f"no evidence {evidence_id}")
    d = _dispute(session, ev.dispute_id, for_change=True)
    sha, name = ev.sha256, ev.file_name
    session.delete(ev)
    session.flush()
    others = session.scalar(select(func.count()).where(Evidence.sha256 == sha)) or 0
    if not others:
        blob = session.get(EvidenceBlob, sha)
        if blob is not None:
            session.delete(blob)
    session.add(
        DisputeEvent(
            dispute_id=d.id,
            actor=actor,
            kind="evidence_removed",
            detail={"file_name": name, "sha256": sha},
        )
    )
    audit.log(session, actor, "remove_evidence", "dispute", d.id, {"file": name, "sha256": sha})
    session.flush()


def set_evidence_kind(session: Session, evidence_id: int, kind: str, actor: str) -> Evidence:
    """Change an item's kind (receipt, proof_of_delivery, ...)."""
    ev = session.get(Evidence, evidence_id)
    if ev is None:
        raise UserError(f"no evidence {evidence_id}")
    _dispute(session, ev.dispute_id, for_change=True)
    k = check_kind(kind)
    if k != ev.kind:
        old, ev.kind = ev.kind, k
        session.add(
            DisputeEvent(
                dispute_id=ev.dispute_id,
                actor=actor,
                kind="evidence_kind",
                detail={"evidence_id": ev.id, "from": old, "to": k},
            )
        )
        session.flush()
    return ev


def evidence_bytes(session: Session, evidence_id: int) -> bytes:
    """The stored content of an item."""
    ev = session.get(Evidence, evidence_id)
    if ev is None:
        raise UserError(f"no evidence {evidence_id}")
    return bytes(ev.blob.content)


@dataclass
class Preview:
    """What the case page shows for an item: image or PDF bytes, or masked text."""

    evidence_id: int
    file_name: str
    media_type: str
    kind: str  # image, pdf, text
    data: bytes | None
    text: str | None
    pages: int | None = None


def preview(session: Session, evidence_id: int, *, max_chars: int = 200_000) -> Preview:
    """Preview data of an item (text is PAN-masked and cut at `max_chars`)."""
    ev = session.get(Evidence, evidence_id)
    if ev is None:
        raise UserError(f"no evidence {evidence_id}")
    data = bytes(ev.blob.content)
    if ev.media_type == PDF:
        pages = validate(data, PDF, ev.file_name).pages
        return Preview(ev.id, ev.file_name, ev.media_type, "pdf", data, None, pages)
    if ev.media_type in (PNG, JPEG):
        return Preview(ev.id, ev.file_name, ev.media_type, "image", data, None, 1)
    text, _ = text_of(data, ev.media_type)
    if len(text) > max_chars:
        text = text[:max_chars] + f"\n... ({len(text) - max_chars:,} more characters)"
    return Preview(ev.id, ev.file_name, ev.media_type, "text", None, text)


# ----------------------------------------------------------------------------- text fields


@dataclass
class DraftSaved:
    """Result of an autosave."""

    field: str
    text: str  # as stored (card numbers masked)
    masked: int
    saved_at: dt.datetime


def save_draft(session: Session, dispute_id: int, field: str, text: str, actor: str) -> DraftSaved:
    """Save a case text field now (the GUI calls this on every autosave tick).

    The value is stored at once, so nothing typed is lost; the timeline gets one `text_saved`
    entry per field and person per quarter hour rather than one per keystroke. Card numbers are
    masked before they are stored.
    """
    if field not in TEXT_FIELDS:
        raise UserError(f"unknown text field {field!r}; use one of {', '.join(TEXT_FIELDS)}")
    d = _dispute(session, dispute_id, for_change=True)
    masked_text, masked = mask_text(text or "")
    now = utcnow()
    if (getattr(d, field) or "") == masked_text:
        return DraftSaved(field, masked_text, masked, d.updated_at)
    setattr(d, field, masked_text)
    d.updated_at = now
    last = session.scalar(
        select(DisputeEvent)
        .where(DisputeEvent.dispute_id == d.id)
        .order_by(DisputeEvent.id.desc())
        .limit(1)
    )
    recent = (
        last is not None
        and last.kind == "text_saved"
        and last.actor == actor
        and (last.detail or {}).get("field") == field
        and now - last.at < _COALESCE
    )
    if not recent:
        session.add(
            DisputeEvent(
                dispute_id=d.id,
                actor=actor,
                kind="text_saved",
                detail={"field": field, "chars": len(masked_text)},
            )
        )
    session.flush()
    return DraftSaved(field, masked_text, masked, now)
