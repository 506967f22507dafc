"""The evidence checklist of a case, ticked from the evidence on file and the filled texts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import Dispute, Evidence
from .reason_codes import ReasonInfo, checklist_id, checklists


@dataclass
class ChecklistItem:
    """One thing that wins this kind of dispute, and whether it is on file."""

    id: str
    label: str
    required: bool
    done: bool
    kinds: list[str]
    text_fields: list[str]
    satisfied_by: list[str]


@dataclass
class Checklist:
    """Evidence checklist of a case."""

    id: str
    title: str
    items: list[ChecklistItem]
    typical_evidence: str

    @property
    def required_total(self) -> int:
        return sum(1 for i in self.items if i.required)

    @property
    def required_done(self) -> int:
        return sum(1 for i in self.items if i.required and i.done)

    @property
    def coverage(self) -> float:
        """Share of required items done (1.0 when nothing is required)."""
        total = self.required_total
        return 1.0 if total == 0 else self.required_done / total

    @property
    def missing(self) -> list[str]:
        return [i.label for i in self.items if i.required and not i.done]


def checklist(
    session: Session, d: Dispute, reason: ReasonInfo | None = None, *, ce3: bool = False
) -> Checklist:
    """The case's checklist, ticked from the evidence kinds on file and the filled text fields."""
    cid = checklist_id(d.network, d.reason_code, d.reason_category, d.psp_reason, d.stage)
    spec = checklists()["checklists"][cid]
    files = session.execute(
        select(Evidence.kind, Evidence.file_name).where(Evidence.dispute_id == d.id)
    ).all()
    by_kind: dict[str, list[str]] = {}
    for kind, name in files:
        by_kind.setdefault(kind, []).append(name)
    texts = {f: (getattr(d, f) or "").strip() for f in checklists()["text_fields"]}
    items = []
    for raw in spec["items"]:
        kinds = list(raw.get("kinds", []))
        fields = list(raw.get("text", []))
        satisfied = [n for k in kinds for n in by_kind.get(k, [])]
        satisfied += [checklists()["text_fields"][f] for f in fields if texts.get(f)]
        if raw["id"] == "history" and ce3:
            satisfied.append("Visa CE 3.0 prior transactions found")
        items.append(
            ChecklistItem(
                id=raw["id"],
                label=raw["label"],
                required=bool(raw.get("required")),
                done=bool(satisfied),
                kinds=kinds,
                text_fields=fields,
                satisfied_by=satisfied,
            )
        )
    return Checklist(cid, spec["title"], items, reason.typical_evidence if reason else "")
