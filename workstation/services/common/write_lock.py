"""One bulk writer at a time per store: imports and reconciliation runs wait for each other.

`begin_write(session)` makes the session's transaction the store's writer before it reads what it
will write from. On SQLite it opens the transaction with `BEGIN IMMEDIATE` (the write lock is
taken up front, so a second writer never fails half-way with "database is locked", and what it
reads afterwards is what the first writer committed). On PostgreSQL it takes a transaction-level
advisory lock keyed by the schema (released by commit or rollback). While another writer holds
the store the progress callable hears `WAITING` once; when the wait gives up it is a `UserError`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from ...db import begin_immediate
from ...errors import UserError

Progress = Callable[[int, int, str], None]

WAITING = "waiting for another import or reconciliation run to finish..."
WAIT_ENV = "WORKSTATION_LOCK_WAIT"
DEFAULT_WAIT_SECONDS = 600.0
_LOCK_CLASS = 20_261_204  # first key of the advisory lock; the second is the schema's hash
_POLL_SECONDS = 0.2


def wait_seconds() -> float:
    """How long a writer waits for another one (`$WORKSTATION_LOCK_WAIT` seconds, default 600)."""
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, DEFAULT_WAIT_SECONDS)))
    except ValueError:
        return DEFAULT_WAIT_SECONDS


def begin_write(
    session: Session, *, progress: Progress | None = None, wait: float | None = None
) -> None:
    """Make the session's transaction the store's only bulk writer, waiting for another first.

    Call it before reading anything the write depends on. Re-entrant: a transaction that already
    writes (or holds the lock) goes on at once.

    Args:
        progress: hears `(0, 0, WAITING)` once if another writer holds the store.
        wait: seconds to wait at most (default `wait_seconds()`).

    Raises:
        UserError: the other writer did not finish in time.
    """
    limit = wait_seconds() if wait is None else wait
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        _begin_immediate(raw, limit, progress)
    elif conn.dialect.name == "postgresql":
        _advisory_lock(session, limit, progress)


def _gave_up(limit: float) -> UserError:
    return UserError(
        f"another import or reconciliation run has been writing to the database for more than "
        f"{limit:.0f} s; try again when it has finished"
    )


def _begin_immediate(raw: sqlite3.Connection, limit: float, progress: Progress | None) -> None:
    """`BEGIN IMMEDIATE` on the driver connection, retried until `limit` seconds have passed."""
    begin_immediate(
        raw,
        limit,
        gave_up=lambda: _gave_up(limit),
        on_wait=None if progress is None else lambda: progress(0, 0, WAITING),
    )


def _advisory_lock(session: Session, limit: float, progress: Progress | None) -> None:
    """The store's advisory transaction lock, polled until `limit` seconds have passed."""
    sql = text("SELECT pg_try_advisory_xact_lock(:k, hashtext(current_schema()))")
    deadline = time.monotonic() + limit
    told = False
    while not session.execute(sql, {"k": _LOCK_CLASS}).scalar_one():
        if time.monotonic() >= deadline:
            raise _gave_up(limit)
        if not told:
            told = True
            if progress is not None:
                progress(0, 0, WAITING)
        time.sleep(_POLL_SECONDS)
