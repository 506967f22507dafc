"""Reading payouts: the list (with their bank credits and differences), one payout's components,
bank lines and lines, and the payouts export.

A payout is `paid` when a live level-2 match settles it; with a cut-off date (`as_of`) it is paid
only if that match's bank line was booked by then, and a payout sent by then but not yet at the
bank is `in_transit`. With several payouts in one bank credit, each row shows the whole credit
and that credit's difference; with one payout over several credits, their sum.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from ...errors import UserError
from ...exporters.table import Column, write_table
from ...money import format_minor, from_minor

STATES = ("open", "in_transit", "paid", "failed", "carried_forward")

_BANK = """
SELECT mm.match_id, SUM(r.amount_minor) AS bank_amount, MIN(r.currency) AS bank_currency,
  MIN(COALESCE(r.external_id, CAST(r.id AS VARCHAR(20)))) AS bank_external_id,
  MAX(r.booked_on) AS bank_booked_on, COUNT(*) AS bank_lines, MIN(s.name) AS bank_account
FROM match_members mm JOIN records r ON r.id = mm.record_id JOIN sources s ON s.id = r.source_id
WHERE mm.live AND mm.side = 'bank' GROUP BY mm.match_id
"""
_LIST = f"""
SELECT p.id, p.payout_ref, p.psp, s.name AS account, p.currency, p.state,
  p.gross_minor, p.refunds_minor, p.fees_minor, p.disputes_minor, p.dispute_fees_minor,
  p.adjustments_minor, p.carried_minor, p.net_minor, p.payout_minor, p.lines,
  p.first_on, p.paid_on, p.expected_on, l.match_id, m.status AS match_status,
  m.difference_minor, m.note, b.bank_amount, b.bank_currency, b.bank_external_id,
  b.bank_booked_on, b.bank_lines, b.bank_account, p.source_id
