"""The disputes table export (CSV or XLSX): one row per case, amounts as exact decimals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from ...exporters.table import Column, write_table
from ...importers.base import Progress
from ...models import Dispute, Evidence, Record, utcnow
from ...money import from_minor
from ..settlement.trail import order_of_charge_sql
from .queue_query import QueueFilters, filter_conditions

EXPORT_COLUMNS = (
    "dispute_id",
    "status",
    "stage",
    "network",
    "reason_code",
    "amount",
    "currency",
    "due_by",
    "charge_external_id",
    "order_external_id",
    "evidence_count",
)


def export_disputes(
    session: Session,
    path: Path,
    filters: QueueFilters | None = None,
    *,
    progress: Progress | None = None,
) -> int:
    """Write the (filtered) cases to CSV or XLSX by suffix; returns rows written.

    `charge_external_id` / `order_external_id` are the linked records' ids, else the references
    the PSP gave; without a linked order, the order the charge is matched to (the money
    trail). Amounts are exact decimals in the case's currency.
    """
    now = utcnow()
    conds = filter_conditions(session, filters or QueueFilters(), now)
    charge = aliased(Record)
    order = aliased(Record)
    trail_order = order_of_charge_sql(Dispute.charge_record_id)
    counts = (
        select(Evidence.dispute_id.label("did"), func.count().label("n"))
        .group_by(Evidence.dispute_id)
        .subquery()
    )
    q = (
        select(
            Dispute.psp_dispute_id,
            Dispute.status,
            Dispute.stage,
            Dispute.network,
            Dispute.reason_code,
            Dispute.amount_minor,
            Dispute.currency,
            Dispute.due_by,
            func.coalesce(charge.external_id, Dispute.charge_ref),
            func.coalesce(order.external_id, Dispute.order_ref),
            func.coalesce(counts.c.n, 0),
        )
        .outerjoin(charge, charge.id == Dispute.charge_record_id)
        .outerjoin(order, order.id == func.coalesce(Dispute.order_record_id, trail_order))
        .outerjoin(counts, counts.c.did == Dispute.id)
        .where(*conds)
        .order_by(Dispute.id)
    )
    total = session.scalar(
        select(func.count())
        .select_from(Dispute)
        .where(*filter_conditions(session, filters or QueueFilters(), now))
    )

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in session.execute(q.execution_options(yield_per=5000)):
            yield (
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                from_minor(int(r[5]), r[6]),
                r[6],
                r[7],
                r[8],
                r[9],
                int(r[10]),
            )

    columns = [
        Column("dispute_id", width=32),
        Column("status", width=16),
        Column("stage", width=16),
        Column("network", width=12),
        Column("reason_code", width=12),
        Column("amount", kind="money"),
        Column("currency", width=10),
        Column("due_by", kind="datetime", width=18),
        Column("charge_external_id", width=32),
        Column("order_external_id", width=24),
        Column("evidence_count", kind="int"),
    ]
    return write_table(
        path, columns, rows(), sheet_title="Disputes", total=total, progress=progress
    )
