"""Per-import-batch daily totals of records, the materialised input of the KPI services."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, Minor


class KpiRollup(Base):
    """Totals of one batch's records per day, source, kind, currency, method and payout.

    Records never change amount, date or source after import, so a batch's rollup is built once
    (by `services.analytics.rollups.ensure_rollups`) and stays valid until the batch is undone. Only
    `match_state` changes later; the KPI services read it live from the records.
    """

    __tablename__ = "kpi_rollups"
    __table_args__ = (Index("ix_kpi_rollups_booked", "booked_on"),)

    batch_id: Mapped[int] = mapped_column(
        ForeignKey("import_batches.id", ondelete="CASCADE"), primary_key=True
    )
    source_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    booked_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    method: Mapped[str] = mapped_column(String(32), primary_key=True)  # "" when not reported
    payout_ref: Mapped[str] = mapped_column(String(128), primary_key=True)  # "" when none
    n: Mapped[int] = mapped_column(Integer)
    abs_minor: Mapped[int] = mapped_column(Minor)  # Σ|amount|
    amount_minor: Mapped[int] = mapped_column(Minor)  # Σ amount, signed
    fee_minor: Mapped[int] = mapped_column(Minor)  # Σ fee (fee lines: -amount)
