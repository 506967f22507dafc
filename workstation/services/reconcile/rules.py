"""The reconciliation cascade as data: rule kinds, default rules, the user's ordered editable set.

Rules live in `match_rules` (seeded with `DEFAULT_RULES` on first use). Each has a name, a kind
(which matcher runs it), parameters, an enabled flag and whether its matches are auto-confirmed.
The engine runs enabled rules by `position`; every record is used by at most one rule per run.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ... import config
from ...errors import UserError
from ...models import MatchRule
from ..common import audit

# Which records a rule pairs: "order" = ledger lines, "psp" = PSP report lines, "bank" = bank lines.
SIDES = ("order", "psp", "bank", "other")
KINDS = ("reference", "payout", "fx", "window", "subset")

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "Reference (exact)",
        "kind": "reference",
        "auto_confirm": True,
        "params": {"mode": "exact", "pairs": [["order", "psp"], ["order", "bank"]]},
    },
    {
        "name": "Reference (normalised)",
        "kind": "reference",
        "auto_confirm": True,
        "params": {
            "mode": "normalised",
            "prefix_min": 8,
            "pairs": [["order", "psp"], ["order", "bank"]],
        },
    },
    {
        "name": "Payout to bank credit",
        "kind": "payout",
        "auto_confirm": True,
        "params": {"days_after": 5, "days_before": 1},
    },
    {
        "name": "Fee / FX aware reference",
        "kind": "fx",
        "auto_confirm": False,
        "params": {
            "fx_pct_tolerance": "2",
            "suggest_unexplained": True,
            "pairs": [["order", "psp"], ["order", "bank"]],
        },
    },
    {
        "name": "Amount + date window",
        "kind": "window",
        "auto_confirm": False,
        "params": {
            "days_before": 1,
            "days_after": 4,
            "min_similarity": 0,
            "pairs": [["order", "psp"], ["order", "bank"], ["psp", "bank"]],
        },
    },
    {
        "name": "Subset sum",
        "kind": "subset",
        "auto_confirm": False,
        "params": {
            "max_candidates": 20,
            "max_members": 4,
            "days_before": 3,
            "days_after": 5,
            "max_targets": 20000,
            "pairs": [["order", "psp"], ["order", "bank"], ["psp", "bank"]],
        },
    },
]


@dataclass
class RuleSpec:
    """One rule as the engine runs it (detached from the session)."""

    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    auto_confirm: bool = False
    position: int = 0

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def tolerance(self) -> tuple[int, int]:
        """(absolute tolerance in minor units, percent tolerance in parts per million)."""
        abs_tol = int(self.params.get("abs_tolerance_minor", 0))
        return abs_tol, pct_to_ppm(self.params.get("pct_tolerance", "0"))

    def pairs(self) -> list[tuple[str, str]]:
        return [(str(a), str(b)) for a, b in self.params.get("pairs", [])]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "params": self.params,
            "enabled": self.enabled,
            "auto_confirm": self.auto_confirm,
            "position": self.position,
        }


def pct_to_ppm(value: Any) -> int:
    """Percent as Decimal text ("1.5") -> parts per million (15000); exact, no floats."""
    try:
        d = Decimal(str(value))
    except InvalidOperation as exc:
        raise UserError(f"not a percentage: {value!r}") from exc
    if d < 0:
        raise UserError(f"a tolerance cannot be negative: {value!r}")
    return int(d * 10000)


def _validate(kind: str, params: dict[str, Any]) -> None:
    if kind not in KINDS:
        raise UserError(f"unknown rule kind {kind!r}; choose one of {', '.join(KINDS)}")
    for a, b in params.get("pairs", []):
        if a not in SIDES or b not in SIDES or a == b:
            raise UserError(f"rule pairs must name two different sides of {SIDES}: {a!r}, {b!r}")
    for key in ("days_before", "days_after", "abs_tolerance_minor", "prefix_min"):
        if key in params and int(params[key]) < 0:
            raise UserError(f"{key} cannot be negative")
    for key in ("pct_tolerance", "fx_pct_tolerance"):
        if key in params:
            pct_to_ppm(params[key])


def _defaults_with_settings(session: Session) -> list[dict[str, Any]]:
    """DEFAULT_RULES with the team's tolerance settings filled in."""
    rules = copy.deepcopy(DEFAULT_RULES)
    abs_tol = int(config.get(session, "match.abs_tolerance_minor"))
    pct = str(config.get(session, "match.pct_tolerance"))
    window = int(config.get(session, "match.date_window_days"))
    for r in rules:
        r["params"].setdefault("abs_tolerance_minor", abs_tol)
        r["params"].setdefault("pct_tolerance", pct)
        if r["kind"] == "window":
            r["params"]["days_after"] = window
    return rules


