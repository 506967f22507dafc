"""Building payouts from PSP lines: one row per (PSP account, payout id, currency), idempotently.

`refresh_payouts` recomputes the payouts of the given payout ids from the records that carry them
(one grouped query over the `payout_ref` index), inserts the new ones, updates the changed ones
and deletes those no line names any more (an undone import), with their level-2 links. Running it
twice changes nothing; it is how imports, their undo, the demo and migration 0004 keep payouts
true to the lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from ...models import PayoutState, utcnow
from ..common.dataframe_io import timestamp_text

_CHUNK = 500
_NET = "COALESCE(r.net_minor, r.amount_minor - COALESCE(r.fee_minor, 0))"
_FEE = "COALESCE(r.fee_minor, 0)"
_DISPUTE = "('dispute', 'dispute_reversal')"
_OWN = "('charge', 'refund', 'fee', 'dispute', 'dispute_reversal', 'transfer', 'payout')"
# Components by line kind; their sum over the payout's lines is the net of its non-payout lines.
_AGGREGATE = f"""
SELECT r.source_id, r.payout_ref, r.currency, MAX(s.provider) AS psp,
  SUM(CASE WHEN r.kind = 'charge' THEN r.amount_minor ELSE 0 END) AS gross,
  SUM(CASE WHEN r.kind = 'refund' THEN r.amount_minor ELSE 0 END) AS refunds,
  SUM(CASE WHEN r.kind IN ('charge', 'refund') THEN -{_FEE}
           WHEN r.kind = 'fee' THEN {_NET} ELSE 0 END) AS fees,
  SUM(CASE WHEN r.kind IN {_DISPUTE} THEN r.amount_minor ELSE 0 END) AS disputes,
  SUM(CASE WHEN r.kind IN {_DISPUTE} THEN -{_FEE} ELSE 0 END) AS dispute_fees,
  SUM(CASE WHEN r.kind NOT IN {_OWN} THEN {_NET} ELSE 0 END) AS adjustments,
  SUM(CASE WHEN r.kind = 'transfer' THEN {_NET} ELSE 0 END) AS carried,
  SUM(CASE WHEN r.kind = 'payout' THEN 0 ELSE {_NET} END) AS net,
  SUM(CASE WHEN r.kind = 'payout' THEN -r.amount_minor ELSE 0 END) AS payout_amount,
  SUM(CASE WHEN r.kind = 'payout' THEN 1 ELSE 0 END) AS payout_lines,
  SUM(CASE WHEN r.kind = 'payout' THEN 0 ELSE 1 END) AS lines,
  SUM(CASE WHEN r.kind = 'transfer' THEN 1 ELSE 0 END) AS transfers,
  MIN(r.booked_on) AS first_on, MAX(r.booked_on) AS last_on,
  MAX(CASE WHEN r.kind = 'payout' THEN r.booked_on END) AS payout_on,
  MAX(CASE WHEN r.kind = 'payout' THEN r.value_on END) AS arrival,
  MIN(CASE WHEN r.kind = 'payout' AND r.amount_minor < 0 THEN r.id END) AS payout_record_id,
  MIN(CASE WHEN r.kind = 'payout' THEN r.id END) AS any_payout_record_id
