"""Small questions the clerk answers before an action: write-off reason, resolution, assignee.

Each returns None when the clerk cancels. Tests replace these functions.
"""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog

from ...services.reconcile.cases import RESOLUTIONS
from ...services.reconcile.clerk_actions import WRITE_OFF_REASONS

REASON_TEXT = {"rounding": "Rounding", "bank_fee": "Bank fee", "fx": "FX difference"}
RESOLUTION_TEXT = {
    "matched": "Matched elsewhere",
    "written_off": "Written off",
    "no_action": "No action needed",
    "duplicate": "Duplicate line",
    "refunded": "Refunded",
    "other": "Other",
}


def _pick(parent, title: str, label: str, choices: dict[str, str]) -> str | None:
    keys = list(choices)
    text, ok = QInputDialog.getItem(parent, title, label, [choices[k] for k in keys], 0, False)
    if not ok:
        return None
    return keys[[choices[k] for k in keys].index(text)]


def _named(keys, texts: dict[str, str]) -> dict[str, str]:
    return {k: texts.get(k, k) for k in keys}


def _cases(count: int) -> str:
    return f"{count:,} case{'s' if count != 1 else ''}"


def choose_writeoff_reason(parent, what: str) -> str | None:
    """rounding, bank_fee or fx."""
    return _pick(
        parent, "Write off difference", f"Book {what} to:", _named(WRITE_OFF_REASONS, REASON_TEXT)
    )


def choose_resolution(parent, count: int) -> str | None:
    """Why the selected cases are resolved (one of cases.RESOLUTIONS)."""
    return _pick(
        parent,
        "Resolve cases",
        f"Resolve {_cases(count)} as:",
        _named(RESOLUTIONS, RESOLUTION_TEXT),
    )


def choose_assignee(parent, logins: list[str], count: int) -> str | None:
    """A login, or "" to take the cases back (unassign)."""
    choices = {login: login for login in logins}
    choices[""] = "(nobody: unassign)"
    return _pick(parent, "Assign cases", f"Assign {_cases(count)} to:", choices)