def default_specs(session: Session) -> list[RuleSpec]:
    """The default cascade, not stored (what `ensure_rules` would seed)."""
    return [
        RuleSpec(
            name=r["name"],
            kind=r["kind"],
            params=r["params"],
            enabled=True,
            auto_confirm=r["auto_confirm"],
            position=i + 1,
        )
        for i, r in enumerate(_defaults_with_settings(session))
    ]


def _spec(row: MatchRule) -> RuleSpec:
    return RuleSpec(
        name=row.name,
        kind=row.kind,
        params=dict(row.params or {}),
        enabled=bool(row.enabled),
        auto_confirm=bool(row.auto_confirm),
        position=row.position,
    )


def load_rules(session: Session) -> list[RuleSpec]:
    """The stored cascade in order, or the defaults when none is stored yet (reads only)."""
    rows = list(session.scalars(select(MatchRule).order_by(MatchRule.position, MatchRule.id)))
    if not rows:
        return default_specs(session)
    return [_spec(r) for r in rows]


def ensure_rules(session: Session) -> list[RuleSpec]:
    """The stored cascade, seeding the defaults on first use."""
    rows = list(session.scalars(select(MatchRule).order_by(MatchRule.position, MatchRule.id)))
    if rows:
        return [_spec(r) for r in rows]
    for spec in default_specs(session):
        session.add(
            MatchRule(
                position=spec.position,
                name=spec.name,
                kind=spec.kind,
                enabled=spec.enabled,
                auto_confirm=spec.auto_confirm,
                params=spec.params,
            )
        )
    session.flush()
    return load_rules(session)


def update_rule(
    session: Session,
    name: str,
    *,
    actor: str,
    params: dict[str, Any] | None = None,
    enabled: bool | None = None,
    auto_confirm: bool | None = None,
    new_name: str | None = None,
) -> RuleSpec:
    """Change one rule (parameters are merged into the stored ones); audited."""
    ensure_rules(session)
    row = session.scalar(select(MatchRule).where(MatchRule.name == name))
    if row is None:
        raise UserError(f"no match rule named {name!r}")
    before = _spec(row).as_dict()
    if params is not None:
        merged = {**(row.params or {}), **params}
        _validate(row.kind, merged)
        row.params = merged
    if enabled is not None:
        row.enabled = enabled
    if auto_confirm is not None:
        if auto_confirm and row.kind == "subset":
            raise UserError("subset-sum matches are never auto-confirmed")
        row.auto_confirm = auto_confirm
    if new_name:
        row.name = new_name
    session.flush()
    after = _spec(row)
    audit.log(session, actor, "rule.update", "match_rule", row.id, {"before": before})
    return after


def add_rule(
    session: Session,
    name: str,
    kind: str,
    *,
    actor: str,
    params: dict[str, Any] | None = None,
    auto_confirm: bool = False,
    position: int | None = None,
) -> RuleSpec:
    """Add a rule at `position` (1-based; default last); audited."""
    rules = ensure_rules(session)
    params = dict(params or {})
    _validate(kind, params)
    if kind == "subset" and auto_confirm:
        raise UserError("subset-sum matches are never auto-confirmed")
    if any(r.name == name for r in rules):
        raise UserError(f"a match rule named {name!r} exists already")
    row = MatchRule(
        position=len(rules) + 1,
        name=name,
        kind=kind,
        enabled=True,
        auto_confirm=auto_confirm,
        params=params,
    )
    session.add(row)
    session.flush()
    audit.log(session, actor, "rule.add", "match_rule", row.id, {"name": name, "kind": kind})
    if position is not None:
        move_rule(session, name, position, actor=actor)
    return _spec(row)


def move_rule(session: Session, name: str, position: int, *, actor: str) -> list[RuleSpec]:
    """Move a rule to 1-based `position`, renumbering the others; audited."""
    ensure_rules(session)
    rows = list(session.scalars(select(MatchRule).order_by(MatchRule.position, MatchRule.id)))
    row = next((r for r in rows if r.name == name), None)
    if row is None:
        raise UserError(f"no match rule named {name!r}")
    old = rows.index(row) + 1
    rows.remove(row)
    pos = max(1, min(position, len(rows) + 1))
    rows.insert(pos - 1, row)
    for i, r in enumerate(rows, start=1):
        r.position = i
    session.flush()
    audit.log(session, actor, "rule.move", "match_rule", row.id, {"from": old, "to": pos})
    return [_spec(r) for r in rows]
