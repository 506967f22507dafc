"""Users, sources (accounts), import batches, records and their reference tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, BigId, JsonType, Minor, UTCDateTime, utcnow


class User(Base):
    """A person using the workstation; roles gate bulk and admin actions."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default="clerk")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Source(Base):
    """An account lines come from: a bank account, a PSP account or an order ledger."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # SourceKind
    provider: Mapped[str | None] = mapped_column(String(32))  # stripe, adyen, paypal, bank...
    account_number: Mapped[str | None] = mapped_column(String(64))  # IBAN, BAI2 account...
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportBatch(Base):
    """One imported file: what it was, who brought it in, and what it added."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(32))
    imported_by: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="committed")  # BatchStatus
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_new: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    rows_problem: Mapped[int] = mapped_column(Integer, default=0)
    masked_pans: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    # The file as imported (card numbers masked in text formats): the exact original of every
    # record, addressed by its line_no. Deferred so listing batches never loads it.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


# Match states a clerk still works on; partial indexes hold only these rows.
OPEN_RECORDS = "match_state IN ('unmatched', 'suggested')"


class Record(Base):
    """One statement or report line. Amount is signed minor units: + is money in for the holder."""

    __tablename__ = "records"
    __table_args__ = (
        # Dedupe key; also the covering index the dedupe lookup reads.
        Index("uq_records_source_fp", "source_id", "fingerprint", "occurrence", unique=True),
        Index("ix_records_state_booked", "match_state", "booked_on", "id"),
        # The exception queue (services.reconcile.table_queries): open records in date / amount
        # order.
        Index(
            "ix_records_open_booked",
            "booked_on",
            "id",
            sqlite_where=text(OPEN_RECORDS),
            postgresql_where=text(OPEN_RECORDS),
        ),
        Index(
            "ix_records_open_amount",
            "amount_minor",
            "id",
            sqlite_where=text(OPEN_RECORDS),
            postgresql_where=text(OPEN_RECORDS),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"), index=True)
    line_no: Mapped[int | None] = mapped_column(Integer)
    # Looked up through record_references (kind "id"), so no index of its own here.
    external_id: Mapped[str | None] = mapped_column(String(128))
    fingerprint: Mapped[int] = mapped_column(BigInteger)  # see services.imports.ingest.fingerprints
    occurrence: Mapped[int] = mapped_column(Integer, default=1)
    booked_on: Mapped[dt.date] = mapped_column(Date)
    value_on: Mapped[dt.date | None] = mapped_column(Date)
    occurred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    amount_minor: Mapped[int] = mapped_column(Minor)
    currency: Mapped[str] = mapped_column(String(3))
    fee_minor: Mapped[int | None] = mapped_column(Minor)  # a cost, positive
    net_minor: Mapped[int | None] = mapped_column(Minor)  # amount - fee, signed
    orig_amount_minor: Mapped[int | None] = mapped_column(Minor)  # before FX
    orig_currency: Mapped[str | None] = mapped_column(String(3))
    direction: Mapped[str] = mapped_column(String(6))  # Direction
    kind: Mapped[str] = mapped_column(String(24))  # RecordKind
    counterparty: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    payout_ref: Mapped[str | None] = mapped_column(String(128), index=True)
    match_state: Mapped[str] = mapped_column(String(12), default="unmatched")  # MatchState

    source: Mapped[Source] = relationship(lazy="joined")
    references: Mapped[list[RecordReference]] = relationship(
        back_populates="record",
        cascade="all, delete-orphan",
        primaryjoin="Record.id == foreign(RecordReference.record_id)",
    )
    raw_row: Mapped[RecordRaw | None] = relationship(
        cascade="all, delete-orphan",
        primaryjoin="Record.id == foreign(RecordRaw.record_id)",
        uselist=False,
    )

    def __init__(self, *, raw: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if raw is not None:
            self.raw = raw

    @property
    def raw(self) -> dict[str, Any] | None:
        """The line as its file gave it (JSON), from `record_raw`."""
        return self.raw_row.raw if self.raw_row is not None else None

    @raw.setter
    def raw(self, value: dict[str, Any] | None) -> None:
        if self.raw_row is None:
            self.raw_row = RecordRaw(raw=value)
        else:
            self.raw_row.raw = value


class RecordRaw(Base):
    """The original line of a record (JSON), one row per record that has one.

    Kept out of `records` so the table every scan, index build and reconciliation state update
    goes through stays narrow: on 2M demo records the raw text is two thirds of the bytes, and a
    reconciliation's state update ran 2.5x faster without it. Keyed by the record id (the
    rowid on SQLite: bulk inserts append). No foreign key, like record_references: written by
    ingest with its record and deleted explicitly with it (imports.undo_batch).
    """

    __tablename__ = "record_raw"

    record_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JsonType)


class RecordReference(Base):
    """A normalised id-like token of a record (order number, charge id, payout id, e2e id...)."""

    __tablename__ = "record_references"
    # Clustered on (value, record_id) (no rowid table on SQLite): a token lookup is one B-tree
    # descent, and bulk inserts arrive sorted by value. record_id has a small integer index.
    # No foreign key to records: tokens are written only by ingest, in the same transaction as
    # their record, and deleted explicitly with it (imports.undo_batch); a checked key would
    # cost a lookup into records for each of millions of token rows on import.
    __table_args__ = (
        Index("ix_record_references_record_id", "record_id"),
        {"sqlite_with_rowid": False},
    )

    value: Mapped[str] = mapped_column(String(128), primary_key=True)
    record_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))

    record: Mapped[Record] = relationship(
        back_populates="references",
        primaryjoin="foreign(RecordReference.record_id) == Record.id",
    )


class MappingProfile(Base):
    """A saved, named column mapping for tabular files the sniffers cannot place on their own."""

    __tablename__ = "mapping_profiles"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    mapping: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Setting(Base):
    """Team-wide settings (merchant name, tolerances); window state lives in QSettings."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JsonType)
