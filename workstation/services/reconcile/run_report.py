"""What a reconciliation run did: counts per rule, what is left, cases, timings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RuleCount:
    """What one rule did in a run."""

    name: str
    kind: str
    auto: int = 0
    suggested: int = 0
    records_auto: int = 0
    records_suggested: int = 0
    left_after: int = 0
    seconds: float = 0.0


@dataclass
class RunReport:
    """Outcome of a reconciliation run (or of a dry run: nothing written)."""

    dry_run: bool
    candidates: int = 0
    rules: list[RuleCount] = field(default_factory=list)
    unmatched_left: int = 0
    superseded: int = 0
    blocked: int = 0
    changed_meanwhile: int = 0  # proposals dropped: a record joined a live match during the run
    waited: bool = False  # another import or run held the store first
    cases_opened: int = 0
    cases_resolved: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def auto(self) -> int:
        return sum(r.auto for r in self.rules)

    @property
    def suggested(self) -> int:
        return sum(r.suggested for r in self.rules)

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "candidates": self.candidates,
            "auto": self.auto,
            "suggested": self.suggested,
            "unmatched_left": self.unmatched_left,
            "superseded": self.superseded,
            "blocked": self.blocked,
            "changed_meanwhile": self.changed_meanwhile,
            "waited": self.waited,
            "cases_opened": self.cases_opened,
            "cases_resolved": self.cases_resolved,
            "seconds": round(self.seconds, 3),
            "rules": [asdict(r) | {"seconds": round(r.seconds, 3)} for r in self.rules],
        }

    def describe(self) -> str:
        head = f"{'rule':<28} {'auto':>9} {'suggested':>10} {'left':>10}"
        lines = [head, "-" * len(head)]
        for r in self.rules:
            lines.append(f"{r.name[:28]:<28} {r.auto:>9,} {r.suggested:>10,} {r.left_after:>10,}")
        verb = "would leave" if self.dry_run else "left"
        lines.append(
            f"{self.candidates:,} open record(s) examined; {verb} {self.unmatched_left:,} unmatched"
            f" in {self.seconds:.2f} s"
        )
        if self.changed_meanwhile:
            lines.append(
                f"{self.changed_meanwhile:,} proposal(s) dropped: a record was matched meanwhile"
            )
        if not self.dry_run:
            lines.append(
                f"exception cases: {self.cases_opened:,} opened, {self.cases_resolved:,} resolved"
            )
        return "\n".join(lines)
