"""Data source of the matches table for the lazy table model (pure Python, no Qt)."""

from __future__ import annotations

from typing import Any

from ...services.reconcile.table_queries import MatchFilters
from ..exceptions.reconcile_source import ReconcileSource
from ..exceptions.source import words
from ..models.table_source import SourceColumn


def _writeoff(row: dict[str, Any]) -> str:
    return words(row.get("writeoff_reason"))


COLUMNS = (
    SourceColumn(
        "id", "Match", sort_key="id", width=70, align="right", text=lambda r: str(int(r["id"]))
    ),
    SourceColumn("status", "Status", width=84),
    SourceColumn("rule", "Rule", sort_key="rule", width=170),
    SourceColumn(
        "confidence", "Conf.", "int", sort_key="confidence", width=52, tooltip="Confidence 0-100"
    ),
    SourceColumn("members", "Lines", "int", width=50, tooltip="Records in the match"),
    SourceColumn("difference_minor", "Difference", "money", sort_key="difference_minor", width=96),
    SourceColumn("currency", "Cur.", width=44, tooltip="Currency"),
    SourceColumn("writeoff_reason", "Written off", width=86, text=_writeoff),
    SourceColumn("created_at", "Created", "datetime", sort_key="created_at", width=128),
    SourceColumn("created_by", "By", width=72),
    SourceColumn("confirmed_by", "Confirmed by", width=90),
    SourceColumn("note", "Note", width=200),
)
DEFAULT_HIDDEN = ("confirmed_by",)


class MatchSource(ReconcileSource):
    """Matches (auto, confirmed, suggested; rejected on request) as a `TableSource`."""

    columns = COLUMNS
    FILTERS = MatchFilters

    def row_state(self, row: dict[str, Any]) -> str | None:
        status = row.get("status")
        if status == "rejected":
            return "muted"
        if status == "suggested":
            return "warning"
        return None
