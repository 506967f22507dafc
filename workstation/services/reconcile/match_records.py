"""Matches and their records as clerk actions see them: members, lines, difference, states.

A match's difference compares the lowest side present (order < psp < bank) with the others; record
match states are recomputed from the matches the records are in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import Match, MatchMember, MatchPayout, Payout, Record, Source
from . import cases
from .working_set import SIDE_CODES, SIDE_OF_SOURCE_KIND, TRANSFER_KINDS

ACTIVE = ("auto", "confirmed")
LIVE = ("auto", "suggested", "confirmed")  # statuses whose members hold their records
WRITE_OFF_RULE = "write-off"


def set_status(session: Session, m: Match, status: str) -> None:
    """Move a match to `status` and its members' `live` flag with it (the database's unique index
    on live members keeps a record in one live match; a clash raises IntegrityError)."""
    m.status = status
    session.flush()
    session.execute(
        update(MatchMember)
        .where(MatchMember.match_id == m.id)
        .values(live=status in LIVE)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(MatchPayout)
        .where(MatchPayout.match_id == m.id)
        .values(live=status in LIVE)
        .execution_options(synchronize_session=False)
    )
    for member in m.members if "members" in m.__dict__ else ():
        session.expire(member, ["live"])


def get_match(session: Session, match_id: int) -> Match:
    """The match `match_id`; a UserError when there is none."""
    m = session.get(Match, match_id)
    if m is None:
        raise UserError(f"no match {match_id}")
    return m


def member_ids(session: Session, match_id: int) -> list[int]:
    """Record ids of a match's members, ascending."""
    return list(
        session.scalars(
            select(MatchMember.record_id)
            .where(MatchMember.match_id == match_id)
            .order_by(MatchMember.record_id)
        )
    )


def busy_records(
    session: Session, record_ids: Sequence[int], *, except_match: int | None = None
) -> dict[int, int]:
    """record id -> id of an active (auto/confirmed) match it already belongs to."""
    q = (
        select(MatchMember.record_id, Match.id)
        .join(Match, Match.id == MatchMember.match_id)
        .where(MatchMember.record_id.in_(list(record_ids)), Match.status.in_(ACTIVE))
    )
    if except_match is not None:
        q = q.where(Match.id != except_match)
    return {int(r): int(m) for r, m in session.execute(q)}


def refresh_states(session: Session, record_ids: Sequence[int], *, actor: str = "engine") -> None:
    """Recompute `records.match_state` of `record_ids` from the matches they are in."""
    ids = sorted({int(i) for i in record_ids})
    if not ids:
        return
    session.flush()
    member = (
        "SELECT 1 FROM match_members mm JOIN matches m ON m.id = mm.match_id"
        " WHERE mm.record_id = records.id AND "
    )
    for i in range(0, len(ids), 500):
        chunk = ",".join(str(v) for v in ids[i : i + 500])
        session.execute(
            text(
                "UPDATE records SET match_state = CASE"
                f" WHEN EXISTS ({member}m.status IN ('auto', 'confirmed')"
                f" AND m.rule = '{WRITE_OFF_RULE}') THEN 'written_off'"
                f" WHEN EXISTS ({member}m.status IN ('auto', 'confirmed')) THEN 'matched'"
                f" WHEN EXISTS ({member}m.status = 'suggested') THEN 'suggested'"
                " ELSE 'unmatched' END"
                f" WHERE id IN ({chunk}) AND match_state <> 'ignored'"
            )
        )
    session.expire_all()
    cases.sync_records(session, ids, actor=actor)


@dataclass
class Line:
    """A record as a match member: its side, kind, amounts and currency."""

    id: int
    side: str
    kind: str
    amount: int
    net: int
    currency: str


