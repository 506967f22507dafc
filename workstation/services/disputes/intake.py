"""Dispute cases: create/update from PSP files with history, link to records, money trail, notes.

`upsert_disputes` folds the importer's observations (see `importers.disputes.DISPUTE_FIELDS`)
into cases: a new PSP id creates a case, a known one is updated, and every change becomes one
`DisputeEvent` ("created", "updated" with the changed fields, "psp_comment"). Writes are Core bulk
statements (insert ... returning, update by primary key), not per-row ORM flushes.

Linking finds, through `record_references` (normalised tokens, see
`services.common.reference_tokens.normalise`):
the disputed charge (its id / Adyen payment reference), the order (the dispute's order reference,
else the charge's `order` tokens) and the money trail: PSP and bank lines naming the dispute id or
the charge (withdrawals, dispute fees, reinstatements, refunds). Links are recomputed idempotently
for the disputes an import touches (`relink_for_batch`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import Dispute, DisputeEvent, DisputeLink, Record, RecordReference, Source, utcnow
from ...money import format_minor
from ..common import audit
from ..common.reference_tokens import normalise
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
ROLES = ("charge", "order", "withdrawn", "fee", "reinstated", "refund")


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


def _key(value: str | None) -> str | None:
    if not value:
        return None
    k = normalise(value)[:128]
    return k if len(k) >= 4 else None


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
        "dispute_key": _key(state["psp_dispute_id"]),
        "charge_key": _key(state.get("charge_ref")),
        "order_key": _key(state.get("order_ref")),
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
    obs_list = [o for o in observations if o.get("psp") and o.get("psp_dispute_id")]
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


# ----------------------------------------------------------------------------- linking


@dataclass
class LinkReport:
    """What linking changed."""

    disputes: int = 0
    links_changed: int = 0
    charges_found: int = 0
    orders_found: int = 0


@dataclass
class _Hit:
    record_id: int
    kind: str
    amount_minor: int
    currency: str
    source_kind: str
    booked_on: dt.date
    via: str  # dispute | charge | order
    ref_kind: str


def _hits(session: Session, values: set[str]) -> dict[str, list[_Hit]]:
    """Records naming each normalised value, via record_references."""
    out: dict[str, list[_Hit]] = defaultdict(list)
    vals = sorted(values)
    for i in range(0, len(vals), _CHUNK):
        rows = session.execute(
            select(
                RecordReference.value,
                RecordReference.kind,
                Record.id,
                Record.kind,
                Record.amount_minor,
                Record.currency,
                Source.kind,
                Record.booked_on,
            )
            .join(Record, Record.id == RecordReference.record_id)
            .join(Source, Source.id == Record.source_id)
            .where(RecordReference.value.in_(vals[i : i + _CHUNK]))
        )
        for value, ref_kind, rid, kind, amount, cur, skind, booked in rows:
            out[value].append(
                _Hit(int(rid), kind, int(amount), cur, skind, booked, "", ref_kind or "")
            )
    return out


def _pick_charge(hits: list[_Hit], amount: int) -> _Hit | None:
    charges = [h for h in hits if h.kind == "charge"]
    if not charges:
        return None
    # Prefer the PSP's own line, then the amount closest to the dispute, then the earliest.
    return min(
        charges,
        key=lambda h: (h.source_kind != "psp", abs(abs(h.amount_minor) - amount), h.booked_on),
    )


def _trail_role(hit: _Hit, via: str) -> str | None:
    kind = hit.kind
    if kind == "fee":
        return "fee"
    if kind == "dispute_reversal":
        return "reinstated"
    if kind == "refund" and via == "charge":
        return "refund"
    if kind in ("dispute", "adjustment") or (
        via == "dispute" and kind in ("bank_debit", "bank_credit", "other")
    ):
        return "withdrawn" if hit.amount_minor < 0 else "reinstated"
    return None


def link_disputes(session: Session, dispute_ids: Sequence[int] | None = None) -> LinkReport:
    """(Re)compute charge, order and money-trail links of the given cases (all when None).

    Idempotent: links that still hold stay, new ones are added, ones no longer supported by any
    reference are removed.
    """
    report = LinkReport()
    if dispute_ids is None:
        dispute_ids = list(session.scalars(select(Dispute.id).order_by(Dispute.id)))
    ids = list(dispute_ids)
    for i in range(0, len(ids), _CHUNK):
        _link_chunk(session, ids[i : i + _CHUNK], report)
    session.expire_all()
    return report


def _link_chunk(session: Session, ids: list[int], report: LinkReport) -> None:
    rows = session.execute(
        select(
            Dispute.id,
            Dispute.dispute_key,
            Dispute.charge_key,
            Dispute.order_key,
            Dispute.amount_minor,
            Dispute.raw,
            Dispute.charge_record_id,
            Dispute.order_record_id,
        ).where(Dispute.id.in_(ids))
    ).all()
    extra: dict[int, list[str]] = {}
    values: set[str] = set()
    for r in rows:
        refs = [k for k in (_key(x) for x in ((r.raw or {}).get("refs") or [])) if k]
        extra[r.id] = refs
        values.update(v for v in (r.dispute_key, r.charge_key, r.order_key, *refs) if v)
    hits = _hits(session, values)
    # Order tokens of the charges we find lead to the order record.
    desired: dict[int, dict[int, str]] = {}
    charge_of: dict[int, int | None] = {}
    order_of: dict[int, int | None] = {}
    pending_order: dict[int, list[int]] = {}
    order_keys = {r.id: r.order_key for r in rows}
    for r in rows:
        links: dict[int, str] = {}
        charge_hits = [h for v in (r.charge_key, *extra[r.id]) if v for h in hits.get(v, [])]
        charge = _pick_charge(charge_hits, r.amount_minor)
        if charge is not None:
            links[charge.record_id] = "charge"
        order_hits = [h for h in hits.get(r.order_key or "", []) if h.kind == "order"]
        order = min(order_hits, key=lambda h: h.booked_on) if order_hits else None
        if order is not None:
            links.setdefault(order.record_id, "order")
        for via, group in (("dispute", hits.get(r.dispute_key or "", [])), ("charge", charge_hits)):
            for h in group:
                role = _trail_role(h, via)
                if role and h.record_id not in links:
                    links[h.record_id] = role
        desired[r.id] = links
        charge_of[r.id] = charge.record_id if charge else None
        order_of[r.id] = order.record_id if order else None
        if order is None and charge is not None:
            pending_order[r.id] = [charge.record_id]
    if pending_order:
        charge_ids = sorted({c for cs in pending_order.values() for c in cs})
        tokens = session.execute(
            select(RecordReference.record_id, RecordReference.value).where(
                RecordReference.record_id.in_(charge_ids), RecordReference.kind == "order"
            )
        ).all()
        by_charge: dict[int, list[str]] = defaultdict(list)
        for rid, value in tokens:
            by_charge[int(rid)].append(value)
        order_hits_by_value = _hits(session, {v for vs in by_charge.values() for v in vs})
        for did, cs in pending_order.items():
            found = [
                h
                for c in cs
                for v in by_charge.get(c, [])
                for h in order_hits_by_value.get(v, [])
                if h.kind == "order"
            ]
            if found:
                best = min(found, key=lambda h: h.booked_on)
                order_of[did] = best.record_id
                desired[did].setdefault(best.record_id, "order")
            tokens_of = sorted(v for c in cs for v in by_charge.get(c, []))
            if tokens_of and not order_keys.get(did):
                # Remember the charge's order number so an order file imported later finds
                # this case (relink_for_batch looks cases up by their keys).
                session.execute(
                    update(Dispute).where(Dispute.id == did).values(order_key=tokens_of[0])
                )
    current: dict[int, dict[int, tuple[int, str]]] = defaultdict(dict)
    for lid, did, rid, role in session.execute(
        select(
            DisputeLink.id, DisputeLink.dispute_id, DisputeLink.record_id, DisputeLink.role
        ).where(DisputeLink.dispute_id.in_(ids))
    ):
        current[int(did)][int(rid)] = (int(lid), role)
    to_add: list[dict[str, Any]] = []
    to_delete: list[int] = []
    to_update: list[dict[str, Any]] = []
    for r in rows:
        want = desired[r.id]
        have = current.get(r.id, {})
        for rid, role in want.items():
            if rid not in have:
                to_add.append({"dispute_id": r.id, "record_id": rid, "role": role})
            elif have[rid][1] != role:
                to_update.append({"id": have[rid][0], "role": role})
        to_delete.extend(lid for rid, (lid, _) in have.items() if rid not in want)
        if r.charge_record_id != charge_of[r.id] or r.order_record_id != order_of[r.id]:
            session.execute(
                update(Dispute)
                .where(Dispute.id == r.id)
                .values(charge_record_id=charge_of[r.id], order_record_id=order_of[r.id])
            )
        report.charges_found += charge_of[r.id] is not None
        report.orders_found += order_of[r.id] is not None
    if to_add:
        session.execute(insert(DisputeLink), to_add)
    if to_update:
        session.execute(update(DisputeLink), to_update)
    if to_delete:
        session.execute(delete(DisputeLink).where(DisputeLink.id.in_(to_delete)))
    report.disputes += len(rows)
    report.links_changed += len(to_add) + len(to_update) + len(to_delete)


def relink_for_batch(session: Session, batch_id: int, new_records: int) -> LinkReport:
    """Re-link the cases that records of a new import batch refer to (charge, order, dispute id)."""
    total = session.scalar(select(func.count()).select_from(Dispute)) or 0
    if total == 0 or new_records == 0:
        return LinkReport()
    keys = (Dispute.dispute_key, Dispute.charge_key, Dispute.order_key)
    if new_records * 3 < total:
        # Small batch: its tokens, probed against the dispute key indexes.
        values = (
            select(RecordReference.value)
            .join(Record, Record.id == RecordReference.record_id)
            .where(Record.batch_id == batch_id)
        )
        query = select(Dispute.id).where(
            keys[0].in_(values) | keys[1].in_(values) | keys[2].in_(values)
        )
    else:
        # Big batch: probe each case's keys in the token index instead.
        def named(col: Any) -> Any:
            return exists().where(
                RecordReference.value == col,
                Record.id == RecordReference.record_id,
                Record.batch_id == batch_id,
            )

        query = select(Dispute.id).where(named(keys[0]) | named(keys[1]) | named(keys[2]))
    ids = sorted(int(i) for i in session.scalars(query))
    if not ids:
        return LinkReport()
    return link_disputes(session, ids)


# ----------------------------------------------------------------------------- money trail


@dataclass
class TrailLine:
    """One record of a case's money trail."""

    record_id: int
    role: str
    booked_on: dt.date
    amount_minor: int
    fee_minor: int | None
    currency: str
    source: str
    source_kind: str
    kind: str
    external_id: str | None
    description: str | None
    counted: bool = True  # False: other currency, or a bank echo of a PSP line