FROM payouts p JOIN sources s ON s.id = p.source_id
LEFT JOIN match_payouts l ON l.payout_id = p.id AND l.live
LEFT JOIN matches m ON m.id = l.match_id
LEFT JOIN ({_BANK}) b ON b.match_id = l.match_id
"""


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@dataclass
class PayoutFilter:
    """What the Payouts page and the export select. Dates bound the payout date (paid_on)."""

    psp: str | None = None
    account: str | None = None
    status: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    difference_only: bool = False
    search: str | None = None
    as_of: dt.date | None = None  # cut-off: status as it stood at the end of this day


@dataclass
class PayoutRow:
    """One payout with its bank side (amounts in minor units of `currency`)."""

    id: int
    payout_ref: str
    psp: str | None
    account: str
    currency: str
    status: str
    gross_minor: int
    refunds_minor: int
    fees_minor: int
    disputes_minor: int  # chargebacks and reversals with their dispute fees
    adjustments_minor: int  # adjustments, reserves and balance carried between batches
    net_minor: int
    payout_minor: int | None
    lines: int
    first_on: dt.date | None
    paid_on: dt.date | None
    expected_on: dt.date | None
    match_id: int | None
    match_status: str | None
    difference_minor: int | None
    note: str | None
    bank_amount_minor: int | None
    bank_currency: str | None
    bank_external_id: str | None
    bank_booked_on: dt.date | None
    bank_lines: int
    bank_account: str | None
    source_id: int
    components: dict[str, int] = field(default_factory=dict)

    @property
    def expected_minor(self) -> int:
        return self.payout_minor if self.payout_minor is not None else self.net_minor

    def explanation(self) -> str:
        """Why the bank amount is what it is, or what is still missing."""
        c = self.currency
        head = ""
        for label, v in ((k, v) for k, v in self.components.items() if v):
            if not head:
                head = f"{label} {format_minor(v, c)}"
            else:
                head += f" {'+' if v > 0 else '−'} {label} {format_minor(abs(v), c)}"
        head = head or "no lines"
        text_ = f"{head} = net {format_minor(self.net_minor, c)} {c}"
        if self.payout_minor is not None and self.payout_minor != self.net_minor:
            text_ += f"; PSP paid out {format_minor(self.payout_minor, c)}"
        if self.status == "paid" and self.bank_amount_minor is not None:
            bc = self.bank_currency or c
            text_ += f"; {self.note or ''}".rstrip("; ")
            if not self.note:
                text_ += f"; bank {format_minor(self.bank_amount_minor, bc)} {bc}"
        elif self.status == "in_transit":
            text_ += f"; in transit since {self.paid_on}, expected {self.expected_on}"
        elif self.status == "carried_forward":
            text_ += "; carried forward to the next payout (nothing goes to the bank)"
        elif self.status == "failed":
            text_ += "; the PSP reports this payout failed: the money stays on the PSP balance"
        elif self.status == "open":
            text_ += "; the batch is still open at the PSP"
        return text_


def _status(row: Any, as_of: dt.date | None) -> str:
    if row.match_id is not None:
        booked = _day(row.bank_booked_on)
        if as_of is None or (booked is not None and booked <= as_of):
            return "paid"
        return "in_transit"
    return str(row.state)


def _row(r: Any, as_of: dt.date | None) -> PayoutRow:
    comps = {
        "gross": int(r.gross_minor),
        "refunds": int(r.refunds_minor),
        "fees": int(r.fees_minor),
        "disputes": int(r.disputes_minor),
        "dispute fees": int(r.dispute_fees_minor),
        "adjustments": int(r.adjustments_minor),
        "carried": int(r.carried_minor),
    }
    return PayoutRow(
        id=int(r.id),
        payout_ref=str(r.payout_ref),
        psp=r.psp,
        account=str(r.account),
        currency=str(r.currency),
        status=_status(r, as_of),
        gross_minor=comps["gross"],
        refunds_minor=comps["refunds"],
        fees_minor=comps["fees"],
        disputes_minor=comps["disputes"] + comps["dispute fees"],
        adjustments_minor=comps["adjustments"] + comps["carried"],
        net_minor=int(r.net_minor),
        payout_minor=None if r.payout_minor is None else int(r.payout_minor),
        lines=int(r.lines),
        first_on=_day(r.first_on),
        paid_on=_day(r.paid_on),
        expected_on=_day(r.expected_on),
        match_id=None if r.match_id is None else int(r.match_id),
        match_status=r.match_status,
        difference_minor=None if r.difference_minor is None else int(r.difference_minor),
        note=r.note,
        bank_amount_minor=None if r.bank_amount is None else int(r.bank_amount),
        bank_currency=r.bank_currency,
        bank_external_id=r.bank_external_id,
        bank_booked_on=_day(r.bank_booked_on),
        bank_lines=int(r.bank_lines or 0),
        bank_account=r.bank_account,
        source_id=int(r.source_id),
        components=comps,
    )


def list_payouts(session: Session, filters: PayoutFilter | None = None) -> list[PayoutRow]:
    """Payouts the filters select, newest payout date first (a year of daily payouts of three
    PSPs is about a thousand rows: read whole; their lines are paged, see `payout_lines`)."""
    f = filters or PayoutFilter()
    where: list[str] = []
    params: dict[str, Any] = {}
    if f.psp:
        where.append("p.psp = :psp")
        params["psp"] = f.psp
    if f.account:
        where.append("s.name = :account")
        params["account"] = f.account
    if f.date_from:
        where.append("p.paid_on >= :dfrom")
        params["dfrom"] = f.date_from
    if f.date_to:
        where.append("p.paid_on <= :dto")
        params["dto"] = f.date_to
    if f.as_of:
        where.append("p.paid_on <= :asof")
        params["asof"] = f.as_of
    if f.search:
        where.append("(LOWER(p.payout_ref) LIKE :q OR LOWER(b.bank_external_id) LIKE :q)")
        params["q"] = f"%{f.search.strip().lower()}%"
    sql = _LIST + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY p.paid_on DESC, p.id DESC"
    rows = [_row(r, f.as_of) for r in session.execute(text(sql), params).all()]
    if f.status:
        rows = [r for r in rows if r.status == f.status]
    if f.difference_only:
        rows = [
            r
            for r in rows
            if r.difference_minor or (r.status == "paid" and r.match_status == "suggested")
        ]
    return rows


def get_payout(session: Session, payout_id: int, as_of: dt.date | None = None) -> PayoutRow:
    """One payout; a UserError when there is none."""
    row = session.execute(text(_LIST + " WHERE p.id = :pid"), {"pid": int(payout_id)}).first()
    if row is None:
        raise UserError(f"no payout {payout_id}")
    return _row(row, as_of)


def find_payouts(session: Session, ref: str) -> list[int]:
    """Ids of the payouts with this payout id (any PSP account or currency)."""
    return [
        int(r[0])
        for r in session.execute(
            text("SELECT id FROM payouts WHERE payout_ref = :r ORDER BY id"), {"r": ref.strip()}
        ).all()
    ]


@dataclass
class PayoutLine:
    """A line of a payout, with the order its level-1 match pairs it with (if any)."""

    record_id: int
    kind: str
    booked_on: dt.date | None
    external_id: str | None
    description: str | None
    amount_minor: int
    fee_minor: int | None
    net_minor: int
    currency: str
    match_state: str
    order_record_id: int | None
    order_external_id: str | None


_LINES = """
SELECT r.id, r.kind, r.booked_on, r.external_id, r.description, r.amount_minor, r.fee_minor,
  COALESCE(r.net_minor, r.amount_minor - COALESCE(r.fee_minor, 0)) AS net, r.currency,
  r.match_state, o.id AS order_id, o.external_id AS order_ext
