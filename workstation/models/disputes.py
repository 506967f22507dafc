"""Disputes (chargebacks), their history, money trail, evidence and the reason-code table."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, BigId, JsonType, Minor, UTCDateTime, utcnow


class ReasonCode(Base):
    """Network reason code, loaded from reason_codes.csv and editable as data."""

    __tablename__ = "reason_codes"
    __table_args__ = (UniqueConstraint("network", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    network: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(32))
    response_days: Mapped[int | None] = mapped_column(Integer)
    typical_evidence: Mapped[str | None] = mapped_column(Text)


class Dispute(Base):
    """A chargeback case as the PSP reports it, linked to its charge and order."""

    __tablename__ = "disputes"
    __table_args__ = (
        UniqueConstraint("psp", "psp_dispute_id"),
        Index("ix_disputes_status_due", "status", "due_by"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    psp: Mapped[str] = mapped_column(String(32))
    psp_dispute_id: Mapped[str] = mapped_column(String(128))
    network: Mapped[str | None] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(16))
    reason_category: Mapped[str | None] = mapped_column(String(32))
    psp_reason: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16))  # DisputeStage
    status: Mapped[str] = mapped_column(String(16))  # DisputeStatus
    amount_minor: Mapped[int] = mapped_column(Minor)
    currency: Mapped[str] = mapped_column(String(3))
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_by: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    charge_ref: Mapped[str | None] = mapped_column(String(128), index=True)
    order_ref: Mapped[str | None] = mapped_column(String(128), index=True)
    # Normalised forms (services.common.reference_tokens.normalise) of the ids above, joined to
    # record_references.
    dispute_key: Mapped[str | None] = mapped_column(String(128), index=True)
    charge_key: Mapped[str | None] = mapped_column(String(128), index=True)
    order_key: Mapped[str | None] = mapped_column(String(128), index=True)
    psp_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # newest PSP event
    charge_record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"))
    order_record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    customer: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    product_description: Mapped[str | None] = mapped_column(Text)
    communication_summary: Mapped[str | None] = mapped_column(Text)
    rebuttal: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str | None] = mapped_column(String(64))
    evidence_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    events: Mapped[list[DisputeEvent]] = relationship(
        back_populates="dispute", cascade="all, delete-orphan", order_by="DisputeEvent.id"
    )
    links: Mapped[list[DisputeLink]] = relationship(
        back_populates="dispute", cascade="all, delete-orphan"
    )
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="dispute", cascade="all, delete-orphan", order_by="Evidence.id"
    )


class DisputeEvent(Base):
    """One entry of a dispute's timeline (created, status change, note, evidence, submit)."""

    __tablename__ = "dispute_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(
        ForeignKey("disputes.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JsonType)

    dispute: Mapped[Dispute] = relationship(back_populates="events")


class DisputeLink(Base):
    """A record in a dispute's money trail: disputed charge, withdrawal, fee, reinstatement."""

    __tablename__ = "dispute_links"
    __table_args__ = (UniqueConstraint("dispute_id", "record_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # charge, order, withdrawn, fee, reinstated

    dispute: Mapped[Dispute] = relationship(back_populates="links")


class EvidenceBlob(Base):
    """Evidence file content, stored once per sha256."""

    __tablename__ = "evidence_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Evidence(Base):
    """An evidence item attached to a dispute."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("dispute_id", "sha256"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48))
    file_name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(96))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(ForeignKey("evidence_blobs.sha256"))
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    dispute: Mapped[Dispute] = relationship(back_populates="evidence")
    blob: Mapped[EvidenceBlob] = relationship(lazy="select")
