"""Decision cells of the round trip: what a queue allows, parsing a cell, what it would change.

Exceptions (one row per record, acting on its case): `resolve:<reason>` (reason from
`cases.RESOLUTIONS`), `assign:<login>`, `unassign`, `pending`, `reopen`. Disputes: `accept`,
`fight`, `assign:<login>`, `unassign`. A note alone is added to the case's notes / timeline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import UserError
from ...models import User
from ..reconcile import cases
from .row_state import DisputeState, ExceptionState, State

QUEUES = ("exceptions", "disputes")


def active_logins(session: Session) -> list[str]:
    """Logins of the active users, sorted (the logins `assign:` accepts)."""
    return sorted(str(x) for x in session.scalars(select(User.login).where(User.active.is_(True))))


def decision_choices(session: Session, queue: str) -> list[str]:
    """The drop-down values for a queue (assign choices name every active user)."""
    check_queue(queue)
    assign = [f"assign:{login}" for login in active_logins(session)]
    if queue == "exceptions":
        return [
            *(f"resolve:{r}" for r in cases.RESOLUTIONS),
            *assign,
            "unassign",
            "pending",
            "reopen",
        ]
    return ["accept", "fight", *assign, "unassign"]


def check_queue(queue: str) -> None:
    """Refuse a queue name other than "exceptions" or "disputes"."""
    if queue not in QUEUES:
        raise UserError(f"unknown queue {queue!r}; use {' or '.join(QUEUES)}")


def _grammar(queue: str) -> str:
    if queue == "exceptions":
        return "resolve:<reason>, assign:<login>, unassign, pending or reopen"
    return "accept, fight, assign:<login> or unassign"


def parse_decision(queue: str, text: str, logins: Sequence[str]) -> tuple[str, str | None]:
    """(action, argument) of a decision cell, e.g. "resolve:no_action" -> ("resolve", ...).

    Raises:
        ValueError: with a message naming what is allowed.
    """
    raw = text.strip()
    word, _, arg = raw.partition(":")
    word, arg = word.strip().lower(), arg.strip()
    simple = ("unassign", "pending", "reopen") if queue == "exceptions" else ("accept", "fight")
    if queue == "disputes":
        simple = (*simple, "unassign")
    if word in simple and not arg:
        return word, None
    if word == "assign":
        if not arg:
            raise ValueError("assign needs a login, e.g. assign:alice")
        if arg not in logins:
            near = [lo for lo in logins if lo.lower() == arg.lower()]
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(f"no active user {arg!r}{hint}")
        return "assign", arg
    if word == "resolve" and queue == "exceptions":
        reason = arg.lower().replace(" ", "_")
        if reason not in cases.RESOLUTIONS:
            raise ValueError(
                f"unknown resolution {arg!r}; use one of {', '.join(cases.RESOLUTIONS)}"
                if arg
                else f"resolve needs a reason, e.g. resolve:{cases.RESOLUTIONS[2]}"
            )
        return "resolve", reason
    raise ValueError(f"unknown decision {raw!r}; use {_grammar(queue)}")


def evaluate(state: State, action: str, arg: str | None) -> tuple[str, str]:
    """What `action` would do to a row in `state`: ("change", after), ("same", why) or
    ("invalid", message)."""
    if isinstance(state, ExceptionState):
        return _evaluate_exception(state, action, arg)
    return _evaluate_dispute(state, action, arg)


def _evaluate_exception(s: ExceptionState, action: str, arg: str | None) -> tuple[str, str]:
    if action == "note":
        if s.case_id is None:
            return "invalid", f"record {s.id} has no exception case to note ({s.match_state})"
        return "change", s.describe()
    if s.case_id is None:
        return "invalid", f"record {s.id} has no exception case ({s.match_state})"
    resolved = s.status == "resolved"
    if action == "resolve":
        if resolved:
            if s.resolution == arg:
                return "same", "already resolved so"
            return (
                "invalid",
                f"case {s.case_id} is already resolved ({s.resolution}); reopen it first",
            )
        return "change", f"resolved ({arg})"
    if action == "reopen":
        if not resolved:
            return "same", "not resolved"
        return "change", f"assigned to {s.assignee}" if s.assignee else "unassigned"
    if resolved:
        return "invalid", f"case {s.case_id} is resolved ({s.resolution}); reopen it first"
    if action == "assign":
        if s.assignee == arg:
            return "same", "already assigned so"
        status = "assigned" if s.status == "open" else s.status
        return "change", _exc_text(status, arg)
    if action == "unassign":
        if s.assignee is None:
            return "same", "already unassigned"
        status = "open" if s.status == "assigned" else s.status
        return "change", _exc_text(status, None)
    if action == "pending":
        if s.status == "pending":
            return "same", "already pending"
        return "change", _exc_text("pending", s.assignee)
    return "invalid", f"unknown action {action!r}"


def _exc_text(status: str | None, assignee: str | None) -> str:
    who = f"assigned to {assignee}" if assignee else "unassigned"
    return who if status in ("open", "assigned") else f"{status}, {who}"


def _evaluate_dispute(s: DisputeState, action: str, arg: str | None) -> tuple[str, str]:
    if action == "note":
        return "change", s.describe()
    if action in ("accept", "fight"):
        if action == "accept" and s.status == "accepted":
            return "same", "already accepted"
        if s.status != "needs_response" or s.locked:
            state = "submitted" if s.locked else s.status.replace("_", " ")
            return (
                "invalid",
                f"dispute {s.label} is {state}; only cases needing a response can be accepted "
                "or fought",
            )
        if action == "fight" and s.decision == "fight":
            return "same", "already marked to fight"
        after = dataclasses.replace(
            s,
            status="accepted" if action == "accept" else s.status,
            decision=action,
        )
        return "change", after.describe()
    if action in ("assign", "unassign"):
        login = arg if action == "assign" else None
        if s.assignee == login:
            return "same", "already assigned so" if login else "already unassigned"
        after = dataclasses.replace(s, assignee=login)
        text = after.describe()
        if s.status not in ("needs_response", "under_review"):
            text += f", assigned to {login}" if login else ", unassigned"
        return "change", text
    return "invalid", f"unknown action {action!r}"


def evaluate_with_note(
    state: State, action: str, arg: str | None, note: str
) -> tuple[str, str | None, str, str]:
    """(action, argument, verdict, text) of `evaluate`; a decision already in effect that comes
    with a note becomes the note alone."""
    verdict, text = evaluate(state, action, arg)
    if verdict == "same" and note:
        action, arg = "note", None
        verdict, text = evaluate(state, action, arg)
    return action, arg, verdict, text