@dataclass
class MoneyTrail:
    """Disputed, withdrawn, fees, reinstated and net outcome in the case's currency (minor units).

    Signs follow the records: money out is negative. `fees_minor` is the fee lines' amounts plus
    the fees carried on withdrawal/reinstatement lines (Stripe's dispute fee and its refund).
    Bank lines naming the dispute count only for a role no PSP line covers (otherwise they echo
    the PSP's own debit); lines in another currency are listed but not summed.
    """

    dispute_id: int
    currency: str
    disputed_minor: int
    charge_minor: int | None
    withdrawn_minor: int
    fees_minor: int
    reinstated_minor: int
    refunded_minor: int
    net_minor: int
    lines: list[TrailLine]
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: `disputed 10.00, withdrawn -10.00, fees -15.00, ...: net -15.00 USD`."""
        c = self.currency
        return (
            f"disputed {format_minor(self.disputed_minor, c)}, "
            f"withdrawn {format_minor(self.withdrawn_minor, c)}, "
            f"fees {format_minor(self.fees_minor, c)}, "
            f"reinstated {format_minor(self.reinstated_minor, c)}: "
            f"net {format_minor(self.net_minor, c)} {c}"
        )


def money_trail(session: Session, dispute_id: int) -> MoneyTrail:
    """The case's money trail from its links (exact minor units)."""
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    rows = session.execute(
        select(DisputeLink.role, Record, Source.name, Source.kind)
        .join(Record, Record.id == DisputeLink.record_id)
        .join(Source, Source.id == Record.source_id)
        .where(DisputeLink.dispute_id == dispute_id)
        .order_by(Record.booked_on, Record.id)
    ).all()
    lines = [
        TrailLine(
            record_id=rec.id,
            role=role,
            booked_on=rec.booked_on,
            amount_minor=rec.amount_minor,
            fee_minor=rec.fee_minor,
            currency=rec.currency,
            source=sname,
            source_kind=skind,
            kind=rec.kind,
            external_id=rec.external_id,
            description=rec.description,
        )
        for role, rec, sname, skind in rows
    ]
    warnings: list[str] = []
    psp_roles = {ln.role for ln in lines if ln.source_kind != "bank"}
    for ln in lines:
        if ln.currency != d.currency:
            ln.counted = False
            warnings.append(
                f"line {ln.external_id or ln.record_id} is in {ln.currency}, not {d.currency}; "
                "not summed"
            )
        elif ln.source_kind == "bank" and ln.role in psp_roles:
            ln.counted = False

    def total(role: str) -> int:
        return sum(ln.amount_minor for ln in lines if ln.counted and ln.role == role)

    carried_fees = sum(
        ln.fee_minor or 0 for ln in lines if ln.counted and ln.role in ("withdrawn", "reinstated")
    )
    charge = next((ln for ln in lines if ln.role == "charge"), None)
    withdrawn = total("withdrawn")
    reinstated = total("reinstated")
    fees = total("fee") - carried_fees
    refunded = total("refund")
    if refunded and withdrawn:
        warnings.append("the charge was refunded and also charged back: money lost twice")
    return MoneyTrail(
        dispute_id=d.id,
        currency=d.currency,
        disputed_minor=d.amount_minor,
        charge_minor=charge.amount_minor if charge else None,
        withdrawn_minor=withdrawn,
        fees_minor=fees,
        reinstated_minor=reinstated,
        refunded_minor=refunded,
        net_minor=withdrawn + reinstated + fees,
        lines=lines,
        warnings=warnings,
    )


