"""SQLAlchemy ORM data model of the workstation (money in integer minor units + ISO 4217)."""

from .audit import AuditEvent
from .base import Base, utcnow
from .core import (
    ImportBatch,
    MappingProfile,
    Record,
    RecordRaw,
    RecordReference,
    Setting,
    Source,
    User,
)
from .disputes import Dispute, DisputeEvent, DisputeLink, Evidence, EvidenceBlob, ReasonCode
from .enums import (
    BatchStatus,
    CaseStatus,
    Direction,
    DisputeStage,
    DisputeStatus,
    MatchState,
    MatchStatus,
    PayoutState,
    RecordKind,
    Role,
    SourceKind,
)
from .kpi import KpiRollup
from .matching import CaseNote, ExceptionCase, FxRate, Match, MatchMember, MatchRule, SavedFilter
from .settlement import MatchPayout, Payout

__all__ = [
    "AuditEvent",
    "Base",
    "BatchStatus",
    "CaseNote",
    "CaseStatus",
    "Direction",
    "Dispute",
    "DisputeEvent",
    "DisputeLink",
    "DisputeStage",
    "DisputeStatus",
    "Evidence",
    "EvidenceBlob",
    "ExceptionCase",
    "FxRate",
    "ImportBatch",
    "KpiRollup",
    "MappingProfile",
    "Match",
    "MatchMember",
    "MatchPayout",
    "MatchRule",
    "MatchState",
    "MatchStatus",
    "Payout",
    "PayoutState",
    "ReasonCode",
    "Record",
    "RecordKind",
    "RecordRaw",
    "RecordReference",
    "Role",
    "SavedFilter",
    "Setting",
    "Source",
    "SourceKind",
    "User",
    "utcnow",
]
