"""Clerk actions on matches: confirm, reject, manual match, unmatch, split, write-off, with undo.

Every action is audited and returns an `Action` whose `inverse` steps, run with `undo`, put the
database back (the GUI keeps these on its undo stack). Record states and exception cases follow
every change. Unmatching does not delete: the match becomes "rejected", which also tells the engine
never to propose those records together again. The lookups of matches and their records, the
difference a set of records leaves and the record states are `match_records`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ... import config
from ...errors import UserError
from ...models import Match, MatchMember, utcnow
from ...money import format_minor
from ..common import audit
from ..common.card_numbers import mask_optional
from .match_records import (
    ACTIVE,
    LIVE,
    WRITE_OFF_RULE,
    Line,
    busy_records,
    difference,
    get_match,
    lines_of,
    member_ids,
    recompute_difference,
    refresh_states,
    set_level,
    set_status,
)

__all__ = [
    "ACTIVE",
    "INVERSES",
    "MANUAL_RULE",
    "WRITE_OFF_REASONS",
    "WRITE_OFF_RULE",
    "Action",
    "add_members",
    "clear_write_off",
    "confirm",
    "delete_match",
    "difference",
    "manual_match",
    "refresh_states",
    "reject",
    "rematch",
    "restore_match",
    "split",
    "unconfirm",
    "undo",
    "unmatch",
    "write_off",
    "write_off_record",
]

WRITE_OFF_REASONS = ("rounding", "bank_fee", "fx")
MANUAL_RULE = "manual"
# Refusals when a record is in an active match: while it was open, and when undoing or redoing.
_IN_A_MATCH = "record {} is already in match {}; unmatch it first"
_MATCHED_MEANWHILE = "record {} is now in match {}"


@dataclass(frozen=True)
class Action:
    """A performed action: what changed and the steps that undo it."""

    name: str
    match_id: int | None
    record_ids: tuple[int, ...]
    inverse: tuple[tuple[str, dict[str, Any]], ...] = field(default_factory=tuple)


def undo(session: Session, action: Action, *, actor: str) -> list[Action]:
    """Run the inverse steps of `action`; returns the actions they performed (redo = inverses)."""
    done = []
    for name, kwargs in action.inverse:
        fn = INVERSES.get(name)
        if fn is None:
            raise UserError(f"cannot undo {name!r}")
        done.append(fn(session, actor=actor, **kwargs))
    return done


def _after(session: Session, record_ids: Sequence[int], actor: str) -> None:
    refresh_states(session, record_ids, actor=actor)


def _ensure_free(
    session: Session, record_ids: Sequence[int], message: str, *, except_match: int | None = None
) -> None:
    """Refuse (`message` with the record and match id) when a record is in an active match."""
    busy = busy_records(session, record_ids, except_match=except_match)
    if busy:
        rid, other = next(iter(busy.items()))
        raise UserError(message.format(rid, other))


def _confirmed_match(
    session: Session, actor: str, members: Sequence[tuple[Line, int]], **columns: Any
) -> Match:
    """A new match a clerk made, confirmed at once, with its members (line, amount used)."""
    now = utcnow()
    m = Match(
        status="confirmed",
        confidence=100,
        created_at=now,
        created_by=actor,
        confirmed_at=now,
        confirmed_by=actor,
        **columns,
    )
    session.add(m)
    session.flush()
    for ln, amount in members:
        session.add(MatchMember(match_id=m.id, record_id=ln.id, side=ln.side, amount_minor=amount))
    set_level(session, m)
    return m


# --- suggestions ------------------------------------------------------------------------------


def confirm(session: Session, match_id: int, *, actor: str) -> Action:
    """A clerk accepts a suggested match."""
    m = get_match(session, match_id)
    if m.status != "suggested":
        raise UserError(f"match {match_id} is {m.status}, not a suggestion")
    ids = member_ids(session, match_id)
    _ensure_free(session, ids, _IN_A_MATCH, except_match=match_id)
    set_status(session, m, "confirmed")
    m.confirmed_at = utcnow()
    m.confirmed_by = actor
    audit.log(session, actor, "match.confirm", "match", match_id, {"records": ids})
    _after(session, ids, actor)
    return Action("confirm", match_id, tuple(ids), (("unconfirm", {"match_id": match_id}),))


def unconfirm(session: Session, match_id: int, *, actor: str) -> Action:
    """Undo of `confirm`: back to a suggestion."""
    m = get_match(session, match_id)
    if m.status != "confirmed":
        raise UserError(f"match {match_id} is {m.status}, not confirmed")
    set_status(session, m, "suggested")
    m.confirmed_at = None
    m.confirmed_by = None
    ids = member_ids(session, match_id)
    audit.log(session, actor, "match.unconfirm", "match", match_id, {"records": ids})
    _after(session, ids, actor)
    return Action("unconfirm", match_id, tuple(ids), (("confirm", {"match_id": match_id}),))


def reject(session: Session, match_id: int, *, actor: str, note: str | None = None) -> Action:
    """A clerk turns a suggestion down; the engine will not propose it again."""
    m = get_match(session, match_id)
    if m.status != "suggested":
        raise UserError(f"match {match_id} is {m.status}, not a suggestion")
    return _set_rejected(session, m, actor, "reject", note)


def unmatch(session: Session, match_id: int, *, actor: str, note: str | None = None) -> Action:
    """Take a match apart; its records become open again and will not be re-matched together."""
    m = get_match(session, match_id)
    if m.status == "rejected":
        raise UserError(f"match {match_id} is already undone")
    return _set_rejected(session, m, actor, "unmatch", note)


def _set_rejected(session: Session, m: Match, actor: str, name: str, note: str | None) -> Action:
    before = m.status
    previous_note = m.note
    set_status(session, m, "rejected")
    if note:
        m.note = mask_optional(note)
    ids = member_ids(session, m.id)
    audit.log(session, actor, f"match.{name}", "match", m.id, {"from": before, "records": ids})
    _after(session, ids, actor)
    return Action(
        name,
        m.id,
        tuple(ids),
        (("rematch", {"match_id": m.id, "status": before, "note": previous_note}),),
    )


def rematch(
    session: Session, match_id: int, status: str, *, actor: str, note: str | None = None
) -> Action:
    """Bring a rejected match back with `status` (undo of reject / unmatch)."""
    m = get_match(session, match_id)
    if m.status != "rejected":
        raise UserError(f"match {match_id} is {m.status}, not rejected")
    ids = member_ids(session, match_id)
    if status in ACTIVE:
        _ensure_free(session, ids, _MATCHED_MEANWHILE, except_match=match_id)
    set_status(session, m, status)
    m.note = mask_optional(note)
    audit.log(session, actor, "match.rematch", "match", match_id, {"to": status, "records": ids})
    _after(session, ids, actor)
    return Action("rematch", match_id, tuple(ids), (("unmatch", {"match_id": match_id}),))


# --- manual matches ---------------------------------------------------------------------------


def manual_match(
    session: Session, record_ids: Sequence[int], *, actor: str, note: str | None = None
) -> Action:
    """Match records a clerk picked; the difference is computed (see `difference`).

    Suggestions that held any of the records are rejected (undo restores them).
    """
    ids = sorted({int(i) for i in record_ids})
    if len(ids) < 2:
        raise UserError("select at least two records to match")
    lines = lines_of(session, ids)
    _ensure_free(session, ids, _IN_A_MATCH)
    diff, currency, amounts = difference(lines)
    stale = list(
        session.scalars(
            select(Match.id)
            .join(MatchMember, MatchMember.match_id == Match.id)
            .where(MatchMember.record_id.in_(ids), Match.status == "suggested")
            .distinct()
        )
    )
    for sid in stale:
        set_status(session, get_match(session, sid), "rejected")
    m = _confirmed_match(
        session,
        actor,
        [(ln, amounts[ln.id]) for ln in lines],
        rule=MANUAL_RULE,
        difference_minor=diff,
        currency=currency,
        note=mask_optional(note),
    )
    audit.log(
        session,
        actor,
        "match.manual",
        "match",
        m.id,
        {"records": ids, "difference": diff, "rejected_suggestions": stale},
    )
    stale_ids = [r for s in stale for r in member_ids(session, s)]
    _after(session, ids + stale_ids, actor)
    inverse: list[tuple[str, dict[str, Any]]] = [("delete_match", {"match_id": m.id})]
    inverse += [("rematch", {"match_id": s, "status": "suggested"}) for s in stale]
    return Action("manual_match", m.id, tuple(ids), tuple(inverse))


def delete_match(session: Session, match_id: int, *, actor: str) -> Action:
    """Remove a match entirely (undo of a manual match or a record write-off)."""
    m = get_match(session, match_id)
    snapshot = {
        "match_id": m.id,
        "status": m.status,
        "rule": m.rule,
        "confidence": m.confidence,
        "currency": m.currency,
        "note": m.note,
        "writeoff_reason": m.writeoff_reason,
        "writeoff_minor": m.writeoff_minor,
        "created_by": m.created_by,
        "members": [
            {"record_id": mm.record_id, "side": mm.side, "amount_minor": mm.amount_minor}
            for mm in m.members
        ],
    }
    ids = [mm.record_id for mm in m.members]
    session.execute(
        text("UPDATE exception_cases SET match_id = NULL WHERE match_id = :m"), {"m": m.id}
    )
    session.delete(m)
    session.flush()
    audit.log(session, actor, "match.delete", "match", match_id, snapshot)
    _after(session, ids, actor)
    return Action("delete_match", match_id, tuple(ids), (("restore_match", snapshot),))


def restore_match(
    session: Session,
    *,
    actor: str,
    match_id: int,
    status: str,
    rule: str,
    confidence: int,
    currency: str,
    members: list[dict[str, Any]],
    note: str | None = None,
    writeoff_reason: str | None = None,
    writeoff_minor: int | None = None,
    created_by: str | None = None,
) -> Action:
    """Re-create a deleted match under its old id (redo of a manual match / write-off)."""
    if session.get(Match, match_id) is not None:
        raise UserError(f"match {match_id} exists")
    ids = [int(x["record_id"]) for x in members]
    if status in ACTIVE:
        _ensure_free(session, ids, _MATCHED_MEANWHILE)
    now = utcnow()
    m = Match(
        id=match_id,
        status=status,
        rule=rule,
        confidence=confidence,
        difference_minor=0,
        currency=currency,
        note=mask_optional(note),
        writeoff_reason=writeoff_reason,
        writeoff_minor=writeoff_minor,
        created_at=now,
        created_by=created_by or actor,
        confirmed_at=now if status in ACTIVE else None,
        confirmed_by=actor if status in ACTIVE else None,
    )
    session.add(m)
    session.flush()
    for x in members:
        session.add(
            MatchMember(
                match_id=m.id,
                record_id=int(x["record_id"]),
                side=x["side"],
                amount_minor=int(x["amount_minor"]),
                live=status in LIVE,
            )
        )
    session.flush()
    if rule == WRITE_OFF_RULE:
        m.difference_minor = int(writeoff_minor or 0)
    else:
        recompute_difference(session, m)
    audit.log(session, actor, "match.restore", "match", match_id, {"records": ids})
    _after(session, ids, actor)
    return Action(
        "restore_match", match_id, tuple(ids), (("delete_match", {"match_id": match_id}),)
    )


# --- split ------------------------------------------------------------------------------------


def split(session: Session, match_id: int, record_ids: Sequence[int], *, actor: str) -> Action:
    """Take records out of a match (at least two members must stay; else unmatch)."""
    m = get_match(session, match_id)
    if m.status == "rejected":
        raise UserError(f"match {match_id} is undone")
    remove = {int(i) for i in record_ids}
    members = list(m.members)
    gone = [mm for mm in members if mm.record_id in remove]
    if len(gone) != len(remove):
        missing = remove - {mm.record_id for mm in gone}
        raise UserError(f"record {min(missing)} is not in match {match_id}")
    if len(members) - len(gone) < 2:
        raise UserError("a match needs two records; unmatch it instead")
    saved = [
        {"record_id": mm.record_id, "side": mm.side, "amount_minor": mm.amount_minor} for mm in gone
    ]
    for mm in gone:
        m.members.remove(mm)
    session.flush()
    recompute_difference(session, m)
    audit.log(session, actor, "match.split", "match", match_id, {"removed": sorted(remove)})
    _after(session, sorted(remove), actor)
    return Action(
        "split",
        match_id,
        tuple(sorted(remove)),
        (("add_members", {"match_id": match_id, "members": saved}),),
    )


def add_members(
    session: Session, match_id: int, members: list[dict[str, Any]], *, actor: str
) -> Action:
    """Put records (back) into a match (undo of `split`)."""
    m = get_match(session, match_id)
    ids = [int(x["record_id"]) for x in members]
    if m.status in ACTIVE:
        _ensure_free(session, ids, _MATCHED_MEANWHILE, except_match=match_id)
    for x in members:
        m.members.append(
            MatchMember(
                record_id=int(x["record_id"]),
                side=x["side"],
                amount_minor=int(x["amount_minor"]),
                live=m.status in LIVE,
            )
        )
    session.flush()
    recompute_difference(session, m)
    audit.log(session, actor, "match.add_members", "match", match_id, {"added": ids})
    _after(session, ids, actor)
    return Action(
        "add_members", match_id, tuple(ids), (("split", {"match_id": match_id, "record_ids": ids}),)
    )


# --- write-offs -----------------------------------------------------------------------------


def _check_reason(reason: str) -> None:
    if reason not in WRITE_OFF_REASONS:
        raise UserError(f"write-off reason must be one of {', '.join(WRITE_OFF_REASONS)}")


def _check_within_limit(session: Session, what: str, amount: int, currency: str) -> None:
    """Refuse an `amount` (`what` names it) over the configured write-off limit."""
    limit = int(config.get(session, "match.writeoff_max_minor"))
    if abs(amount) > limit:
        raise UserError(
            f"{what} {format_minor(amount, currency)} is over the write-off limit "
            f"{format_minor(limit, currency)}"
        )


def write_off(session: Session, match_id: int, reason: str, *, actor: str) -> Action:
    """Book a match's difference (within the write-off limit) to a reason."""
    _check_reason(reason)
    m = get_match(session, match_id)
    if m.status not in ACTIVE:
        raise UserError(f"match {match_id} is {m.status}; confirm it before writing off")
    if m.difference_minor == 0:
        raise UserError(f"match {match_id} has no difference to write off")
    _check_within_limit(session, "difference", m.difference_minor, m.currency)
    before = (m.writeoff_reason, m.writeoff_minor)
    m.writeoff_reason = reason
    m.writeoff_minor = m.difference_minor
    audit.log(
        session,
        actor,
        "match.write_off",
        "match",
        match_id,
        {"reason": reason, "amount": m.difference_minor, "before": list(before)},
    )
    session.flush()
    return Action(
        "write_off",
        match_id,
        tuple(member_ids(session, match_id)),
        (("clear_write_off", {"match_id": match_id}),),
    )


