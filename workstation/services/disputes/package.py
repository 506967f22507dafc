"""Representment package use case: assemble, pre-flight against PSP/network limits, export, submit.

The service turns a case into a plain `exporters.package.PackageData` (cover letter filled from the
editable template, card numbers in text evidence masked) and lets the exporter draw the PDF and
write the ZIP. Pre-flight renders the real PDF and checks it against `resources/package_limits.json`
(strictest of the default, the PSP's and the network's limits) before anything is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import string
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ... import config
from ...errors import UserError
from ...exporters.package import (
    PackageData,
    PackageItem,
    RenderedPdf,
    ascii_name,
    render_pdf,
    write_zip,
)
from ...models import Dispute, DisputeEvent, Evidence, Record, User, utcnow
from ...money import format_minor
from ...paths import resources_dir
from ..common import audit
from ..common.card_numbers import mask_text
from ..settlement.trail import dispute_order_id
from .checklist import checklist
from .customer import customer_details
from .evidence_content import TEXT_TYPES, XLSX, masked_original, text_of
from .money_trail import money_trail
from .reason_codes import ReasonTable, evidence_kinds

_LIMIT_KEYS = ("max_pages", "max_pdf_bytes", "max_file_bytes", "max_files")


@cache
def _limits_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (resources_dir() / "package_limits.json").read_text(encoding="utf-8")
    )
    return data


@dataclass
class Limits:
    """Effective package limits for one case."""

    max_pages: int | None
    max_pdf_bytes: int | None
    max_file_bytes: int | None
    max_files: int | None
    allowed_types: list[str] | None
    upload: str  # pdf or files
    sources: list[str]


def limits_for(psp: str | None, network: str | None) -> Limits:
    """Strictest of the default, the PSP's and the network's limits."""
    data = _limits_file()
    parts = [("default", data.get("default", {}))]
    if psp and psp.lower() in data.get("psp", {}):
        parts.append((f"psp {psp.lower()}", data["psp"][psp.lower()]))
    if network and network.lower() in data.get("network", {}):
        parts.append((f"network {network.lower()}", data["network"][network.lower()]))
    out: dict[str, Any] = dict.fromkeys(_LIMIT_KEYS)
    types: set[str] | None = None
    upload = "pdf"
    for _name, spec in parts:
        for key in _LIMIT_KEYS:
            if spec.get(key) is not None:
                out[key] = spec[key] if out[key] is None else min(out[key], spec[key])
        if spec.get("allowed_types") is not None:
            allowed = set(spec["allowed_types"])
            types = allowed if types is None else types & allowed
        upload = spec.get("upload", upload)
    return Limits(
        allowed_types=sorted(types) if types is not None else None,
        upload=upload,
        sources=[n for n, _ in parts],
        **out,
    )


# ----------------------------------------------------------------------------- assembly


def cover_template(session: Session) -> str:
    """The cover letter template: the team's setting, else the shipped file."""
    custom = str(config.get(session, "disputes.cover_letter") or "")
    if custom.strip():
        return custom
    return (resources_dir() / "templates" / "cover_letter.txt").read_text(encoding="utf-8")


