"""Undoable clerk actions: QUndoCommands that call services.reconcile.clerk_actions and
services.reconcile.cases.

An action runs once, in a short Session, before its command is pushed (a refused action -- the
service raised UserError -- shows the message and never reaches the stack). Undo and redo then
call the services again: match actions through `clerk_actions.undo` (whose result, undone, redoes),
case changes through `cases.restore` with the snapshots the change returned. Every step emits
`ctx.data_changed` so the pages reload; a step that can no longer be done (someone changed the
data in between) shows why and drops the command from the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtGui import QUndoCommand

from ...errors import UserError
from ...models import Match
from ...services.reconcile import cases, clerk_actions
from .. import messages
from ..context import CASES, MATCHES, RECORDS

MATCH_KINDS = (RECORDS, MATCHES, CASES)
CASE_KINDS = (CASES,)
Hook = Callable[[bool], None]  # called with True after an undo, False after a redo


class _ServiceCommand(QUndoCommand):
    """Shared bits: the context, the data kinds to announce, a hook after undo/redo."""

    def __init__(self, ctx, text: str, kinds: Sequence[str], hook: Hook | None) -> None:
        super().__init__(text)
        self.ctx = ctx
        self.kinds = tuple(kinds)
        self.hook = hook
        self._fresh = True  # the action already ran when the command was pushed

    def _step(self, fn: Callable[[object], None], undone: bool) -> None:
        try:
            with self.ctx.db.session() as s:
                fn(s)
        except UserError as exc:
            self.setObsolete(True)  # the stack drops it: it can no longer be undone/redone
            messages.show_error(None, exc, title="Cannot " + ("undo" if undone else "redo"))
            return
        if self.hook is not None:
            self.hook(undone)
        self.ctx.changed(*self.kinds)


class MatchCommand(_ServiceCommand):
    """Match actions (`clerk_actions.Action`s) that ran together; undone in reverse order."""

    def __init__(self, ctx, text, actions, kinds=MATCH_KINDS, hook: Hook | None = None) -> None:
        super().__init__(ctx, text, kinds, hook)
        self.actions: list[clerk_actions.Action] = list(actions)
        self._inverse: list[clerk_actions.Action] = []

    def redo(self) -> None:
        if self._fresh:
            self._fresh = False
            self.ctx.changed(*self.kinds)
            return

        def again(s) -> None:
            done: list[clerk_actions.Action] = []
            for action in reversed(self._inverse):
                done += clerk_actions.undo(s, action, actor=self.ctx.actor)
            self.actions = done

        self._step(again, undone=False)

    def undo(self) -> None:
        def back(s) -> None:
            done: list[clerk_actions.Action] = []
            for action in reversed(self.actions):
                done += clerk_actions.undo(s, action, actor=self.ctx.actor)
            self._inverse = done

        self._step(back, undone=True)


class CaseCommand(_ServiceCommand):
    """A workflow change of cases; `apply(session)` does it and returns the undo snapshots."""

    def __init__(
        self,
        ctx,
        text: str,
        apply: Callable[[object], list[cases.CaseSnapshot]],
        snapshots: list[cases.CaseSnapshot],
        hook: Hook | None = None,
    ) -> None:
        super().__init__(ctx, text, CASE_KINDS, hook)
        self.apply = apply
        self.snapshots = snapshots

    def redo(self) -> None:
        if self._fresh:
            self._fresh = False
            self.ctx.changed(*self.kinds)
            return

        def again(s) -> None:
            self.snapshots = self.apply(s)

        self._step(again, undone=False)

    def undo(self) -> None:
        self._step(lambda s: cases.restore(s, self.snapshots, actor=self.ctx.actor), undone=True)


class NoteCommand(_ServiceCommand):
    """A note added to a case (undo deletes it; redo adds it again)."""

    def __init__(self, ctx, case_id: int, text: str, note_id: int) -> None:
        super().__init__(ctx, "Add note", CASE_KINDS, None)
        self.case_id = case_id
        self.body = text
        self.note_id = note_id

    def redo(self) -> None:
        if self._fresh:
            self._fresh = False
            self.ctx.changed(*self.kinds)
            return

        def again(s) -> None:
            self.note_id = cases.add_note(s, self.case_id, self.body, actor=self.ctx.actor)

        self._step(again, undone=False)

    def undo(self) -> None:
        self._step(lambda s: cases.delete_note(s, self.note_id, actor=self.ctx.actor), True)


# -- running an action and pushing it ----------------------------------------------------------


def run_match_action(
    ctx, text: str, do: Callable[[object], Sequence[clerk_actions.Action]], hook: Hook | None = None
) -> MatchCommand | None:
    """Run `do(session)` (returning the actions it performed) and push it as one command.

    Returns None (after showing the service's message) when the service refused it; nothing
    is written then, even if an earlier step of `do` had succeeded.
    """
    try:
        with ctx.db.session() as s:
            actions = list(do(s))
    except UserError as exc:
        messages.show_error(None, exc, title=text)
        return None
    command = MatchCommand(ctx, text, actions, hook=hook)
    ctx.undo_stack.push(command)
    return command


def run_case_action(
    ctx,
    text: str,
    apply: Callable[[object], list[cases.CaseSnapshot]],
    hook: Hook | None = None,
) -> CaseCommand | None:
    """Run a case workflow change and push it; None when the service refused it."""
    try:
        with ctx.db.session() as s:
            snapshots = apply(s)
    except UserError as exc:
        messages.show_error(None, exc, title=text)
        return None
    command = CaseCommand(ctx, text, apply, snapshots, hook=hook)
    ctx.undo_stack.push(command)
    return command


def run_add_note(ctx, case_id: int, text: str) -> NoteCommand | None:
    try:
        with ctx.db.session() as s:
            note_id = cases.add_note(s, case_id, text, actor=ctx.actor)
    except UserError as exc:
        messages.show_error(None, exc, title="Add note")
        return None
    command = NoteCommand(ctx, case_id, text, note_id)
    ctx.undo_stack.push(command)
    return command


# -- the match actions both pages offer ----------------------------------------------------------


class MatchActions:
    """Confirm, reject, unmatch, split, manual match and write-off as undoable commands."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx

    @property
    def actor(self) -> str:
        return self.ctx.actor

    def confirm(self, match_id: int, hook: Hook | None = None) -> MatchCommand | None:
        return run_match_action(
            self.ctx,
            f"Confirm match {match_id}",
            lambda s: [clerk_actions.confirm(s, match_id, actor=self.actor)],
            hook,
        )

    def reject(self, match_id: int, hook: Hook | None = None) -> MatchCommand | None:
        return run_match_action(
            self.ctx,
            f"Reject match {match_id}",
            lambda s: [clerk_actions.reject(s, match_id, actor=self.actor)],
            hook,
        )

    def unmatch(self, match_id: int, hook: Hook | None = None) -> MatchCommand | None:
        return run_match_action(
            self.ctx,
            f"Unmatch match {match_id}",
            lambda s: [clerk_actions.unmatch(s, match_id, actor=self.actor)],
            hook,
        )

    def split(
        self, match_id: int, record_ids: Sequence[int], hook: Hook | None = None
    ) -> MatchCommand | None:
        ids = [int(i) for i in record_ids]
        return run_match_action(
            self.ctx,
            f"Split {len(ids)} record(s) off match {match_id}",
            lambda s: [clerk_actions.split(s, match_id, ids, actor=self.actor)],
            hook,
        )

    def manual_match(
        self, record_ids: Sequence[int], hook: Hook | None = None, *, write_off: str | None = None
    ) -> MatchCommand | None:
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
