"""What the matchers share to build proposals: their counts, label columns and match status."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..rules import RuleSpec

# (auto groups, suggested groups, records in auto groups, records in suggested groups)
Counts = tuple[int, int, int, int]


def labels(choice: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """names[choice] as an object array that shares the few name strings (taking from a tiny
    object array makes no new Python objects, unlike `np.select(...).astype(object)`)."""
    return np.asarray(names, dtype=object)[choice]


def status_of(strong: np.ndarray, rule: RuleSpec) -> np.ndarray:
    """The status column: "auto" where `strong` and the rule auto-confirms, else "suggested"."""
    return labels(np.where(strong & rule.auto_confirm, 0, 1), ("auto", "suggested"))


def add_counts(a: Counts, b: Counts) -> Counts:
    """The sum of two rule counts."""
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])