def _when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def build_package_data(
    session: Session, dispute_id: int, *, now: dt.datetime | None = None
) -> PackageData:
    """Everything the package shows, with texts filled and card numbers masked."""
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    now = now or utcnow()
    reason = ReasonTable(session).lookup(d.network, d.reason_code)
    charge = session.get(Record, d.charge_record_id) if d.charge_record_id else None
    order_rid = dispute_order_id(session, d.order_record_id, d.charge_record_id)
    order = session.get(Record, order_rid) if order_rid else None
    labels = evidence_kinds()
    items: list[PackageItem] = []
    rows = session.scalars(
        select(Evidence).where(Evidence.dispute_id == d.id).order_by(Evidence.id)
    )
    for n, ev in enumerate(rows, start=1):
        # Items stored before text evidence was masked at rest are masked on the way out.
        content, _ = masked_original(bytes(ev.blob.content), ev.media_type)
        text = None
        if ev.media_type in TEXT_TYPES or ev.media_type == XLSX:
            text, _ = text_of(content, ev.media_type)
        items.append(
            PackageItem(
                number=n,
                title=labels.get(ev.kind, ev.kind),
                kind=ev.kind,
                file_name=ev.file_name,
                media_type=ev.media_type,
                sha256=ev.sha256,
                content=content,
                text=text,
            )
        )
    amount = format_minor(d.amount_minor, d.currency)
    charge_id = d.charge_ref or (charge.external_id if charge else None) or "-"
    order_id = d.order_ref or (order.external_id if order else None) or "-"
    txn_day = charge.booked_on if charge else (order.booked_on if order else None)
    values = {
        "merchant_name": str(config.get(session, "merchant.name")),
        "merchant_address": str(config.get(session, "merchant.address")),
        "merchant_descriptor": str(config.get(session, "merchant.descriptor")),
        "today": now.date().isoformat(),
        "case_id": d.psp_dispute_id,
        "psp": d.psp,
        "network": d.network or "card",
        "reason_code": d.reason_code or "-",
        "reason_title": reason.title if reason else (d.psp_reason or "-"),
        "stage": d.stage.replace("_", "-"),
        "amount": amount,
        "currency": d.currency,
        "charge_id": charge_id,
        "order_id": order_id,
        "transaction_date": _when(txn_day),
        "due_by": _when(d.due_by),
        "rebuttal": (d.rebuttal or "").strip() or "(rebuttal not provided)",
        "product_description": (d.product_description or "").strip() or "(not provided)",
        "communication_summary": (d.communication_summary or "").strip() or "(not provided)",
        "evidence_list": "\n".join(f"{i.number}. {i.title}: {i.file_name}" for i in items),
    }
    letter = string.Template(cover_template(session)).safe_substitute(values)
    customer: dict[str, str] = {}
    for rec in (charge, order):
        if rec is not None:
            customer.update(customer_details(rec.raw))
    customer.update({k: str(v) for k, v in (d.customer or {}).items() if v})
    trail = money_trail(session, d.id)
    summary = [
        ("Case", f"{d.psp_dispute_id} ({d.psp})"),
        ("Network / reason", f"{d.network or '-'} {d.reason_code or '-'} {values['reason_title']}"),
        ("Stage / status", f"{d.stage} / {d.status}"),
        ("Disputed amount", f"{amount} {d.currency}"),
        ("Opened", _when(d.opened_at)),
        ("Respond by", _when(d.due_by)),
        ("Transaction", charge_id),
        ("Transaction date", _when(txn_day)),
        (
            "Transaction amount",
            f"{format_minor(abs(charge.amount_minor), charge.currency)} {charge.currency}"
            if charge
            else "-",
        ),
        ("Order", order_id),
        *((k.replace("_", " ").capitalize(), v) for k, v in sorted(customer.items())),
        ("Money trail", trail.summary()),
        ("Evidence files", str(len(items))),
    ]
    # The PSP's own references stay readable even when they look like card numbers.
    refs = frozenset(r for r in (charge_id, order_id, d.psp_dispute_id) if r.isdigit())
    return PackageData(
        case_id=d.psp_dispute_id,
        title=f"Representment {d.network or ''} {d.reason_code or ''} {d.psp_dispute_id}".strip(),
        merchant_name=values["merchant_name"],
        cover_letter=mask_text(letter, refs)[0],
        summary=[(k, mask_text(v, refs)[0]) for k, v in summary],
        items=items,
        pdf_name=f"{ascii_name(d.psp_dispute_id)}_representment.pdf",
        generated_at=now,
        manifest_extra={"psp": d.psp, "network": d.network, "reason_code": d.reason_code},
    )


# ----------------------------------------------------------------------------- pre-flight


@dataclass
class Check:
    """One pre-flight check."""

    name: str
    ok: bool
    severity: str  # error: blocks export; warning: shown only
    message: str


