"""Linking dispute cases to records: the disputed charge, the order and the money trail lines.

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from ...models import Dispute, DisputeLink, Record, RecordReference, Source
from ..common.reference_tokens import normalise

ROLES = ("charge", "order", "withdrawn", "fee", "reinstated", "refund")
_CHUNK = 500


def reference_key(value: str | None) -> str | None:
    """The normalised token a case's reference is found by (None when too short to be one)."""
    if not value:
        return None
    k = normalise(value)[:128]
    return k if len(k) >= 4 else None


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
        refs = [k for k in (reference_key(x) for x in ((r.raw or {}).get("refs") or [])) if k]
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
