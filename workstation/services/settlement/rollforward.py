"""The month-end settlement proof: a PSP balance roll-forward per account and currency, the bank
receipts of the period's payouts, and the payouts in transit at the cut-off.

PSP balance of an account in a currency at a day: the sum of the nets
(COALESCE(net_minor, amount_minor - fee_minor)) of its lines booked by then, payout lines
included, plus, for each payout without a payout line (itemized Stripe reports) that was sent
(PSP state in_transit, or settled by a live level-2 match), its -net on its payout date.

The roll-forward splits the period's lines with the categorisation of `payout_build`: captured
(charge amounts), refunded (refund amounts), fees (the fees of charges and refunds, fee lines,
any fee on a payout line), disputes (chargeback and reversal amounts), dispute fees, adjustments
(adjustment, reserve, other and transfer lines), paid out (payout line amounts and the synthetic
-net above) and unclassified (any other kind: shown, never dropped). closing = opening + movements;
the closing balance is also computed independently and `difference = independent - rolled` must be
0 (it is not when a line's net disagrees with its amount and fee, or a kind is mis-split).

Bank receipts: the payouts sent in the period that a live level-2 match settles, per bank account
(of the match's bank lines) and currency, against those bank lines received by the period end.
In transit: payouts sent by the cut-off not yet at the bank then (`payout_queries`' status as of
the cut-off); failed and carried-forward payouts of the period are listed apart.

Each figure carries a `LineRef`; `proof_lines(session, ref)` lists the lines behind it (their
amounts add up to the figure). Everything is per currency: no figure adds two currencies.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Date, bindparam, text
from sqlalchemy.orm import Session

from ...errors import UserError
from .payout_queries import PayoutFilter, PayoutRow, list_payouts

_N = "COALESCE(r.net_minor, r.amount_minor - COALESCE(r.fee_minor, 0))"
_A = "r.amount_minor"
_F = "COALESCE(r.fee_minor, 0)"
_DISPUTES = "('dispute', 'dispute_reversal')"
_KNOWN = (
    "('charge', 'refund', 'fee', 'payout', 'dispute', 'dispute_reversal', 'adjustment',"
    " 'reserve', 'other', 'transfer')"
)
# category -> (condition, contribution) pairs; a line's part of the category is the first match.
_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "captured": (("r.kind = 'charge'", _A),),
    "refunded": (("r.kind = 'refund'", _A),),
    "fees": (
        ("r.kind IN ('charge', 'refund')", f"-{_F}"),
        ("r.kind = 'fee'", _N),
        ("r.kind = 'payout'", f"{_N} - {_A}"),
    ),
    "disputes": ((f"r.kind IN {_DISPUTES}", _A),),
    "dispute_fees": ((f"r.kind IN {_DISPUTES}", f"-{_F}"),),
    "adjustments": (("r.kind IN ('adjustment', 'reserve', 'other', 'transfer')", _N),),
    "paid_out": (("r.kind = 'payout'", _A),),
    "unclassified": ((f"r.kind NOT IN {_KNOWN}", _N),),
}
MOVEMENTS = tuple(_RULES)
LABELS = {
    "opening": "Opening balance",
    "captured": "Captured (charges)",
    "refunded": "Refunded",
    "fees": "Fees",
    "disputes": "Disputes (chargebacks and reversals)",
    "dispute_fees": "Dispute fees",
    "adjustments": "Adjustments (adjustments, reserves, transfers)",
    "paid_out": "Paid out",
    "unclassified": "Unclassified lines",
    "closing": "Closing balance (rolled forward)",
    "independent": "Closing balance (computed independently)",
    "expected": "Payouts expected",
    "received": "Received by the period end",
    "received_later": "Received after the period end",
}
# A payout without a payout line that left the PSP balance (see the module docstring).
_SENT_WITHOUT_LINE = (
    "p.payout_minor IS NULL AND (p.state = 'in_transit' OR EXISTS (SELECT 1 FROM match_payouts mp"
    " WHERE mp.payout_id = p.id AND mp.live))"
)


def _expr(category: str) -> str:
    whens = " ".join(f"WHEN {cond} THEN {value}" for cond, value in _RULES[category])
    return f"(CASE {whens} ELSE NULL END)"


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _dates(sql: str, *names: str) -> Any:
    return text(sql).bindparams(*(bindparam(n, type_=Date()) for n in names))


def _line(head: tuple[str, str, str], row: Sequence[Any]) -> ProofLine:
    """(account, currency, category) and (booked_on, external id, text, amount, record, payout)."""
    day, ext, desc, amount, rid, ref = row
    return ProofLine(
        *head, _day(day), ext, desc, int(amount), None if rid is None else int(rid), ref
    )


@dataclass(frozen=True)
class LineRef:
    """Which lines make one figure: scope "psp" (a PSP account) or "bank" (a bank account)."""

    scope: str
    source_id: int
    currency: str
    category: str  # opening, a movement, closing, independent / expected, received, received_later
    date_from: dt.date
    date_to: dt.date


@dataclass
class Figure:
    """One amount of the proof (minor units of its block's currency) and where its lines are."""

    key: str
    label: str
    amount_minor: int
    ref: LineRef | None
    count: int | None = None  # lines behind it, where known up front


@dataclass
class PspBlock:
    """The roll-forward of one PSP account in one currency."""

    source_id: int
    account: str
    psp: str | None
    currency: str
    opening: Figure
    movements: list[Figure]
    closing: Figure
    independent: Figure

    @property
    def difference_minor(self) -> int:
        return self.independent.amount_minor - self.closing.amount_minor

    @property
    def closes(self) -> bool:
        return self.difference_minor == 0

    def movement(self, key: str) -> Figure:
        return next(f for f in self.movements if f.key == key)

    def figures(self) -> list[Figure]:
        return [self.opening, *self.movements, self.closing, self.independent]


@dataclass
class BankBlock:
    """The period's payouts that reached one bank account, in one currency."""

    source_id: int
    account: str
    currency: str
    expected: Figure  # count: payouts
    received: Figure  # count: bank lines
    received_later: Figure

    @property
    def difference_minor(self) -> int:
        return self.received.amount_minor - self.expected.amount_minor

    def figures(self) -> list[Figure]:
        return [self.expected, self.received, self.received_later]


@dataclass
class PayoutAtCutOff:
    """A payout in transit (or failed, carried forward) at the cut-off."""

    payout_id: int
    payout_ref: str
    psp: str | None
    account: str
    currency: str
    amount_minor: int  # what the bank should receive
    paid_on: dt.date | None
    expected_on: dt.date | None
    status: str
    bank_booked_on: dt.date | None  # the bank line, when it came after the cut-off


@dataclass
class ProofLine:
    """One line behind a figure; `amount_minor` is its part of that figure."""

    account: str
    currency: str
    category: str
    booked_on: dt.date | None
    external_id: str | None
    description: str | None
    amount_minor: int
    record_id: int | None
    payout_ref: str | None


@dataclass
class SettlementProof:
    """The month-end proof of `roll_forward`."""

    date_from: dt.date
    date_to: dt.date
    generated_at: dt.datetime
    psp: list[PspBlock] = field(default_factory=list)
    banks: list[BankBlock] = field(default_factory=list)
    in_transit: list[PayoutAtCutOff] = field(default_factory=list)
    failed: list[PayoutAtCutOff] = field(default_factory=list)
    carried_forward: list[PayoutAtCutOff] = field(default_factory=list)

    @property
    def closes(self) -> bool:
        return all(b.closes for b in self.psp)

    def in_transit_by_currency(self) -> dict[str, tuple[int, int]]:
        """currency -> (payouts, amount in minor units) in transit at the cut-off."""
        out: dict[str, tuple[int, int]] = {}
        for p in self.in_transit:
            n, total = out.get(p.currency, (0, 0))
            out[p.currency] = (n + 1, total + p.amount_minor)
        return dict(sorted(out.items()))

    def as_json(self) -> dict[str, Any]:
        """The totals (minor units), for `--json`."""
        return {
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "closes": self.closes,
            "psp": [
                {
                    "account": b.account,
                    "psp": b.psp,
                    "currency": b.currency,
                    "opening_minor": b.opening.amount_minor,
                    **{f"{m.key}_minor": m.amount_minor for m in b.movements},
                    "closing_minor": b.closing.amount_minor,
                    "independent_closing_minor": b.independent.amount_minor,
                    "difference_minor": b.difference_minor,
                    "closes": b.closes,
                }
                for b in self.psp
            ],
            "banks": [
                {
                    "account": b.account,
                    "currency": b.currency,
                    "payouts_expected": b.expected.count,
                    "expected_minor": b.expected.amount_minor,
                    "received_minor": b.received.amount_minor,
                    "received_later_minor": b.received_later.amount_minor,
                    "difference_minor": b.difference_minor,
                }
                for b in self.banks
            ],
            "in_transit": {
                c: {"payouts": n, "amount_minor": v}
                for c, (n, v) in self.in_transit_by_currency().items()
            },
            "failed": len(self.failed),
            "carried_forward": len(self.carried_forward),
        }


# --------------------------------------------------------------------------- PSP balances


def _psp_accounts(session: Session) -> dict[int, tuple[str, str | None]]:
    rows = session.execute(text("SELECT id, name, provider FROM sources WHERE kind = 'psp'")).all()
    return {int(r[0]): (str(r[1]), r[2]) for r in rows}


def _balances(session: Session, op: str, day: dt.date) -> dict[tuple[int, str], int]:
    """Sum of line nets booked `op` day (`<` or `<=`) plus sent payouts without a payout line."""
    out: dict[tuple[int, str], int] = defaultdict(int)
    lines = _dates(
        f"SELECT r.source_id, r.currency, SUM({_N}) FROM records r"
        " JOIN sources s ON s.id = r.source_id"
        f" WHERE s.kind = 'psp' AND r.booked_on {op} :d GROUP BY r.source_id, r.currency",
        "d",
    )
    for sid, cur, total in session.execute(lines, {"d": day}).all():
        out[(int(sid), str(cur))] += int(total or 0)
    synthetic = _dates(
        "SELECT p.source_id, p.currency, SUM(-p.net_minor) FROM payouts p"
        f" JOIN sources s ON s.id = p.source_id WHERE s.kind = 'psp' AND {_SENT_WITHOUT_LINE}"
        f" AND p.paid_on {op} :d GROUP BY p.source_id, p.currency",
        "d",
    )
    for sid, cur, total in session.execute(synthetic, {"d": day}).all():
        out[(int(sid), str(cur))] += int(total or 0)
    return out


def _movements(
    session: Session, lo: dt.date, hi: dt.date
) -> dict[tuple[int, str], dict[str, tuple[int, int]]]:
    """(account, currency) -> category -> (amount, lines) for lines booked in [lo, hi]."""
    cols = ", ".join(
        f"SUM({_expr(c)}) AS {c}_sum, COUNT(CASE WHEN {_expr(c)} <> 0"
        f"{' OR ' + _expr(c) + ' IS NOT NULL' if c == 'unclassified' else ''} THEN 1 END) AS {c}_n"
        for c in MOVEMENTS
    )
    sql = _dates(
        f"SELECT r.source_id, r.currency, {cols} FROM records r"
        " JOIN sources s ON s.id = r.source_id WHERE s.kind = 'psp'"
        " AND r.booked_on >= :lo AND r.booked_on <= :hi GROUP BY r.source_id, r.currency",
        "lo",
        "hi",
    )
    out: dict[tuple[int, str], dict[str, tuple[int, int]]] = {}
    for row in session.execute(sql, {"lo": lo, "hi": hi}).mappings():
        out[(int(row["source_id"]), str(row["currency"]))] = {
            c: (int(row[f"{c}_sum"] or 0), int(row[f"{c}_n"] or 0)) for c in MOVEMENTS
        }
    synthetic = _dates(
        "SELECT p.source_id, p.currency, SUM(-p.net_minor), COUNT(*) FROM payouts p"
        f" JOIN sources s ON s.id = p.source_id WHERE s.kind = 'psp' AND {_SENT_WITHOUT_LINE}"
        " AND p.paid_on >= :lo AND p.paid_on <= :hi GROUP BY p.source_id, p.currency",
        "lo",
        "hi",
    )
    for sid, cur, total, n in session.execute(synthetic, {"lo": lo, "hi": hi}).all():
        cats = out.setdefault((int(sid), str(cur)), dict.fromkeys(MOVEMENTS, (0, 0)))
        amount, lines = cats["paid_out"]
        cats["paid_out"] = (amount + int(total or 0), lines + int(n))
    return out


def _psp_blocks(session: Session, lo: dt.date, hi: dt.date) -> list[PspBlock]:
    accounts = _psp_accounts(session)
    opening = _balances(session, "<", lo)
    closing = _balances(session, "<=", hi)
    moves = _movements(session, lo, hi)
    blocks = []
    for sid, cur in sorted(set(opening) | set(closing) | set(moves)):
        name, psp = accounts.get(sid, (f"source {sid}", None))

        def ref(category: str, sid: int = sid, cur: str = cur) -> LineRef:
            return LineRef("psp", sid, cur, category, lo, hi)

        cats = moves.get((sid, cur), dict.fromkeys(MOVEMENTS, (0, 0)))
        start = opening.get((sid, cur), 0)
        figures = [Figure(c, LABELS[c], v, ref(c), n) for c, (v, n) in cats.items()]
        rolled = start + sum(f.amount_minor for f in figures)
        end = closing.get((sid, cur), 0)
        first, last = (
            Figure(k, LABELS[k], v, ref(k)) for k, v in (("opening", start), ("closing", rolled))
        )
        independent = Figure("independent", LABELS["independent"], end, ref("independent"))
        blocks.append(PspBlock(sid, name, psp, cur, first, figures, last, independent))
    blocks.sort(key=lambda b: (b.account.lower(), b.currency))
    return blocks


# --------------------------------------------------------------------------- bank receipts

_SENT = """
SELECT p.id, p.source_id, p.currency, p.payout_ref, p.paid_on, p.expected_on, p.payout_minor,
  p.net_minor, p.payout_record_id, mp.match_id, s.name AS account
FROM payouts p JOIN sources s ON s.id = p.source_id AND s.kind = 'psp'
JOIN match_payouts mp ON mp.payout_id = p.id AND mp.live
WHERE p.paid_on >= :lo AND p.paid_on <= :hi
ORDER BY p.paid_on, p.id
"""
_BANK_LINES = f"""
SELECT mm.match_id, r.source_id, b.name, r.currency,
  r.booked_on, r.external_id, r.description, r.amount_minor, r.id, NULL AS payout_ref
FROM match_members mm JOIN records r ON r.id = mm.record_id JOIN sources b ON b.id = r.source_id
WHERE mm.live AND mm.side = 'bank' AND mm.match_id IN (SELECT match_id FROM ({_SENT}) x)
ORDER BY r.booked_on, r.id
"""


@dataclass
class _BankData:
    names: dict[int, str]
    expected: dict[tuple[int, str], list[ProofLine]]
    received: dict[tuple[int, str], list[ProofLine]]
    later: dict[tuple[int, str], list[ProofLine]]


def _bank_data(session: Session, lo: dt.date, hi: dt.date) -> _BankData:
    params = {"lo": lo, "hi": hi}
    payouts = session.execute(_dates(_SENT, "lo", "hi"), params).all()
    by_match: dict[int, list[Any]] = defaultdict(list)
    data = _BankData({}, defaultdict(list), defaultdict(list), defaultdict(list))
    seen: set[int] = set()
    for row in session.execute(_dates(_BANK_LINES, "lo", "hi"), params).all():
        by_match[int(row[0])].append(row)
        data.names[int(row[1])] = name = str(row[2])
        if int(row[8]) in seen:
            continue
        seen.add(int(row[8]))
        booked = _day(row[4])
        target = data.received if booked is not None and booked <= hi else data.later
        category = "received" if target is data.received else "received_later"
        target[(int(row[1]), str(row[3]))].append(_line((name, str(row[3]), category), row[4:]))
    for p in payouts:
        banks = by_match.get(int(p.match_id))
        if not banks:
            continue  # a level-2 match without a live bank line settles nothing
        bank_id = min(int(b[1]) for b in banks)
        amount = int(p.payout_minor) if p.payout_minor is not None else int(p.net_minor)
        text_ = f"{p.account} payout of {_day(p.paid_on)}, expected {_day(p.expected_on)}"
        values = (p.paid_on, p.payout_ref, text_, amount, p.payout_record_id, p.payout_ref)
        head = (data.names[bank_id], str(p.currency), "expected")
        data.expected[(bank_id, str(p.currency))].append(_line(head, values))
    return data


def _bank_blocks(session: Session, lo: dt.date, hi: dt.date) -> list[BankBlock]:
    data = _bank_data(session, lo, hi)
    blocks = []
    for sid, cur in sorted(set(data.expected) | set(data.received) | set(data.later)):

        def fig(category: str, lines: list[ProofLine], sid: int = sid, cur: str = cur) -> Figure:
            total = sum(x.amount_minor for x in lines)
            ref = LineRef("bank", sid, cur, category, lo, hi)
            return Figure(category, LABELS[category], total, ref, len(lines))

        blocks.append(
            BankBlock(
                source_id=sid,
                account=data.names[sid],
                currency=cur,
                expected=fig("expected", data.expected.get((sid, cur), [])),
                received=fig("received", data.received.get((sid, cur), [])),
                received_later=fig("received_later", data.later.get((sid, cur), [])),
            )
        )
    blocks.sort(key=lambda b: (b.account.lower(), b.currency))
    return blocks


# --------------------------------------------------------------------------- payouts at cut-off


def _at_cut_off(r: PayoutRow) -> PayoutAtCutOff:
    return PayoutAtCutOff(
        payout_id=r.id,
        payout_ref=r.payout_ref,
        psp=r.psp,
        account=r.account,
        currency=r.currency,
        amount_minor=r.expected_minor,
        paid_on=r.paid_on,
        expected_on=r.expected_on,
        status=r.status,
        bank_booked_on=r.bank_booked_on if r.match_id is not None else None,
    )


def roll_forward(
    session: Session, date_from: dt.date, date_to: dt.date, *, now: dt.datetime | None = None
) -> SettlementProof:
    """The settlement proof of the days `date_from` to `date_to` (inclusive).

    Raises:
        UserError: `date_to` is before `date_from`.
    """
    if date_to < date_from:
        raise UserError(f"--to {date_to} is before --from {date_from}", field="--to")
    proof = SettlementProof(date_from, date_to, now or dt.datetime.now(dt.UTC))
    proof.psp = _psp_blocks(session, date_from, date_to)
    proof.banks = _bank_blocks(session, date_from, date_to)
    rows = sorted(
        list_payouts(session, PayoutFilter(as_of=date_to)),
        key=lambda r: (r.currency, r.paid_on or date_to, r.account, r.payout_ref),
    )
    proof.in_transit = [_at_cut_off(r) for r in rows if r.status == "in_transit"]
    period = [r for r in rows if r.paid_on is not None and r.paid_on >= date_from]
    proof.failed = [_at_cut_off(r) for r in period if r.status == "failed"]
    proof.carried_forward = [_at_cut_off(r) for r in period if r.status == "carried_forward"]
    return proof


# --------------------------------------------------------------------------- drill-down


def _account_name(session: Session, source_id: int) -> str:
    name = session.execute(
        text("SELECT name FROM sources WHERE id = :s"), {"s": source_id}
    ).scalar()
    return str(name) if name is not None else f"source {source_id}"


def _balance_lines(session: Session, ref: LineRef, account: str) -> Iterator[ProofLine]:
    """What a balance is made of: per payout id, the lines not yet netted to zero; lines without
    a payout id one by one."""
    op, day = ("<", ref.date_from) if ref.category == "opening" else ("<=", ref.date_to)
    params = {"s": ref.source_id, "c": ref.currency, "d": day}
    grouped = _dates(
        f"SELECT r.payout_ref, SUM({_N}), COUNT(*), MAX(r.booked_on) FROM records r"
        f" WHERE r.source_id = :s AND r.currency = :c AND r.booked_on {op} :d"
        " AND r.payout_ref IS NOT NULL GROUP BY r.payout_ref",
        "d",
    )
    totals: dict[str, list[Any]] = {
        str(ref_): [int(v or 0), int(n), _day(last)]
        for ref_, v, n, last in session.execute(grouped, params).all()
    }
    synthetic = _dates(
        "SELECT p.payout_ref, -p.net_minor, p.paid_on FROM payouts p WHERE p.source_id = :s"
        f" AND p.currency = :c AND {_SENT_WITHOUT_LINE} AND p.paid_on {op} :d",
        "d",
    )
    for payout_ref, minus_net, paid_on in session.execute(synthetic, params).all():
        entry = totals.setdefault(str(payout_ref), [0, 0, _day(paid_on)])
        entry[0] += int(minus_net)
    when, head = (
        f"{'before' if op == '<' else 'up to'} {day}",
        (account, ref.currency, ref.category),
    )
    for key in sorted(totals, key=lambda k: (totals[k][2] or day, k)):
        amount, n, last = totals[key]
        desc = f"payout {key}: {n} line(s) booked {when}, not yet paid out"
        if amount:
            yield _line(head, (last, key, desc, amount, None, key))
    loose = _dates(
        f"SELECT r.booked_on, r.external_id, r.description, {_N}, r.id, r.payout_ref FROM records r"
        f" WHERE r.source_id = :s AND r.currency = :c AND r.booked_on {op} :d"
        f" AND r.payout_ref IS NULL AND {_N} <> 0 ORDER BY r.booked_on, r.id",
        "d",
    )
    yield from (_line(head, row) for row in session.execute(loose, params).all())


def _movement_lines(session: Session, ref: LineRef, account: str) -> Iterator[ProofLine]:
    expr = _expr(ref.category)
    keep = f"{expr} IS NOT NULL" if ref.category == "unclassified" else f"{expr} <> 0"
    sql = _dates(
        f"SELECT r.booked_on, r.external_id, r.description, {expr}, r.id, r.payout_ref, r.kind"
        " FROM records r WHERE r.source_id = :s AND r.currency = :c"
        f" AND r.booked_on >= :lo AND r.booked_on <= :hi AND {keep} ORDER BY r.booked_on, r.id",
        "lo",
        "hi",
    )
    params = {"s": ref.source_id, "c": ref.currency, "lo": ref.date_from, "hi": ref.date_to}
    head = (account, ref.currency, ref.category)
    for *row, kind in session.execute(sql, params).all():
        if ref.category == "unclassified":
            row[2] = f"[{kind}] {row[2] or ''}".strip()
        yield _line(head, row)
    if ref.category == "paid_out":
        synthetic = _dates(
            "SELECT p.paid_on, p.payout_ref, p.lines, -p.net_minor, NULL, p.payout_ref"
            f" FROM payouts p WHERE p.source_id = :s AND p.currency = :c AND {_SENT_WITHOUT_LINE}"
            " AND p.paid_on >= :lo AND p.paid_on <= :hi ORDER BY p.paid_on, p.id",
            "lo",
            "hi",
        )
        for day, ext, n, *rest in session.execute(synthetic, params).all():
            desc = f"payout without a payout line: minus the net of its {n} line(s)"
            yield _line(head, (day, ext, desc, *rest))


def proof_lines(session: Session, ref: LineRef) -> Iterator[ProofLine]:
    """The lines behind one figure, by date; their amounts add up to it."""
    if ref.scope == "bank":
        data = _bank_data(session, ref.date_from, ref.date_to)
        table = {"expected": data.expected, "received": data.received}
        yield from table.get(ref.category, data.later).get((ref.source_id, ref.currency), [])
        return
    account = _account_name(session, ref.source_id)
    if ref.category in ("opening", "independent"):
        yield from _balance_lines(session, ref, account)
    elif ref.category == "closing":  # rolled forward: the opening and every movement
        for category in ("opening", *MOVEMENTS):
            yield from proof_lines(session, replace(ref, category=category))
    elif ref.category in _RULES:
        yield from _movement_lines(session, ref, account)
    else:
        raise ValueError(f"no lines for category {ref.category!r}")
