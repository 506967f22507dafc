"""Dispute cases from PSP files: create or update them with their history, then link them.

`upsert_disputes` folds the importer's observations (see
`importers.dispute_fields.DISPUTE_FIELDS`) into cases: a new PSP id creates a case, a known one is
updated, and every change becomes one `DisputeEvent` ("created", "updated" with the changed
fields, "psp_comment"). Writes are Core bulk statements (insert ... returning, update by primary
key), not per-row ORM flushes. The touched cases are then linked to records (`linking`).

This is the disputes domain's entry for the import service (`upsert_disputes`,
`relink_for_batch`); the agents' notes and decisions (`agent_actions`) are reachable here too,
for the workbook round trip.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ...models import Dispute, DisputeEvent, utcnow
from ..common import audit
from ..common.card_numbers import mask_json
from .agent_actions import add_note as add_note
from .agent_actions import decide as decide
from .agent_actions import last_decisions as last_decisions
from .linking import link_disputes, reference_key
from .linking import relink_for_batch as relink_for_batch
from .reason_codes import ReasonTable, normalise_category, normalise_code, normalise_network

STAGE_RANK = {"inquiry": 0, "chargeback": 1, "pre_arbitration": 2, "arbitration": 3}
OPEN_STATUSES = ("needs_response", "under_review")
FINAL_STATUSES = ("won", "lost", "accepted", "expired")
# Fields an observation may change; each change is listed in the "updated" event.
_TRACKED = (
    "stage",
    "status",
    "due_by",
    "amount_minor",
    "currency",
    "network",
    "reason_code",
    "reason_category",
    "psp_reason",
    "charge_ref",
    "order_ref",
)
_CHUNK = 500


@dataclass
class UpsertReport:
    """What an import did to the dispute cases."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    events: int = 0
    linked: int = 0
    dispute_ids: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "events": self.events,
            "linked": self.linked,
        }


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _category(table: ReasonTable, network: str | None, code: str | None, hint: str | None) -> Any:
    info = table.lookup(network, code)
    if info is not None:
        return info.category
    return normalise_category(hint)


def _state_columns() -> list[Any]:
    return [
        Dispute.id,
        Dispute.psp,
        Dispute.psp_dispute_id,
        Dispute.psp_updated_at,
        Dispute.customer,
        Dispute.raw,
        *[getattr(Dispute, f) for f in _TRACKED],
    ]


def _apply(state: dict[str, Any], obs: dict[str, Any], table: ReasonTable) -> dict[str, list[Any]]:
    """Apply one observation to a case's state dict; returns {field: [old, new]} changed."""
    changes: dict[str, list[Any]] = {}

    def put(name: str, value: Any) -> None:
        old = state.get(name)
        if value is not None and value != old:
            changes[name] = [_json(old), _json(value)]
            state[name] = value

    seen = _aware(state.get("psp_updated_at"))
    when = obs.get("observed_at")
    stale = when is not None and seen is not None and when < seen
    if when is None and obs.get("stage") and state.get("stage"):
        # An undated export older than what we know must not move the case backwards.
        backwards = STAGE_RANK.get(obs["stage"], 0) < STAGE_RANK.get(state["stage"], 0)
        reopened = (
            obs["stage"] == state["stage"]
            and state.get("status") in FINAL_STATUSES
            and obs.get("status") in OPEN_STATUSES
        )
        stale = backwards or reopened
    if not stale:
        put("stage", obs.get("stage"))
        put("status", obs.get("status"))
        if obs.get("status_if_open") and state.get("status") == "needs_response":
            put("status", obs["status_if_open"])
        put("due_by", obs.get("due_by"))
        put("amount_minor", obs.get("amount_minor"))
        put("currency", obs.get("currency"))
        put("psp_reason", obs.get("psp_reason"))
        network = normalise_network(obs.get("network"))
        put("network", network)
        put("reason_code", normalise_code(network or state.get("network"), obs.get("reason_code")))
        category = _category(
            table, state.get("network"), state.get("reason_code"), obs.get("category_hint")
        )
        put("reason_category", category)
    for name in ("charge_ref", "order_ref"):
        if obs.get(name) and (not state.get(name) or not stale):
            put(name, obs[name])
    if when is not None and (seen is None or when > seen):
        state["psp_updated_at"] = when
    if obs.get("customer"):
        merged = dict(state.get("customer") or {})
        merged.update({k: v for k, v in obs["customer"].items() if v})
        state["customer"] = merged
    refs = [r for r in obs.get("extra_refs") or [] if r]
    if refs or (not stale and obs.get("raw") is not None):
        raw = dict(state.get("raw") or {})
        raw["refs"] = sorted(set(raw.get("refs") or []) | set(refs))
        if not stale and obs.get("raw") is not None:
            raw["object"] = obs["raw"]  # the newest PSP object or row
        state["raw"] = raw
    return changes