@dataclass
class PreflightReport:
    """Pre-flight outcome; `ok` is False when any error-level check failed."""

    dispute_id: int
    limits: Limits
    checks: list[Check]
    pages: int
    pdf_bytes: int
    data: PackageData
    pdf: RenderedPdf
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks if c.severity == "error")

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def text(self) -> str:
        """The report as lines for people."""
        head = "pre-flight passed" if self.ok else "pre-flight FAILED"
        lines = [
            f"{head}: {self.pages} pages, {self.pdf_bytes / 1e6:.2f} MB "
            f"(limits from {', '.join(self.limits.sources)})"
        ]
        for c in self.checks:
            mark = "ok  " if c.ok else ("FAIL" if c.severity == "error" else "warn")
            lines.append(f"  [{mark}] {c.message}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "pages": self.pages,
            "pdf_bytes": self.pdf_bytes,
            "limits": self.limits.__dict__,
            "checks": [c.__dict__ for c in self.checks],
        }


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def preflight(
    session: Session, dispute_id: int, *, now: dt.datetime | None = None
) -> PreflightReport:
    """Build the package in memory and check it against the limits; writes nothing."""
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    now = now or utcnow()
    data = build_package_data(session, dispute_id, now=now)
    pdf = render_pdf(data)
    lim = limits_for(d.psp, d.network)
    checks: list[Check] = []
    files_strict = "error" if lim.upload == "files" else "warning"
    if lim.max_pages is not None:
        checks.append(
            Check(
                "pages",
                pdf.pages <= lim.max_pages,
                "error",
                f"{pdf.pages} pages; limit {lim.max_pages}"
                + ("" if pdf.pages <= lim.max_pages else f": remove {pdf.pages - lim.max_pages}"),
            )
        )
    size = len(pdf.data)
    if lim.max_pdf_bytes is not None:
        checks.append(
            Check(
                "pdf_size",
                size <= lim.max_pdf_bytes,
                "error",
                f"PDF is {_mb(size)}; limit {_mb(lim.max_pdf_bytes)}",
            )
        )
    if lim.max_files is not None and lim.upload == "files":
        checks.append(
            Check(
                "files",
                len(data.items) <= lim.max_files,
                "error",
                f"{len(data.items)} files; limit {lim.max_files}",
            )
        )
    for item in data.items:
        if lim.max_file_bytes is not None and len(item.content) > lim.max_file_bytes:
            checks.append(
                Check(
                    "file_size",
                    False,
                    files_strict,
                    f"{item.file_name} is {_mb(len(item.content))}; "
                    f"limit per file {_mb(lim.max_file_bytes)}",
                )
            )
        if lim.allowed_types is not None and item.media_type not in lim.allowed_types:
            where = "upload it as" if lim.upload == "files" else "it is included only as pages of"
            checks.append(
                Check(
                    "file_type",
                    False,
                    files_strict,
                    f"{item.file_name} ({item.media_type}) is not accepted as a separate file; "
                    f"{where} the PDF"
                    if lim.upload != "files"
                    else f"{item.file_name} ({item.media_type}) is not an accepted file type "
                    f"({', '.join(lim.allowed_types)})",
                )
            )
    if not data.items:
        checks.append(Check("evidence", False, "warning", "no evidence files are attached"))
    if not (d.rebuttal or "").strip():
        checks.append(Check("rebuttal", False, "warning", "the rebuttal is empty"))
    reason = ReasonTable(session).lookup(d.network, d.reason_code)
    cl = checklist(session, d, reason)
    if cl.missing:
        checks.append(
            Check(
                "checklist", False, "warning", "checklist items missing: " + "; ".join(cl.missing)
            )
        )
    if d.due_by is not None and d.due_by <= now:
        checks.append(Check("deadline", False, "warning", f"the deadline {_when(d.due_by)} passed"))
    if d.evidence_locked:
        checks.append(Check("submitted", False, "warning", "this case was already submitted"))
    if d.status != "needs_response":
        checks.append(
            Check("status", False, "warning", f"status is {d.status}: no response is expected")
        )
    return PreflightReport(d.id, lim, checks, pdf.pages, size, data, pdf)


