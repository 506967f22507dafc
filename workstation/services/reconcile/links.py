"""Links from PSP refunds, chargebacks, reversals and dispute fees to the charge they belong to.

PSP reports name the original charge on such lines (`ref_charge`: Stripe `ch_...`, Adyen's PSP
reference of the payment); ingest stores it as a token of kind "charge". A charge carries the same
value as its own id or charge token. These are queries, not stored links, so they hold for lines
imported in any order; the dispute desk uses `charge_for` / `charges_for` to find the disputed
charge of a chargeback line and `lines_for_charge` for a charge's money trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

CHARGE_KINDS = ("charge",)


@dataclass(frozen=True)
class LinkedLine:
    """A PSP line that refers to a charge."""

    record_id: int
    kind: str
    amount_minor: int
    currency: str
    booked_on: str


def charges_for(session: Session, record_ids: Sequence[int]) -> dict[int, int]:
    """record id -> id of the charge its charge reference points at (records without one omitted).

    When several charges carry the reference (a re-import under another account), the oldest wins.
    """
    ids = sorted({int(i) for i in record_ids})
    out: dict[int, int] = {}
    for i in range(0, len(ids), 500):
        chunk = ",".join(str(v) for v in ids[i : i + 500])
        rows = session.execute(
            text(
                "SELECT x.record_id, MIN(c.id) FROM record_references x"
                " JOIN record_references y ON y.value = x.value AND y.record_id <> x.record_id"
                " JOIN records c ON c.id = y.record_id AND c.kind = 'charge'"
                f" WHERE x.record_id IN ({chunk}) AND x.kind = 'charge'"
                " GROUP BY x.record_id"
            )
        ).all()
        out.update((int(r), int(c)) for r, c in rows)
    return out


def charge_for(session: Session, record_id: int) -> int | None:
    """Id of the charge a refund / dispute / reversal / dispute-fee line belongs to, or None."""
    return charges_for(session, [record_id]).get(int(record_id))


def lines_for_charge(session: Session, charge_id: int) -> list[LinkedLine]:
    """Refunds, chargebacks, reversals and fees that refer to the charge `charge_id`, by date."""
    rows = session.execute(
        text(
            "SELECT DISTINCT r.id, r.kind, r.amount_minor, r.currency,"
            " CAST(r.booked_on AS TEXT) FROM record_references c"
            " JOIN record_references x ON x.value = c.value AND x.kind = 'charge'"
            " JOIN records r ON r.id = x.record_id"
            " WHERE c.record_id = :cid AND c.kind IN ('id', 'charge') AND r.id <> :cid"
            " AND r.kind <> 'charge' ORDER BY 5, 1"
        ),
        {"cid": int(charge_id)},
    ).all()
    return [LinkedLine(int(a), str(b), int(c), str(d), str(e)) for a, b, c, d, e in rows]
