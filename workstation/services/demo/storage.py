"""Storing the demo month: one import batch per source, then the disputes and their links.

Sources go through the ingest path like a real import; each dispute gets its links and a
"created" event. A second load of the same month adds nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ...importers.base import ParseResult
from ...models import Dispute, DisputeEvent, DisputeLink, ImportBatch, Record, Source
from ..imports.ingest import store


@dataclass
class DemoSummary:
    """What `load_demo` stored."""

    orders: int
    records: dict[str, int]
    kinds: dict[str, int]
    disputes: int
    batches: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The CLI's JSON object."""
        return {
            "orders": self.orders,
            "records": self.records,
            "kinds": self.kinds,
            "disputes": self.disputes,
            "batches": self.batches,
        }


def _sha(key: str, seed: int, orders: int) -> str:
    return hashlib.sha256(f"demo:{key}:{seed}:{orders}".encode()).hexdigest()


def has_records(session: Session) -> bool:
    """True when the database holds at least one record."""
    return session.scalar(select(Record.id).limit(1)) is not None


def store_source(
    session: Session,
    result: ParseResult,
    key: str,
    seed: int,
    orders: int,
    actor: str,
    summary: DemoSummary,
) -> pd.DataFrame | None:
    """Store one source as batch `demo:<key>` unless that exact batch is there; new rows or None."""
    name = result.accounts[key].name or key
    file_name = f"demo:{key}"
    sha = _sha(key, seed, orders)
    previous = session.scalar(
        select(ImportBatch.id).where(ImportBatch.sha256 == sha, ImportBatch.status == "committed")
    )
    if previous is not None:
        summary.records[name] = 0
        summary.batches.append({"id": previous, "source": name, "file_name": file_name, "new": 0})
        return None
    stored = store(session, result, file_name=file_name, sha256=sha, actor=actor)
    summary.records[name] = stored.new
    summary.batches.append(
        {"id": stored.batch_id, "source": name, "file_name": file_name, "new": stored.new}
    )
    if stored.new_frame is None:
        return None
    for kind, count in stored.new_frame["kind"].value_counts().items():
        summary.kinds[str(kind)] = summary.kinds.get(str(kind), 0) + int(count)
    return stored.new_frame


def linked_ids(disputes: list[dict[str, Any]]) -> dict[str, set[str]]:
    """External ids of the records the disputes link to, by account key."""
    wanted: dict[str, set[str]] = {}
    for d in disputes:
        for link in d["links"]:
            wanted.setdefault(link["account"], set()).add(link["external_id"])
    return wanted


def store_disputes(
    session: Session,
    disputes: list[dict[str, Any]],
    results: list[ParseResult],
    actor: str,
    known: dict[tuple[str, str], int],
) -> int:
    """Insert the demo disputes not yet present, with their links and a "created" event.

    `known` maps (account key, external id) to record ids of the lines just stored; ids of lines
    stored by an earlier run are looked up.
    """
    if not disputes:
        return 0
    present = session.execute(
        select(Dispute.psp, Dispute.psp_dispute_id).where(Dispute.psp.in_(["stripe", "adyen"]))
    )
    existing = {(psp, ref) for psp, ref in present}
    todo = [d for d in disputes if (d["psp"], d["psp_dispute_id"]) not in existing]
    if not todo:
        return 0
    record_id = dict(known)
    missing: dict[str, set[str]] = {}
    for d in todo:
        for link in d["links"]:
            if (link["account"], link["external_id"]) not in record_id:
                missing.setdefault(link["account"], set()).add(link["external_id"])
    accounts = {key: info for r in results for key, info in r.accounts.items()}
    for key, ids in missing.items():
        sid = session.scalar(select(Source.id).where(Source.name == accounts[key].name))
        values = sorted(ids)
        for i in range(0, len(values), 500):
            rows = session.execute(
                select(Record.id, Record.external_id)
                .where(Record.source_id == sid, Record.external_id.in_(values[i : i + 500]))
                .order_by(Record.id)
            )
            for rid, ext in rows:
                record_id[(key, str(ext))] = rid
    dispute_rows = []
    for d in todo:
        row = {k: v for k, v in d.items() if k != "links"}
        roles = {link["role"]: link for link in d["links"]}
        charge, order = roles.get("charge"), roles.get("order")
        row["charge_record_id"] = (
            record_id.get((charge["account"], charge["external_id"])) if charge else None
        )
        row["order_record_id"] = (
            record_id.get((order["account"], order["external_id"])) if order else None
        )
        row["created_at"] = row["updated_at"] = row["opened_at"]
        dispute_rows.append(row)
    new_ids = session.scalars(
        insert(Dispute).returning(Dispute.id, sort_by_parameter_order=True), dispute_rows
    ).all()
    events = []
    links = []
    for dispute_id, d in zip(new_ids, todo, strict=True):
        events.append(
            {
                "dispute_id": dispute_id,
                "at": d["opened_at"],
                "actor": actor,
                "kind": "created",
                "detail": {"status": d["status"], "stage": d["stage"], "source": "demo"},
            }
        )
        seen: set[int] = set()
        for link in d["links"]:
            target = record_id.get((link["account"], link["external_id"]))
            if target is not None and target not in seen:
                seen.add(target)
                links.append({"dispute_id": dispute_id, "record_id": target, "role": link["role"]})
    session.execute(insert(DisputeEvent), events)
    if links:
        session.execute(insert(DisputeLink), links)
    return len(todo)
