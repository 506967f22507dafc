"""Payouts (settlement batches) and the level-2 link from a match to the payouts it settles."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, Minor, UTCDateTime, utcnow


class Payout(Base):
    """One PSP settlement batch: the lines that share a payout id in one PSP account and currency.

    Derived from the records (services.settlement.payout_build), rebuilt for the payouts an import
    or its undo touches; never edited by hand. Components are signed like the records (money out
    of the PSP balance is negative) and add up to `net_minor`:
    gross (charges) + refunds + fees + disputes + dispute fees + adjustments + carried = net.
    `payout_minor` is what the PSP says it sent (minus its payout lines), None when the report
    has no payout line (itemized payout reports: the payout is the sum of its lines).
    `state` is the PSP side (open, in_transit, failed, carried_forward); a live level-2 match
    makes it paid (services.settlement.payout_queries).
    """

    __tablename__ = "payouts"
    __table_args__ = (
        UniqueConstraint("source_id", "payout_ref", "currency", name="uq_payouts_key"),
        Index("ix_payouts_paid_on", "paid_on", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    payout_ref: Mapped[str] = mapped_column(String(128))
    currency: Mapped[str] = mapped_column(String(3))
    psp: Mapped[str | None] = mapped_column(String(32))
    payout_record_id: Mapped[int | None] = mapped_column(BigInteger)
    first_on: Mapped[dt.date] = mapped_column(Date)  # earliest line
    paid_on: Mapped[dt.date] = mapped_column(Date)  # the payout's date (its payout line)
    expected_on: Mapped[dt.date | None] = mapped_column(Date)  # arrival at the bank
    state: Mapped[str] = mapped_column(String(16))  # PayoutState without "paid"
    gross_minor: Mapped[int] = mapped_column(Minor, default=0)
    refunds_minor: Mapped[int] = mapped_column(Minor, default=0)
    fees_minor: Mapped[int] = mapped_column(Minor, default=0)
    disputes_minor: Mapped[int] = mapped_column(Minor, default=0)
    dispute_fees_minor: Mapped[int] = mapped_column(Minor, default=0)
    adjustments_minor: Mapped[int] = mapped_column(Minor, default=0)
    carried_minor: Mapped[int] = mapped_column(Minor, default=0)
    net_minor: Mapped[int] = mapped_column(Minor, default=0)
    payout_minor: Mapped[int | None] = mapped_column(Minor)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def expected_bank_minor(self) -> int:
        """What the bank should receive: the PSP's payout amount, else the net of the lines."""
        return self.payout_minor if self.payout_minor is not None else self.net_minor


class MatchPayout(Base):
    """A payout settled by a level-2 (payout <-> bank) match, with its expected bank amount."""

    __tablename__ = "match_payouts"
    __table_args__ = (
        UniqueConstraint("match_id", "payout_id"),
        # A payout is in at most one live level-2 match.
        Index(
            "ux_match_payouts_live",
            "payout_id",
            unique=True,
            sqlite_where=text("live"),
            postgresql_where=text("live"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id", ondelete="CASCADE"))
    amount_minor: Mapped[int] = mapped_column(Minor)
    live: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