def clear_write_off(session: Session, match_id: int, *, actor: str) -> Action:
    """Undo of `write_off`."""
    m = get_match(session, match_id)
    if m.writeoff_reason is None:
        raise UserError(f"match {match_id} has no write-off")
    reason = m.writeoff_reason
    m.writeoff_reason = None
    m.writeoff_minor = None
    audit.log(session, actor, "match.clear_write_off", "match", match_id, {"reason": reason})
    session.flush()
    return Action(
        "clear_write_off",
        match_id,
        tuple(member_ids(session, match_id)),
        (("write_off", {"match_id": match_id, "reason": reason}),),
    )


def write_off_record(session: Session, record_id: int, reason: str, *, actor: str) -> Action:
    """Write a small lone record off (e.g. a bank fee line): it leaves the queue as written off."""
    _check_reason(reason)
    line = lines_of(session, [record_id])[0]
    busy = busy_records(session, [record_id])
    if busy:
        raise UserError(f"record {record_id} is in match {busy[record_id]}")
    _check_within_limit(session, "amount", line.amount, line.currency)
    m = _confirmed_match(
        session,
        actor,
        [(line, line.amount)],
        rule=WRITE_OFF_RULE,
        difference_minor=line.amount,
        currency=line.currency,
        writeoff_reason=reason,
        writeoff_minor=line.amount,
    )
    audit.log(
        session,
        actor,
        "match.write_off_record",
        "match",
        m.id,
        {"record": record_id, "reason": reason},
    )
    _after(session, [record_id], actor)
    return Action("write_off_record", m.id, (record_id,), (("delete_match", {"match_id": m.id}),))


INVERSES: dict[str, Callable[..., Action]] = {
    "confirm": confirm,
    "unconfirm": unconfirm,
    "reject": reject,
    "unmatch": unmatch,
    "rematch": rematch,
    "delete_match": delete_match,
    "restore_match": restore_match,
    "split": split,
    "add_members": add_members,
    "write_off": write_off,
    "clear_write_off": clear_write_off,
}