def _new_state(obs: dict[str, Any], table: ReasonTable) -> dict[str, Any]:
    network = normalise_network(obs.get("network"))
    code = normalise_code(network, obs.get("reason_code"))
    status = obs.get("status") or "needs_response"
    if obs.get("status_if_open") and status == "needs_response":
        status = obs["status_if_open"]
    return {
        "psp": obs["psp"],
        "psp_dispute_id": obs["psp_dispute_id"],
        "network": network,
        "reason_code": code,
        "reason_category": _category(table, network, code, obs.get("category_hint")),
        "psp_reason": obs.get("psp_reason"),
        "stage": obs.get("stage") or "chargeback",
        "status": status,
        "amount_minor": int(obs["amount_minor"]),
        "currency": obs["currency"],
        "opened_at": obs.get("opened_at") or obs.get("observed_at"),
        "due_by": obs.get("due_by"),
        "charge_ref": obs.get("charge_ref"),
        "order_ref": obs.get("order_ref"),
        "psp_updated_at": obs.get("observed_at"),
        "customer": obs.get("customer"),
        "raw": {"object": obs.get("raw"), "refs": sorted(set(obs.get("extra_refs") or []))},
    }


def _keys_of(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "dispute_key": reference_key(state["psp_dispute_id"]),
        "charge_key": reference_key(state.get("charge_ref")),
        "order_key": reference_key(state.get("order_ref")),
    }