# ----------------------------------------------------------------------------- cases


def find_dispute(session: Session, ref: str | int) -> Dispute:
    """A case by our id, or by the PSP's id (`dp_...`, an Adyen dispute reference)."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit() and len(ref) < 10):
        found = session.get(Dispute, int(ref))
        if found is not None:
            return found
    text = str(ref).strip()
    matches = list(session.scalars(select(Dispute).where(Dispute.psp_dispute_id == text)))
    if not matches:
        raise UserError(f"no dispute {text!r}")
    if len(matches) > 1:
        psps = ", ".join(sorted(m.psp for m in matches))
        raise UserError(f"dispute id {text!r} exists at several PSPs ({psps}); use the case number")
    return matches[0]


def add_event(
    session: Session, dispute_id: int, actor: str, kind: str, detail: dict[str, Any] | None = None
) -> DisputeEvent:
    """Append one entry to a case's timeline."""
    event = DisputeEvent(dispute_id=dispute_id, actor=actor, kind=kind, detail=detail)
    session.add(event)
    session.flush()
    return event


def add_note(session: Session, dispute_id: int, actor: str, text: str) -> DisputeEvent:
    """A note on the case's timeline (notes are events of kind `note`)."""
    body = (text or "").strip()
    if not body:
        raise UserError("the note is empty")
    if session.get(Dispute, dispute_id) is None:
        raise UserError(f"no dispute {dispute_id}")
    event = add_event(session, dispute_id, actor, "note", {"text": body})
    audit.log(session, actor, "dispute_note", "dispute", dispute_id, {"event": event.id})
    return event


