"""Undoable clerk actions: one `ServiceCommand` shape over clerk_actions, cases and notes.

Every action (services.reconcile.clerk_actions, services.reconcile.cases) runs once, in a short
Session, before its command is pushed (a refused action -- the service raised UserError -- shows
the message and never reaches the stack). Undo and redo then call the services again: match
actions through `clerk_actions.undo` (whose result, undone, redoes), case changes through
`cases.restore` with the snapshots the change returned, notes through `cases.delete_note` and
`cases.add_note`. Every step emits `ctx.data_changed` so the pages reload; a step that can no
longer be done (someone changed the data in between) shows why and drops the command from the
stack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtGui import QUndoCommand

from ...errors import UserError
from ...models import Match
from ...services.reconcile import cases, clerk_actions
from .. import messages
from ..context import CASES, MATCHES, RECORDS

MATCH_KINDS = (RECORDS, MATCHES, CASES)
CASE_KINDS = (CASES,)
Hook = Callable[[bool], None]  # called with True after an undo, False after a redo
Step = Callable[[Any, Any], Any]  # (session, state) -> the new state


class ServiceCommand(QUndoCommand):
    """An action that already ran, undone and redone by calling services again.

    `state` is what the last step returned (the action's result, then its inverse, ...):
    `undo_step(session, state)` and `redo_step(session, state)` return the next one. Every step
    announces `kinds` through `ctx.changed` and calls `hook(undone)`; a step the services refuse
    shows why and drops the command from the stack.
    """

    def __init__(
        self,
        ctx,
        text: str,
        state: Any,
        *,
        undo_step: Step,
        redo_step: Step,
        kinds: Sequence[str],
        hook: Hook | None = None,
    ) -> None:
        super().__init__(text)
        self.ctx = ctx
        self.state = state
        self.undo_step = undo_step
        self.redo_step = redo_step
        self.kinds = tuple(kinds)
        self.hook = hook
        self._fresh = True  # the action already ran when the command was pushed

    def redo(self) -> None:
        if self._fresh:
            self._fresh = False
            self.ctx.changed(*self.kinds)
            return
        self._step(self.redo_step, undone=False)

    def undo(self) -> None:
        self._step(self.undo_step, undone=True)

    def _step(self, step: Step, undone: bool) -> None:
        try:
            with self.ctx.db.session() as s:
                self.state = step(s, self.state)
        except UserError as exc:
            self.setObsolete(True)  # the stack drops it: it can no longer be undone/redone
            messages.show_error(None, exc, title="Cannot " + ("undo" if undone else "redo"))
            return
        if self.hook is not None:
            self.hook(undone)
        self.ctx.changed(*self.kinds)


def run_command(
    ctx,
    text: str,
    do: Callable[[Any], Any],
    *,
    undo_step: Step,
    redo_step: Step,
    kinds: Sequence[str],
    hook: Hook | None = None,
) -> ServiceCommand | None:
    """Run `do(session)` once and push it as a command whose state is what `do` returned.

    Returns None (after showing the service's message) when the service refused it; nothing
    is written then, even if an earlier step of `do` had succeeded.
    """
    try:
        with ctx.db.session() as s:
            state = do(s)
    except UserError as exc:
        messages.show_error(None, exc, title=text)
        return None
    command = ServiceCommand(
        ctx, text, state, undo_step=undo_step, redo_step=redo_step, kinds=kinds, hook=hook
    )
    ctx.undo_stack.push(command)
    return command


# -- match actions, case changes and notes -----------------------------------------------------


def run_match_action(
    ctx, text: str, do: Callable[[Any], Sequence[clerk_actions.Action]], hook: Hook | None = None
) -> ServiceCommand | None:
    """Run `do(session)` (returning the actions it performed) and push it as one command;
    undo and redo each undo what the step before did, in reverse order."""

    def invert(s, actions: list[clerk_actions.Action]) -> list[clerk_actions.Action]:
        done: list[clerk_actions.Action] = []
        for action in reversed(actions):
            done += clerk_actions.undo(s, action, actor=ctx.actor)
        return done

    return run_command(
        ctx,
        text,
        lambda s: list(do(s)),
        undo_step=invert,
        redo_step=invert,
        kinds=MATCH_KINDS,
        hook=hook,
    )


def run_case_action(
    ctx,
    text: str,
    apply: Callable[[Any], list[cases.CaseSnapshot]],
    hook: Hook | None = None,
) -> ServiceCommand | None:
    """Run a case workflow change (`apply` returns the undo snapshots) and push it; None when
    the service refused it."""

    def restore(s, snapshots: list[cases.CaseSnapshot]) -> list[cases.CaseSnapshot]:
        cases.restore(s, snapshots, actor=ctx.actor)
        return snapshots

    return run_command(
        ctx,
        text,
        apply,
        undo_step=restore,
        redo_step=lambda s, _snapshots: apply(s),
        kinds=CASE_KINDS,
        hook=hook,
    )


def run_add_note(ctx, case_id: int, text: str) -> ServiceCommand | None:
    """Add a note to a case (undo deletes it; redo adds it again)."""

    def add(s, _note_id=None) -> int:
        return cases.add_note(s, case_id, text, actor=ctx.actor)

    def delete(s, note_id: int) -> int:
        cases.delete_note(s, note_id, actor=ctx.actor)
        return note_id

    return run_command(ctx, "Add note", add, undo_step=delete, redo_step=add, kinds=CASE_KINDS)


# -- the match actions both pages offer ----------------------------------------------------------


class MatchActions:
    """Confirm, reject, unmatch, split, manual match and write-off as undoable commands."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx

    @property
    def actor(self) -> str:
        return self.ctx.actor

    def _on_match(self, verb: str, act, match_id: int, hook: Hook | None):
        """`act(session, match_id, actor=...)` as one undoable command ("Confirm match 12")."""
        return run_match_action(
            self.ctx,
            f"{verb} match {match_id}",
            lambda s: [act(s, match_id, actor=self.actor)],
            hook,
        )

    def confirm(self, match_id: int, hook: Hook | None = None) -> ServiceCommand | None:
        return self._on_match("Confirm", clerk_actions.confirm, match_id, hook)

    def reject(self, match_id: int, hook: Hook | None = None) -> ServiceCommand | None:
        return self._on_match("Reject", clerk_actions.reject, match_id, hook)

    def unmatch(self, match_id: int, hook: Hook | None = None) -> ServiceCommand | None:
        return self._on_match("Unmatch", clerk_actions.unmatch, match_id, hook)

    def split(
        self, match_id: int, record_ids: Sequence[int], hook: Hook | None = None
    ) -> ServiceCommand | None:
        ids = [int(i) for i in record_ids]
        return run_match_action(
            self.ctx,
            f"Split {len(ids)} record(s) off match {match_id}",
            lambda s: [clerk_actions.split(s, match_id, ids, actor=self.actor)],
            hook,
        )

    def manual_match(
        self, record_ids: Sequence[int], hook: Hook | None = None, *, write_off: str | None = None
    ) -> ServiceCommand | None:
        ids = [int(i) for i in record_ids]

        def do(s) -> list[clerk_actions.Action]:
            done = [clerk_actions.manual_match(s, ids, actor=self.actor)]
            if write_off is not None and done[0].match_id is not None:
                done.append(self._write_off_if_needed(s, done[0].match_id, write_off))
            return [a for a in done if a is not None]

        text = f"Match {len(ids)} records" + (" and write off" if write_off else "")
        return run_match_action(self.ctx, text, do, hook)

    def write_off(self, match_id: int, reason: str, hook: Hook | None = None):
        """Book a match's difference to `reason`; a suggestion is confirmed first."""

        def do(s) -> list[clerk_actions.Action]:
            m = s.get(Match, match_id)
            if m is None:
                raise UserError(f"no match {match_id}")
            done = []
            if m.status == "suggested":
                done.append(clerk_actions.confirm(s, match_id, actor=self.actor))
            done.append(clerk_actions.write_off(s, match_id, reason, actor=self.actor))
            return done

        return run_match_action(self.ctx, f"Write off match {match_id} ({reason})", do, hook)

    def write_off_record(self, record_id: int, reason: str, hook: Hook | None = None):
        return run_match_action(
            self.ctx,
            f"Write off record {record_id} ({reason})",
            lambda s: [clerk_actions.write_off_record(s, record_id, reason, actor=self.actor)],
            hook,
        )

    def _write_off_if_needed(self, s, match_id: int, reason: str) -> clerk_actions.Action | None:
        m = s.get(Match, match_id)
        if m is None or m.difference_minor == 0:
            return None
        return clerk_actions.write_off(s, match_id, reason, actor=self.actor)
