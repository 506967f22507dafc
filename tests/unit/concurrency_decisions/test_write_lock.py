"""SQLite's write lock for decisions: waits for another writer past the busy timeout, and gives
up with a message a user can act on (not "database is locked") when the writer never lets go."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from workstation.db import Database
from workstation.errors import UserError
from workstation.models import Dispute, User
from workstation.services.common.row_locks import lock_rows, sqlite_write_lock
from workstation.services.common.users import ensure_user


def _hold(path: Path, seconds: float, started: threading.Event) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started.set()
    time.sleep(seconds)
    other.execute("COMMIT")
    other.close()


def _short_busy_timeout(s: Any) -> None:
    s.connection().connection.driver_connection.execute("PRAGMA busy_timeout=50")


def _holder(path: Path, seconds: float) -> threading.Thread:
    started = threading.Event()
    t = threading.Thread(target=_hold, args=(path, seconds, started))
    t.start()
    assert started.wait(10)
    return t


def test_waits_for_another_writer_longer_than_the_busy_timeout(
    sqlite_db: Database, tmp_path: Path
) -> None:
    holder = _holder(tmp_path / "ws.db", 1.0)
    t0 = time.monotonic()
    with sqlite_db.session() as s:
        _short_busy_timeout(s)  # each attempt gives up after 50 ms; the lock keeps trying
        lock_rows(s, Dispute, [1])
        waited = time.monotonic() - t0
        ensure_user(s, "after-the-wait")
    holder.join()
    assert waited >= 0.5
    with sqlite_db.session() as s:
        n = s.scalar(select(func.count()).select_from(User).where(User.login == "after-the-wait"))
    assert n == 1


def test_gives_up_with_a_user_error(sqlite_db: Database, tmp_path: Path) -> None:
    holder = _holder(tmp_path / "ws.db", 2.0)
    try:
        with sqlite_db.session() as s:
            _short_busy_timeout(s)
            with pytest.raises(UserError, match="the database stayed busy for over 0 s"):
                sqlite_write_lock(s, wait=0.3)
    finally:
        holder.join()
    with sqlite_db.session() as s:  # a second call, once the other writer is done, locks
        sqlite_write_lock(s)
        sqlite_write_lock(s)  # already held: a no-op
        assert s.connection().connection.driver_connection.in_transaction
