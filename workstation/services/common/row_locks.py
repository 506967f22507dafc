"""Write locks for decisions: rows locked FOR UPDATE on PostgreSQL, the write lock on SQLite.

A decision reads a row's state, checks it and writes; two users doing that at once must not both
pass the check. `lock_rows` is called before the state is read: on PostgreSQL it locks the rows
(`SELECT ... FOR UPDATE`, in id order so two lockers never deadlock); on SQLite, which has one
writer at a time, it takes the database's write lock (`BEGIN IMMEDIATE`), waiting for the other
writers however long they take, up to `SQLITE_WAIT` seconds, instead of failing with "database is
locked". Either way the state read afterwards stays as read until the transaction ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from ...errors import UserError
from .write_lock import begin_write

SQLITE_WAIT = 300.0  # seconds a decision waits for other writers before giving up
_CHUNK = 500


def lock_rows(session: Session, table: Table | Any, ids: Sequence[int]) -> None:
    """Hold the rows `ids` of `table` (a Table or an ORM class with an `id`) until commit.

    Raises:
        UserError: SQLite only, when other writers kept the database for over `SQLITE_WAIT` s.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        sqlite_write_lock(session)
        return
    if dialect != "postgresql":
        return
    tbl: Table = getattr(table, "__table__", table)
    ordered = sorted({int(i) for i in ids})
    for i in range(0, len(ordered), _CHUNK):
        chunk = ordered[i : i + _CHUNK]
        session.execute(
            select(tbl.c.id).where(tbl.c.id.in_(chunk)).order_by(tbl.c.id).with_for_update()
        ).all()


def sqlite_write_lock(session: Session, *, wait: float = SQLITE_WAIT) -> None:
    """Take SQLite's write lock for the session's transaction (no-op when it already writes).

    The same `BEGIN IMMEDIATE` wait as the bulk writers (`write_lock.begin_write`), with a
    decision's own message when it gives up.

    Raises:
        UserError: other writers kept the database for over `wait` seconds.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    try:
        begin_write(session, wait=wait)
    except UserError as exc:
        raise UserError(
            f"the database stayed busy for over {wait:.0f} s (other users writing); "
            "nothing was changed, try again"
        ) from exc