@dataclass
class PackageResult:
    """What `export_package` wrote."""

    path: Path
    manifest: dict[str, Any]
    report: PreflightReport
    forced: bool


def export_package(
    session: Session,
    dispute_id: int,
    out: Path,
    *,
    actor: str,
    force: bool = False,
    report: PreflightReport | None = None,
) -> PackageResult:
    """Pre-flight, then write the ZIP; refuses a failed pre-flight unless `force`.

    Args:
        report: a pre-flight just shown to the user (reused instead of building again).
    """
    if report is None or report.dispute_id != dispute_id:
        report = preflight(session, dispute_id)
    if not report.ok and not force:
        reasons = "; ".join(c.message for c in report.failures if c.severity == "error")
        raise UserError(f"pre-flight failed: {reasons} (export anyway with --force)")
    meta = write_zip(out, report.data, report.pdf)
    session.add(
        DisputeEvent(
            dispute_id=dispute_id,
            actor=actor,
            kind="package_built",
            detail={
                "file": out.name,
                "pages": report.pages,
                "pdf_sha256": meta["pdf"]["sha256"],
                "forced": bool(force and not report.ok),
            },
        )
    )
    audit.log(
        session,
        actor,
        "export_package",
        "dispute",
        dispute_id,
        {"file": str(out), "pages": report.pages, "pdf_sha256": meta["pdf"]["sha256"]},
    )
    session.flush()
    return PackageResult(out, meta, report, bool(force and not report.ok))


# ----------------------------------------------------------------------------- submit


def mark_submitted(session: Session, dispute_id: int, actor: str, confirm: bool = True) -> Dispute:
    """Record that the evidence went to the PSP: locks the evidence, status under review.

    Args:
        confirm: the user confirmed (the GUI asks first); False refuses.
    """
    if not confirm:
        raise UserError("submission was not confirmed; nothing changed")
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    if d.evidence_locked:
        when = d.submitted_at.strftime("%Y-%m-%d %H:%M UTC") if d.submitted_at else "earlier"
        raise UserError(f"case {d.psp_dispute_id} was already submitted ({when})")
    now = utcnow()
    old_status = d.status
    d.evidence_locked = True
    d.submitted_at = now
    d.submitted_by = actor
    if d.status == "needs_response":
        d.status = "under_review"
    d.updated_at = now
    files = list(
        session.execute(
            select(Evidence.file_name, Evidence.sha256).where(Evidence.dispute_id == d.id)
        )
    )
    digest = hashlib.sha256("".join(sorted(s for _, s in files)).encode()).hexdigest()
    session.add(
        DisputeEvent(
            dispute_id=d.id,
            actor=actor,
            kind="submitted",
            detail={
                "evidence": len(files),
                "evidence_digest": digest,
                "changes": {"status": [old_status, d.status]} if old_status != d.status else {},
            },
        )
    )
    audit.log(session, actor, "submit_dispute", "dispute", d.id, {"evidence": len(files)})
    session.flush()
    return d


def unlock_evidence(session: Session, dispute_id: int, actor: str, reason: str) -> Dispute:
    """Reopen a submitted case's evidence (e.g. for pre-arbitration); managers and admins only."""
    role = session.scalar(select(User.role).where(User.login == actor))
    if role not in ("manager", "admin"):
        raise UserError("only a manager or an admin can unlock submitted evidence")
    if not (reason or "").strip():
        raise UserError("say why the evidence is unlocked")
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    if not d.evidence_locked:
        return d
    d.evidence_locked = False
    d.updated_at = utcnow()
    why = mask_text(reason.strip())[0]
    session.add(DisputeEvent(dispute_id=d.id, actor=actor, kind="unlocked", detail={"reason": why}))
    audit.log(session, actor, "unlock_evidence", "dispute", d.id, {"reason": why})
    session.flush()
    return d
