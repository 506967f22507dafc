"""Excel round trip of queue decisions: the public names, one import away from their modules.

1. `export_roundtrip(session, "exceptions" | "disputes", path, filters)` (`export`) writes the
   filtered queue as a workbook with a `decision` drop-down, a `note` column and a hidden
   `row_version` per row.
2. A manager fills in decisions offline; what a cell may say and what it would do to a row is
   `decision_grammar`.
3. `plan_roundtrip(session, path)` (`plan`) reads it back and says, row by row, what will change,
   which rows changed in the database since the export (a conflict: their row version, from
   `row_state`, differs), which decisions are invalid and which ids are unknown. Nothing is
   written.
4. `apply_roundtrip(session, plan, actor)` (`apply`) re-checks every row against the database as
   it is now and applies the clean ones through the services the app uses, audited.
"""

from __future__ import annotations

from .apply import AUDIT_ACTION, SOURCE, ApplyReport, apply_roundtrip
from .decision_grammar import QUEUES, decision_choices, evaluate, parse_decision
from .export import ExportReport, export_roundtrip
from .plan import Change, RoundtripPlan, RowProblem, plan_roundtrip, read_workbook
from .row_state import DisputeState, ExceptionState, dispute_states, exception_states

__all__ = [
    "AUDIT_ACTION",
    "QUEUES",
    "SOURCE",
    "ApplyReport",
    "Change",
    "DisputeState",
    "ExceptionState",
    "ExportReport",
    "RoundtripPlan",
    "RowProblem",
    "apply_roundtrip",
    "decision_choices",
    "dispute_states",
    "evaluate",
    "exception_states",
    "export_roundtrip",
    "parse_decision",
    "plan_roundtrip",
    "read_workbook",
]