def lines_of(session: Session, record_ids: Sequence[int]) -> list[Line]:
    """The records `record_ids` as lines, in that order; a UserError names a missing one."""
    rows = session.execute(
        select(
            Record.id,
            Source.kind,
            Record.kind,
            Record.amount_minor,
            func.coalesce(Record.net_minor, Record.amount_minor),
            Record.currency,
        )
        .join(Source, Source.id == Record.source_id)
        .where(Record.id.in_(list(record_ids)))
    ).all()
    found = {
        int(r[0]): Line(
            int(r[0]), SIDE_OF_SOURCE_KIND.get(r[1], "other"), r[2], int(r[3]), int(r[4]), r[5]
        )
        for r in rows
    }
    missing = set(int(i) for i in record_ids) - set(found)
    if missing:
        raise UserError(f"no record {min(missing)}")
    return [found[int(i)] for i in record_ids]


def difference(lines: Sequence[Line]) -> tuple[int, str, dict[int, int]]:
    """(difference, currency, amount used per record) of a set of lines matched together.

    The lowest side present (order < psp < bank) is compared with all the others: difference =
    sum(others) - sum(lowest). PSP payouts count as money towards the bank (sign flipped), and PSP
    lines compared with bank lines count net of fees. One side only: the lines should cancel out,
    difference = their sum.
    """
    sides = {ln.side for ln in lines}
    low = min(sides, key=lambda s: SIDE_CODES.get(s, 3))
    vs_bank = "bank" in sides and "order" not in sides

    def used(ln: Line) -> int:
        if ln.kind in TRANSFER_KINDS:
            return -ln.amount
        if ln.side == "psp" and vs_bank:
            return ln.net
        return ln.amount

    amounts = {ln.id: used(ln) for ln in lines}
    currency = next(ln.currency for ln in lines if ln.side == low)
    if len({ln.currency for ln in lines}) > 1:
        return 0, currency, amounts
    if len(sides) == 1:
        return sum(amounts.values()), currency, amounts
    lows = sum(a for i, a in amounts.items() if next(x for x in lines if x.id == i).side == low)
    return sum(amounts.values()) - 2 * lows, currency, amounts


def recompute_difference(session: Session, m: Match) -> None:
    """Set a match's difference and currency from its current members."""
    ids = member_ids(session, m.id)
    if not ids:
        return
    diff, currency, _ = difference(lines_of(session, ids))
    m.difference_minor = diff
    m.currency = currency
    set_level(session, m)


def set_level(session: Session, m: Match) -> None:
    """Level from the members (2: a bank line with PSP lines), and, at level 2, the payouts the
    PSP members belong to in `match_payouts`."""
    session.flush()
    rows = session.execute(
        select(Source.kind, Record.source_id, Record.payout_ref)
        .join(Record, Record.source_id == Source.id)
        .join(MatchMember, MatchMember.record_id == Record.id)
        .where(MatchMember.match_id == m.id)
    ).all()
    kinds = {k for k, _s, _r in rows}
    level = 2 if {"bank", "psp"} <= kinds else 1
    if m.level != level:
        m.level = level
        session.execute(
            update(MatchMember)
            .where(MatchMember.match_id == m.id)
            .values(level=level)
            .execution_options(synchronize_session=False)
        )
        for member in m.members if "members" in m.__dict__ else ():
            session.expire(member, ["level"])
    linked = set(session.scalars(select(MatchPayout.payout_id).where(MatchPayout.match_id == m.id)))
    wanted: dict[int, int] = {}
    if level == 2:
        keys = {(s, r) for k, s, r in rows if k == "psp" and r}
        for s_id, ref in sorted(keys):
            for p in session.scalars(
                select(Payout).where(Payout.source_id == s_id, Payout.payout_ref == ref)
            ):
                wanted[p.id] = p.expected_bank_minor
    gone = linked - set(wanted)
    if gone:
        session.execute(
            delete(MatchPayout).where(MatchPayout.match_id == m.id, MatchPayout.payout_id.in_(gone))
        )
    for pid in sorted(set(wanted) - linked):
        session.add(
            MatchPayout(
                match_id=m.id, payout_id=pid, amount_minor=wanted[pid], live=m.status in LIVE
            )
        )
    session.flush()
