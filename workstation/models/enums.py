"""Vocabularies stored as plain strings (portable, migration-free to extend)."""

from __future__ import annotations

from enum import StrEnum


class SourceKind(StrEnum):
    BANK = "bank"
    PSP = "psp"
    LEDGER = "ledger"
    OTHER = "other"


class Direction(StrEnum):
    CREDIT = "credit"  # money in for the account holder
    DEBIT = "debit"


class RecordKind(StrEnum):
    ORDER = "order"
    CHARGE = "charge"
    REFUND = "refund"
    FEE = "fee"
    PAYOUT = "payout"
    DISPUTE = "dispute"
    DISPUTE_REVERSAL = "dispute_reversal"
    ADJUSTMENT = "adjustment"
    TRANSFER = "transfer"
    RESERVE = "reserve"
    BANK_CREDIT = "bank_credit"
    BANK_DEBIT = "bank_debit"
    OTHER = "other"


class MatchState(StrEnum):
    """Denormalised per-record state so the exception queue is one indexed filter."""

    UNMATCHED = "unmatched"
    SUGGESTED = "suggested"
    MATCHED = "matched"
    WRITTEN_OFF = "written_off"
    IGNORED = "ignored"


class MatchStatus(StrEnum):
    AUTO = "auto"
    SUGGESTED = "suggested"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class CaseStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    PENDING = "pending"
    RESOLVED = "resolved"


class DisputeStage(StrEnum):
    INQUIRY = "inquiry"
    CHARGEBACK = "chargeback"
    PRE_ARBITRATION = "pre_arbitration"
    ARBITRATION = "arbitration"


class DisputeStatus(StrEnum):
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"
    ACCEPTED = "accepted"
    EXPIRED = "expired"


class Role(StrEnum):
    CLERK = "clerk"
    AGENT = "agent"
    MANAGER = "manager"
    ADMIN = "admin"


class BatchStatus(StrEnum):
    COMMITTED = "committed"
    UNDONE = "undone"


class PayoutState(StrEnum):
    OPEN = "open"  # lines still gathering, no payout yet
    IN_TRANSIT = "in_transit"  # sent by the PSP, not (yet) seen at the bank
    PAID = "paid"  # matched to its bank line(s)
    FAILED = "failed"  # the PSP reports the payout failed or was cancelled
    CARRIED_FORWARD = "carried_forward"  # nets to <= 0 or rolled into the next batch