def _load_existing(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    by_psp: dict[str, list[str]] = defaultdict(list)
    for psp, pid in keys:
        by_psp[psp].append(pid)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for psp, ids in by_psp.items():
        for i in range(0, len(ids), _CHUNK):
            rows = session.execute(
                select(*_state_columns()).where(
                    Dispute.psp == psp, Dispute.psp_dispute_id.in_(ids[i : i + _CHUNK])
                )
            ).mappings()
            for row in rows:
                out[(row["psp"], row["psp_dispute_id"])] = dict(row)
    return out


def _comment_keys(session: Session, dispute_ids: list[int]) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for i in range(0, len(dispute_ids), _CHUNK):
        rows = session.execute(
            select(DisputeEvent.dispute_id, DisputeEvent.detail).where(
                DisputeEvent.dispute_id.in_(dispute_ids[i : i + _CHUNK]),
                DisputeEvent.kind == "psp_comment",
            )
        )
        for did, detail in rows:
            if isinstance(detail, dict) and detail.get("key"):
                found.add((int(did), str(detail["key"])))
    return found


def _masked(obs: dict[str, Any]) -> dict[str, Any]:
    """The observation with card numbers masked in the PSP object and customer details kept
    with the case; the case's own references (often 16-digit, Luhn-valid) stay as they are."""
    ids = (obs.get("psp_dispute_id"), obs.get("charge_ref"), obs.get("order_ref"))
    keep = frozenset(
        "".join(ch for ch in str(v) if ch.isdigit())
        for v in (*ids, *(obs.get("extra_refs") or []))
        if v
    )
    out = dict(obs)
    for name in ("raw", "customer"):
        if out.get(name) is not None:
            out[name], _ = mask_json(out[name], keep)
    return out


def upsert_disputes(
    session: Session,
    observations: Iterable[dict[str, Any]],
    actor: str,
    batch_id: int | None = None,
    *,
    link: bool = True,
) -> UpsertReport:
    """Create or update cases from normalised observations (in time order), with history.

    Args:
        session: the import's Session (the caller commits).
        observations: dicts as `importers.disputes` produces them.
        actor: login of the importing user.
        batch_id: the import batch, noted in every event.
        link: link the touched cases to records afterwards.
    """
    obs_list = [_masked(o) for o in observations if o.get("psp") and o.get("psp_dispute_id")]
    report = UpsertReport()
    if not obs_list:
        return report
    table = ReasonTable(session)
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for o in obs_list:
        grouped[(str(o["psp"]), str(o["psp_dispute_id"]))].append(o)
    existing = _load_existing(session, list(grouped))
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    new_history: list[list[tuple[str, dict[str, Any]]]] = []
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    comments: list[tuple[tuple[str, str], dict[str, Any]]] = []
    for key, group in grouped.items():
        state = existing.get(key)
        history: list[tuple[str, dict[str, Any]]] = []
        first = 0
        if state is None:
            state = _new_state(group[0], table)
            history.append(
                (
                    "created",
                    {
                        "batch_id": batch_id,
                        "psp_event": group[0].get("psp_event"),
                        "stage": state["stage"],
                        "status": state["status"],
                        "due_by": _json(state["due_by"]),
                        "amount_minor": state["amount_minor"],
                        "currency": state["currency"],
                    },
                )
            )
            first = 1
        changed_any = False
        for o in group[first:]:
            changes = _apply(state, o, table)
            if changes:
                changed_any = True
                history.append(
                    (
                        "updated",
                        {"changes": changes, "batch_id": batch_id, "psp_event": o.get("psp_event")},
                    )
                )
        for o in group:
            if o.get("comment"):
                comments.append((key, o))
        if "id" not in state:
            new_rows.append({**state, **_keys_of(state), "created_at": now, "updated_at": now})
            new_history.append(history)
            report.created += 1
        elif changed_any:
            row = {f: state[f] for f in _TRACKED}
            row.update(_keys_of(state))
            row.update(
                id=state["id"],
                psp_updated_at=state.get("psp_updated_at"),
                customer=state.get("customer"),
                raw=state.get("raw"),
                updated_at=now,
            )
            updates.append(row)
            events.extend(_event_rows(state["id"], history, actor, now))
            report.updated += 1
        else:
            report.unchanged += 1
    ids_by_key = {k: int(v["id"]) for k, v in existing.items()}
    if new_rows:
        for i in range(0, len(new_rows), _CHUNK):
            chunk = new_rows[i : i + _CHUNK]
            ids = session.scalars(
                insert(Dispute).returning(Dispute.id, sort_by_parameter_order=True), chunk
            ).all()
            for row, new_id, history in zip(chunk, ids, new_history[i : i + _CHUNK], strict=True):
                ids_by_key[(row["psp"], row["psp_dispute_id"])] = int(new_id)
                events.extend(_event_rows(int(new_id), history, actor, now))
    if updates:
        session.execute(update(Dispute), updates)
    if comments:
        have = _comment_keys(session, [ids_by_key[k] for k, _ in comments])
        for key, o in comments:
            did = ids_by_key[key]
            ckey = f"{o.get('psp_event')}|{_json(o.get('observed_at'))}|{o['comment']}"
            if (did, ckey) in have:
                continue
            have.add((did, ckey))
            events.append(
                {
                    "dispute_id": did,
                    "at": o.get("observed_at") or now,
                    "actor": o["psp"],
                    "kind": "psp_comment",
                    "detail": {"key": ckey, "text": o["comment"], "psp_event": o.get("psp_event")},
                }
            )
    if events:
        session.execute(insert(DisputeEvent), events)
    report.events = len(events)
    report.dispute_ids = sorted(ids_by_key.values())
    session.expire_all()
    if link and report.dispute_ids:
        report.linked = link_disputes(session, report.dispute_ids).links_changed
    audit.log(session, actor, "import_disputes", "import_batch", batch_id, report.as_json())
    return report


def _event_rows(
    dispute_id: int, history: list[tuple[str, dict[str, Any]]], actor: str, at: dt.datetime
) -> list[dict[str, Any]]:
    return [
        {"dispute_id": dispute_id, "at": at, "actor": actor, "kind": kind, "detail": detail}
        for kind, detail in history
    ]
