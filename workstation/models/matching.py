"""Matches, their members, rules, FX rates, exception cases and saved filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, BigId, JsonType, Minor, UTCDateTime, utcnow


class MatchRule(Base):
    """One step of the reconciliation cascade, in the order the user sees and edits."""

    __tablename__ = "match_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # reference, payout, window, subset, fx
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_confirm: Mapped[bool] = mapped_column(Boolean, default=False)
    params: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class Match(Base):
    """A set of records that belong together (order <-> PSP line <-> payout <-> bank credit)."""

    __tablename__ = "matches"
    __table_args__ = (Index("ix_matches_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    status: Mapped[str] = mapped_column(String(12))  # MatchStatus
    # 1: order <-> PSP transaction; 2: payout <-> bank line (its payouts in match_payouts).
    level: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    rule: Mapped[str] = mapped_column(String(128))
    confidence: Mapped[int] = mapped_column(Integer)  # 0..100
    difference_minor: Mapped[int] = mapped_column(Minor, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    writeoff_reason: Mapped[str | None] = mapped_column(String(64))
    writeoff_minor: Mapped[int | None] = mapped_column(Minor)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))  # a login, or "engine"
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    confirmed_by: Mapped[str | None] = mapped_column(String(64))

    members: Mapped[list[MatchMember]] = relationship(
        back_populates="match", cascade="all, delete-orphan"
    )


class MatchMember(Base):
    """A record's part in a match, with the side it plays."""

    __tablename__ = "match_members"
    __table_args__ = (
        UniqueConstraint("match_id", "record_id"),
        # A record is in at most one live (auto, suggested, confirmed) match per level, whatever
        # writes it.
        Index(
            "ux_match_members_live_record",
            "record_id",
            "level",
            unique=True,
            sqlite_where=text("live"),
            postgresql_where=text("live"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    side: Mapped[str] = mapped_column(String(8))  # order, psp, bank
    amount_minor: Mapped[int] = mapped_column(Minor)
    # True while the match is live; false once it is rejected (the member stays: "never again").
    # Kept with Match.status by `set_match_status`; bulk inserts take the server default.
    live: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    level: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))  # its match's

    match: Mapped[Match] = relationship(back_populates="members")


class FxRate(Base):
    """Exchange rate table a user imports: 1 `base` = `rate` `quote` on `on_date`."""

    __tablename__ = "fx_rates"
    __table_args__ = (UniqueConstraint("on_date", "base", "quote"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    on_date: Mapped[dt.date] = mapped_column(Date)
    base: Mapped[str] = mapped_column(String(3))
    quote: Mapped[str] = mapped_column(String(3))
    rate: Mapped[Decimal] = mapped_column(Numeric(24, 10))


class ExceptionCase(Base):
    """Work item for an unmatched record or a suggested match a clerk must decide."""

    __tablename__ = "exception_cases"
    __table_args__ = (Index("ix_exception_cases_status_priority", "status", "priority"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"), unique=True)
    match_id: Mapped[int | None] = mapped_column(
        ForeignKey("matches.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(12), default="open")  # CaseStatus
    priority: Mapped[int] = mapped_column(Integer, default=0)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    amount_at_risk_minor: Mapped[int] = mapped_column(Minor, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    resolution: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)

    notes: Mapped[list[CaseNote]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseNote.id"
    )


class CaseNote(Base):
    """A clerk's note on an exception case."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("exception_cases.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[ExceptionCase] = relationship(back_populates="notes")


class SavedFilter(Base):
    """A named filter of a queue page, per owner."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("page", "owner", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    definition: Mapped[dict[str, Any]] = mapped_column(JsonType)
