"""Backtest: run a rule set over the records clerks matched by hand and compare, pair by pair.

The reference is every match a person confirmed (a confirmed suggestion or a manual match, not
write-offs). Their records are treated as open, the cascade runs without writing, and each
proposal is split into pairs of records from different sides. Precision counts the proposed pairs
(among proposals made only of reference records) that clerks also paired; recall counts the
clerks' pairs the rules found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from ...errors import UserError
from .engine import simulate
from .rules import RuleSpec

Progress = Callable[[int, int, str], None]
_CLERK_MATCHES = (
    "SELECT mm.record_id FROM match_members mm JOIN matches m ON m.id = mm.match_id"
    " WHERE m.status = 'confirmed' AND m.confirmed_by <> 'engine' AND m.rule <> 'write-off'"
)


@dataclass
class RuleScore:
    """Pairs one rule proposed among reference records, and how many clerks agree with."""

    rule: str
    predicted: int = 0
    correct: int = 0

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None


@dataclass
class BacktestReport:
    """Precision and recall of a rule set against clerk-confirmed matches."""

    reference_matches: int
    reference_pairs: int
    predicted_pairs: int
    correct_pairs: int
    found_pairs: int
    auto_predicted: int
    auto_correct: int
    rules: list[RuleScore] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else None

    @property
    def recall(self) -> float | None:
        return self.found_pairs / self.reference_pairs if self.reference_pairs else None

    @property
    def auto_precision(self) -> float | None:
        return self.auto_correct / self.auto_predicted if self.auto_predicted else None

    def as_json(self) -> dict[str, Any]:
        return {
            "reference_matches": self.reference_matches,
            "reference_pairs": self.reference_pairs,
            "predicted_pairs": self.predicted_pairs,
            "correct_pairs": self.correct_pairs,
            "found_pairs": self.found_pairs,
            "precision": self.precision,
            "recall": self.recall,
            "auto_precision": self.auto_precision,
            "rules": [
                {
                    "rule": r.rule,
                    "predicted": r.predicted,
                    "correct": r.correct,
                    "precision": r.precision,
                }
                for r in self.rules
            ],
        }

    def describe(self) -> str:
        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{v * 100:.1f} %"

        lines = [
            f"reference: {self.reference_matches:,} clerk-confirmed match(es), "
            f"{self.reference_pairs:,} pair(s)",
            f"precision {pct(self.precision)} ({self.correct_pairs:,}/{self.predicted_pairs:,}),"
            f" recall {pct(self.recall)} ({self.found_pairs:,}/{self.reference_pairs:,}),"
            f" auto-confirmed precision {pct(self.auto_precision)}",
        ]
        for r in self.rules:
            lines.append(f"  {r.rule:<28} {r.correct:>8,}/{r.predicted:<8,} {pct(r.precision)}")
        return "\n".join(lines)


def _pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """Cross-side record pairs (a < b) within each group of (group, record_id, side)."""
    m = frame.merge(frame, on="group", suffixes=("_a", "_b"))
    m = m[(m["side_a"] != m["side_b"]) & (m["record_id_a"] < m["record_id_b"])]
    return m[["group", "record_id_a", "record_id_b"]].drop_duplicates()


def backtest(
    session: Session, *, rules: list[RuleSpec] | None = None, progress: Progress | None = None
) -> BacktestReport:
    """Compare `rules` (default: the stored cascade) with the matches clerks confirmed."""
    ref = pd.DataFrame(
        session.execute(
            text(
                "SELECT m.id, mm.record_id, mm.side FROM match_members mm"
                " JOIN matches m ON m.id = mm.match_id WHERE m.status = 'confirmed'"
                " AND m.confirmed_by <> 'engine' AND m.rule <> 'write-off'"
            )
        ).all(),
        columns=["group", "record_id", "side"],
    )
    if ref.empty:
        raise UserError("no clerk-confirmed matches to compare with; confirm some matches first")
    truth = _pairs(ref)
    truth_set = set(zip(truth["record_id_a"], truth["record_id_b"], strict=True))
    ref_ids = set(ref["record_id"].tolist())
    work, _ = simulate(session, rules=rules, progress=progress, also=_CLERK_MATCHES)
    groups = work.props.groups()
    members = work.props.members()
    if members.empty:
        predicted = pd.DataFrame(columns=["group", "record_id_a", "record_id_b"])
    else:
        frame = pd.DataFrame(
            {
                "group": members["group"].to_numpy(np.int64),
                "record_id": work.ids[members["pos"].to_numpy(np.int64)],
                "side": work.side[members["pos"].to_numpy(np.int64)],
            }
        )
        judged = frame.groupby("group")["record_id"].transform(lambda s: s.isin(ref_ids).all())
        frame = frame[judged.to_numpy(bool)]
        predicted = _pairs(frame)
    ok = np.array(
        [
            (a, b) in truth_set
            for a, b in zip(predicted["record_id_a"], predicted["record_id_b"], strict=True)
        ],
        dtype=bool,
    )
    found = len(
        truth_set & set(zip(predicted["record_id_a"], predicted["record_id_b"], strict=True))
    )
    rule_of = groups["rule"].to_numpy() if len(groups) else np.array([], dtype=object)
    status_of = groups["status"].to_numpy() if len(groups) else np.array([], dtype=object)
    g = predicted["group"].to_numpy(np.int64)
    scores = []
    for name in dict.fromkeys(rule_of.tolist()):
        sel = rule_of[g] == name if len(g) else np.zeros(0, bool)
        scores.append(RuleScore(str(name), int(sel.sum()), int(ok[sel].sum())))
    auto = status_of[g] == "auto" if len(g) else np.zeros(0, bool)
    return BacktestReport(
        reference_matches=int(ref["group"].nunique()),
        reference_pairs=len(truth_set),
        predicted_pairs=len(predicted),
        correct_pairs=int(ok.sum()),
        found_pairs=found,
        auto_predicted=int(auto.sum()),
        auto_correct=int(ok[auto].sum()),
        rules=scores,
    )