FROM records r
LEFT JOIN match_members mm ON mm.record_id = r.id AND mm.live AND mm.level = 1
LEFT JOIN match_members om ON om.match_id = mm.match_id AND om.side = 'order' AND om.live
LEFT JOIN records o ON o.id = om.record_id
WHERE r.source_id = :src AND r.payout_ref = :ref AND r.currency = :cur
"""


def payout_lines(
    session: Session, payout_id: int, *, offset: int = 0, limit: int = 500
) -> list[PayoutLine]:
    """A page of a payout's lines (by date), each with its order."""
    p = session.execute(
        text("SELECT source_id, payout_ref, currency FROM payouts WHERE id = :p"), {"p": payout_id}
    ).first()
    if p is None:
        raise UserError(f"no payout {payout_id}")
    rows = session.execute(
        text(_LINES + " ORDER BY r.booked_on, r.id LIMIT :lim OFFSET :off"),
        {"src": p[0], "ref": p[1], "cur": p[2], "lim": int(limit), "off": int(offset)},
    ).all()
    return [
        PayoutLine(
            record_id=int(r[0]),
            kind=str(r[1]),
            booked_on=_day(r[2]),
            external_id=r[3],
            description=r[4],
            amount_minor=int(r[5]),
            fee_minor=None if r[6] is None else int(r[6]),
            net_minor=int(r[7]),
            currency=str(r[8]),
            match_state=str(r[9]),
            order_record_id=None if r[10] is None else int(r[10]),
            order_external_id=r[11],
        )
        for r in rows
    ]


def payout_line_count(session: Session, payout_id: int) -> int:
    """How many lines (payout lines included) a payout has."""
    n = session.execute(
        text(
            "SELECT COUNT(*) FROM records r JOIN payouts p ON p.source_id = r.source_id"
            " AND p.payout_ref = r.payout_ref AND p.currency = r.currency WHERE p.id = :p"
        ),
        {"p": int(payout_id)},
    ).scalar_one()
    return int(n)


@dataclass
class BankLine:
    """A bank line settling a payout."""

    record_id: int
    account: str
    booked_on: dt.date | None
    amount_minor: int
    currency: str
    external_id: str | None
    description: str | None


def bank_lines(session: Session, match_id: int) -> list[BankLine]:
    """The bank lines of a level-2 match."""
    rows = session.execute(
        text(
            "SELECT r.id, s.name, r.booked_on, r.amount_minor, r.currency, r.external_id,"
            " r.description FROM match_members mm JOIN records r ON r.id = mm.record_id"
            " JOIN sources s ON s.id = r.source_id"
            " WHERE mm.match_id = :m AND mm.side = 'bank' ORDER BY r.booked_on, r.id"
        ),
        {"m": int(match_id)},
    ).all()
    return [BankLine(int(a), str(b), _day(c), int(d), str(e), f, g) for a, b, c, d, e, f, g in rows]


# --- export -----------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    Column("payout_id", width=32),
    Column("psp", width=10),
    Column("account", width=18),
    Column("currency", width=9),
    Column("status", width=14),
    Column("gross", "money", width=14),
    Column("refunds", "money", width=14),
    Column("fees", "money", width=12),
    Column("disputes", "money", width=12),
    Column("adjustments", "money", width=12),
    Column("net", "money", width=14),
    Column("lines", "int", width=8),
    Column("bank_external_id", width=30),
    Column("bank_amount", "money", width=14),
    Column("difference", "money", width=12),
    Column("expected_on", "date", width=12),
    Column("booked_on", "date", width=12),
    Column("paid_on", "date", width=12),
    Column("bank_account", width=18),
    Column("explanation", width=80),
)


def _money(minor: int | None, currency: str | None) -> Decimal | None:
    return None if minor is None or currency is None else from_minor(minor, currency)


def export_rows(session: Session, filters: PayoutFilter | None = None) -> Iterator[list[Any]]:
    """One export row per payout (EXPORT_COLUMNS)."""
    for r in list_payouts(session, filters):
        yield [
            r.payout_ref,
            r.psp,
            r.account,
            r.currency,
            r.status,
            _money(r.gross_minor, r.currency),
            _money(r.refunds_minor, r.currency),
            _money(r.fees_minor, r.currency),
            _money(r.disputes_minor, r.currency),
            _money(r.adjustments_minor, r.currency),
            _money(r.net_minor, r.currency),
            r.lines,
            r.bank_external_id,
            _money(r.bank_amount_minor, r.bank_currency),
            _money(r.difference_minor, r.currency),
            r.expected_on,
            r.bank_booked_on,
            r.paid_on,
            r.bank_account,
            r.explanation(),
        ]


def export_payouts(session: Session, path: Path, filters: PayoutFilter | None = None) -> int:
    """Write the payouts to .csv or .xlsx; returns the rows written."""
    return write_table(path, EXPORT_COLUMNS, export_rows(session, filters), sheet_title="Payouts")