FROM records r JOIN sources s ON s.id = r.source_id
WHERE s.kind = 'psp' AND r.payout_ref IN :refs
GROUP BY r.source_id, r.payout_ref, r.currency
"""
_COLUMNS = (
    "psp",
    "payout_record_id",
    "first_on",
    "paid_on",
    "expected_on",
    "state",
    "gross_minor",
    "refunds_minor",
    "fees_minor",
    "disputes_minor",
    "dispute_fees_minor",
    "adjustments_minor",
    "carried_minor",
    "net_minor",
    "payout_minor",
    "lines",
)


@dataclass
class RefreshCount:
    """What one refresh changed."""

    added: int = 0
    updated: int = 0
    removed: int = 0


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _failed_records(session: Session, record_ids: list[int]) -> set[int]:
    """Payout lines whose original (a Stripe payout object) says failed or canceled."""
    out: set[int] = set()
    for lo in range(0, len(record_ids), _CHUNK):
        part = record_ids[lo : lo + _CHUNK]
        rows = session.execute(
            text("SELECT record_id, raw FROM record_raw WHERE record_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": part},
        ).all()
        for rid, raw in rows:
            if isinstance(raw, dict) and str(raw.get("status", "")).lower() in (
                "failed",
                "canceled",
                "cancelled",
            ):
                out.add(int(rid))
    return out


def _sources_with_payout_lines(session: Session, source_ids: set[int]) -> set[int]:
    """PSP accounts whose reports carry payout lines (a batch without one is still open)."""
    if not source_ids:
        return set()
    rows = session.execute(
        text(
            "SELECT DISTINCT source_id FROM records WHERE kind = 'payout'"
            " AND source_id IN :ids AND payout_ref IS NOT NULL"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": sorted(source_ids)},
    ).all()
    return {int(r[0]) for r in rows}


def _state(row: Any, failed: set[int], with_lines: set[int]) -> str:
    if row.payout_lines:
        rid = row.payout_record_id or row.any_payout_record_id
        if rid in failed or (row.payout_lines > 1 and int(row.payout_amount) == 0):
            return PayoutState.FAILED
        return PayoutState.IN_TRANSIT
    if row.transfers or int(row.net) == 0:
        return PayoutState.CARRIED_FORWARD
    if int(row.source_id) in with_lines:
        return PayoutState.CARRIED_FORWARD if int(row.net) < 0 else PayoutState.OPEN
    # itemized payout reports list only lines of payouts already sent
    return PayoutState.IN_TRANSIT


def _computed(session: Session, refs: list[str]) -> dict[tuple[int, str, str], dict[str, Any]]:
    rows: list[Any] = []
    stmt = text(_AGGREGATE).bindparams(bindparam("refs", expanding=True))
    for lo in range(0, len(refs), _CHUNK):
        rows.extend(session.execute(stmt, {"refs": refs[lo : lo + _CHUNK]}).all())
    payout_ids = [
        int(r.payout_record_id or r.any_payout_record_id)
        for r in rows
        if r.payout_lines and (r.payout_record_id or r.any_payout_record_id)
    ]
    failed = _failed_records(session, payout_ids)
    with_lines = _sources_with_payout_lines(session, {int(r.source_id) for r in rows})
    out: dict[tuple[int, str, str], dict[str, Any]] = {}
    for r in rows:
        paid_on = _day(r.payout_on) or _day(r.last_on)
        out[(int(r.source_id), str(r.payout_ref), str(r.currency))] = {
            "psp": r.psp,
            "payout_record_id": r.payout_record_id or r.any_payout_record_id,
            "first_on": _day(r.first_on),
            "paid_on": paid_on,
            "expected_on": _day(r.arrival) or paid_on,
            "state": str(_state(r, failed, with_lines)),
            "gross_minor": int(r.gross),
            "refunds_minor": int(r.refunds),
            "fees_minor": int(r.fees),
            "disputes_minor": int(r.disputes),
            "dispute_fees_minor": int(r.dispute_fees),
            "adjustments_minor": int(r.adjustments),
            "carried_minor": int(r.carried),
            "net_minor": int(r.net),
            "payout_minor": int(r.payout_amount) if r.payout_lines else None,
            "lines": int(r.lines),
        }
    return out


def refresh_payouts(session: Session, refs: Iterable[str]) -> RefreshCount:
    """Bring the payouts of these payout ids in line with their records (in the caller's
    transaction)."""
    wanted = sorted({str(r) for r in refs if r})
    count = RefreshCount()
    if not wanted:
        return count
    computed = _computed(session, wanted)
    existing: dict[tuple[int, str, str], tuple[int, tuple[Any, ...]]] = {}
    cols = ", ".join(_COLUMNS)
    sel = text(
        f"SELECT id, source_id, payout_ref, currency, {cols} FROM payouts WHERE payout_ref IN :refs"
    ).bindparams(bindparam("refs", expanding=True))
    for lo in range(0, len(wanted), _CHUNK):
        for row in session.execute(sel, {"refs": wanted[lo : lo + _CHUNK]}).all():
            key = (int(row[1]), str(row[2]), str(row[3]))
            existing[key] = (
                int(row[0]),
                tuple(_day(v) if "_on" in c else v for c, v in zip(_COLUMNS, row[4:], strict=True)),
            )
    now = timestamp_text(session, utcnow())
    inserts, updates = [], []
    for key, values in computed.items():
        have = existing.get(key)
        if have is None:
            inserts.append(
                {"source_id": key[0], "payout_ref": key[1], "currency": key[2], "updated_at": now}
                | values
            )
        elif have[1] != tuple(values[c] for c in _COLUMNS):
            updates.append({"pid": have[0], "updated_at": now} | values)
    gone = [pid for key, (pid, _) in existing.items() if key not in computed]
    if inserts:
        names = ("source_id", "payout_ref", "currency", "updated_at", *_COLUMNS)
        session.execute(
            text(
                f"INSERT INTO payouts ({', '.join(names)})"
                f" VALUES ({', '.join(':' + n for n in names)})"
            ),
            inserts,
        )
    if updates:
        sets = ", ".join(f"{c} = :{c}" for c in (*_COLUMNS, "updated_at"))
        session.execute(text(f"UPDATE payouts SET {sets} WHERE id = :pid"), updates)
    if gone:
        expand: Any = bindparam("ids", expanding=True)
        for lo in range(0, len(gone), _CHUNK):
            part = {"ids": gone[lo : lo + _CHUNK]}
            session.execute(
                text("DELETE FROM match_payouts WHERE payout_id IN :ids").bindparams(expand), part
            )
            session.execute(text("DELETE FROM payouts WHERE id IN :ids").bindparams(expand), part)
    count.added, count.updated, count.removed = len(inserts), len(updates), len(gone)
    return count


def refs_of_batch(session: Session, batch_id: int) -> list[str]:
    """Payout ids the lines of an import batch carry (read before an undo deletes them)."""
    rows = session.execute(
        text(
            "SELECT DISTINCT payout_ref FROM records WHERE batch_id = :b AND payout_ref IS NOT NULL"
        ),
        {"b": int(batch_id)},
    ).all()
    return [str(r[0]) for r in rows]


def settled_payouts(session: Session, refs: list[str], batch_id: int) -> list[str]:
    """Payout ids among `refs`, with lines in the batch, that are in a live level-2 match."""
    out: list[str] = []
    stmt = text(
        "SELECT DISTINCT p.payout_ref FROM payouts p"
        " JOIN match_payouts mp ON mp.payout_id = p.id AND mp.live"
        " WHERE p.payout_ref IN :refs AND EXISTS (SELECT 1 FROM records r"
        " WHERE r.batch_id = :b AND r.source_id = p.source_id AND r.payout_ref = p.payout_ref)"
    ).bindparams(bindparam("refs", expanding=True))
    for lo in range(0, len(refs), _CHUNK):
        part = refs[lo : lo + _CHUNK]
        out.extend(str(r[0]) for r in session.execute(stmt, {"refs": part, "b": batch_id}).all())
    return sorted(out)


def refresh_all(session: Session) -> RefreshCount:
    """Rebuild every payout (migration, repair)."""
    rows = session.execute(
        text(
            "SELECT DISTINCT payout_ref FROM records WHERE payout_ref IS NOT NULL"
            " UNION SELECT payout_ref FROM payouts"
        )
    ).all()
    return refresh_payouts(session, [str(r[0]) for r in rows])