DECISIONS = ("accept", "fight")


def decide(session: Session, dispute_id: int, decision: str, actor: str) -> DisputeEvent:
    """Record the accept-or-fight decision on a case needing a response.

    "accept" closes the case as accepted (the chargeback stands, no representment); "fight"
    records that evidence will be submitted (the case stays open until it is submitted).
    Either is a `decision` event on the timeline and an audit event.

    Raises:
        UserError: unknown decision or case, or the case does not need a response any more.
    """
    if decision not in DECISIONS:
        raise UserError(f"unknown decision {decision!r}; use {' or '.join(DECISIONS)}")
    d = session.get(Dispute, dispute_id)
    if d is None:
        raise UserError(f"no dispute {dispute_id}")
    if d.status != "needs_response" or d.evidence_locked:
        state = "submitted" if d.evidence_locked else d.status.replace("_", " ")
        raise UserError(
            f"dispute {d.psp_dispute_id} is {state}; only cases needing a response can be "
            f"accepted or fought"
        )
    before = d.status
    if decision == "accept":
        d.status = "accepted"
    d.updated_at = utcnow()
    event = add_event(
        session, d.id, actor, "decision", {"decision": decision, "from": before, "to": d.status}
    )
    audit.log(
        session,
        actor,
        "dispute_decision",
        "dispute",
        d.id,
        {"decision": decision, "from": before, "to": d.status, "event": event.id},
    )
    return event


def last_decisions(session: Session, dispute_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """(event id, decision) of the latest accept-or-fight decision of each case that has one."""
    ids = sorted({int(i) for i in dispute_ids})
    out: dict[int, tuple[int, str]] = {}
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        latest = (
            select(DisputeEvent.dispute_id, func.max(DisputeEvent.id).label("eid"))
            .where(DisputeEvent.dispute_id.in_(chunk), DisputeEvent.kind == "decision")
            .group_by(DisputeEvent.dispute_id)
            .subquery()
        )
        rows = session.execute(
            select(DisputeEvent.dispute_id, DisputeEvent.id, DisputeEvent.detail).join(
                latest, latest.c.eid == DisputeEvent.id
            )
        ).all()
        for did, eid, detail in rows:
            out[int(did)] = (int(eid), str((detail or {}).get("decision", "")))
    return out
