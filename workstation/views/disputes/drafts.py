"""Autosave of a case's text fields: debounced background saves that never lose a draft.

Every edit gets a sequence number. A save (background task or, when a case is closed, on the
main thread) writes the newest text of a field under one lock and commits inside it, and skips
texts older than what was already written; so saves may finish in any order and the stored text
is always the newest one typed.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from ...errors import UserError
from ...services.disputes.evidence import save_draft

DEBOUNCE_MS = 800


@dataclass
class _Pending:
    seq: int
    text: str


class DraftSaver(QObject):
    """Saves text fields of cases; one instance per page (it outlives the case shown).

    Signals:
        saved(int, str, object): dispute id, field, `DraftSaved` (text as stored, time).
        failed(int, str, str): dispute id, field, message (e.g. the case was submitted meanwhile).
    """

    saved = Signal(int, str, object)
    failed = Signal(int, str, str)

    def __init__(self, ctx, parent=None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._lock = threading.Lock()
        self._seq = 0
        self._pending: dict[tuple[int, str], _Pending] = {}  # typed, not yet handed to a save
        self._unsaved: dict[tuple[int, str], _Pending] = {}  # handed over, not yet committed
        self._written: dict[tuple[int, str], int] = {}  # newest seq committed (under _lock)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self.save_soon)

    # -- edits -----------------------------------------------------------------------------------
    def edited(self, dispute_id: int, field: str, text: str) -> None:
        """The user typed: remember the text and (re)start the debounce timer."""
        self._seq += 1
        item = _Pending(self._seq, text)
        self._pending[(dispute_id, field)] = item
        self._unsaved[(dispute_id, field)] = item
        self._timer.start()

    def has_unsaved(self, dispute_id: int | None = None) -> bool:
        return any(dispute_id is None or k[0] == dispute_id for k in self._unsaved)

    # -- saving ----------------------------------------------------------------------------------
    def save_soon(self) -> None:
        """Hand every pending text to a background save (debounce expired, focus left)."""
        self._timer.stop()
        pending, self._pending = self._pending, {}
        for (dispute_id, field), item in pending.items():
            self._start(dispute_id, field, item)

    def _start(self, dispute_id: int, field: str, item: _Pending) -> None:
        actor = self.ctx.actor

        def op(session, progress):
            return self._write(session, dispute_id, field, item, actor)

        def done(result) -> None:
            self._finished(dispute_id, field, item, result)

        def refused(exc: UserError) -> None:
            self._refused(dispute_id, field, item, exc)

        self.ctx.tasks.run(op, done, refused, label="Saving draft", cancellable=False)

    def _write(self, session, dispute_id: int, field: str, item: _Pending, actor: str):
        """Write `item` unless a newer text of the field was written already (any thread)."""
        key = (dispute_id, field)
        with self._lock:
            if self._written.get(key, 0) >= item.seq:
                return None
            result = save_draft(session, dispute_id, field, item.text, actor)
            session.commit()
            self._written[key] = item.seq
            return result

    def _finished(self, dispute_id: int, field: str, item: _Pending, result) -> None:
        key = (dispute_id, field)
        if self._unsaved.get(key) is item:
            del self._unsaved[key]
        if result is not None:
            self.saved.emit(dispute_id, field, result)

    def _refused(self, dispute_id: int, field: str, item: _Pending, exc: UserError) -> None:
        key = (dispute_id, field)
        if self._unsaved.get(key) is item:
            del self._unsaved[key]
        self.failed.emit(dispute_id, field, exc.describe())

    def flush_now(self, dispute_id: int | None = None) -> int:
        """Write every unsaved text (of one case, or all) now, on this thread; returns saves.

        Used when a case is closed or the window hides: nothing typed waits for a timer.
        """
        self._timer.stop()
        keys = [k for k in self._unsaved if dispute_id is None or k[0] == dispute_id]
        written = 0
        for key in keys:
            item = self._unsaved[key]
            self._pending.pop(key, None)
            try:
                with self.ctx.db.sessions() as s:  # `_write` commits itself
                    result = self._write(s, key[0], key[1], item, self.ctx.actor)
            except UserError as exc:
                self._refused(key[0], key[1], item, exc)
                continue
            self._finished(key[0], key[1], item, result)
            written += result is not None
        if self._pending:  # other cases' edits keep their timer
            self._timer.start()
        return written


def saved_text(when: dt.datetime | None) -> str:
    """`Saved 12:03` in local time."""
    if when is None:
        return ""
    local = when.astimezone() if when.tzinfo else when
    return f"Saved {local.strftime('%H:%M')}"
