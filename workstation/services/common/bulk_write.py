"""Bulk write paths shared by every service: id blocks, driver-level inserts, deferred indexes.

The ORM and even Core executemany are several times slower at a million rows than the driver's own
executemany (SQLite) or COPY (PostgreSQL) (PERFORMANCE.md), so bulk writers go through here.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = True


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while millions of row tuples come and go.

    Row tuples hold only numbers and strings, so they never form cycles, but surviving them
    makes the collector run full passes over every live object (36-82 ms each in a 1M-row
    import), and each pass freezes the UI thread too. Nested and concurrent users are counted;
    the collector comes back when the last one leaves (if it was on to begin with).
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def gc_is_paused() -> bool:
    """True while bulk work has paused the collector (see `gc_paused`)."""
    return _gc_pausers > 0


def bulk_insert(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Any],
    *,
    staged: bool = False,
) -> None:
    """Driver-level executemany (SQLite) / COPY (PostgreSQL) inside the session's transaction.

    With `staged` on PostgreSQL the rows are copied into a temporary table first and moved over
    with one `INSERT ... SELECT`: the indexes of `table` (unique ones included) stay in place and
    are maintained set-wise, and readers of `table` never wait.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect.name
    raw = conn.connection.driver_connection
    if dialect == "sqlite":
        marks = ",".join("?" * len(columns))
        cur = raw.cursor()  # type: ignore[union-attr]
        cur.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)
        cur.close()
    elif dialect == "postgresql":
        names = ",".join(columns)
        target = f"stage_{table}" if staged else table
        with raw.cursor() as cur:  # type: ignore[union-attr]
            if staged:
                cur.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {target}"
                    f" (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
                )
            with cur.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            if staged:
                cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {target}")
                cur.execute(f"TRUNCATE {target}")
    else:  # any other SQLAlchemy backend: portable Core executemany
        from ...models import Base

        tbl = Base.metadata.tables[table]
        conn.execute(insert(tbl), [dict(zip(columns, r, strict=True)) for r in rows])


def reserve_ids(session: Session, table: str, count: int) -> int:
    """First id of a block of `count` explicit ids (the caller holds the write lock)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
        start = int(
            conn.execute(text(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")).scalar_one()
        )
        seq = conn.execute(text(f"SELECT pg_get_serial_sequence('{table}', 'id')")).scalar_one()
        if seq:
            conn.execute(text("SELECT setval(:s, :v)"), {"s": seq, "v": start + count})
        return start
    return int(conn.execute(text(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")).scalar_one())


def row_count_estimate(session: Session, table: str) -> int:
    """Cheap estimate of a table's row count (largest id on SQLite, planner stats on PostgreSQL)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        value = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}
        ).scalar()
        return max(0, int(value or 0))
    return int(conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one())


def _secondary_indexes(session: Session, table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the plain secondary indexes of `table` (not constraints)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "WHERE i.tablename = :t AND i.schemaname = current_schema() "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
            ),
            {"t": table},
        ).all()
    elif conn.dialect.name == "sqlite":
        rows = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"
            ),
            {"t": table},
        ).all()
    else:
        return []
    return [(str(n), str(s)) for n, s in rows]


@contextmanager
def deferred_indexes(
    session: Session,
    tables: Sequence[str],
    *,
    enabled: bool = True,
    columns: Sequence[str] = (),
) -> Iterator[None]:
    """Drop the secondary indexes of `tables`, run the block, rebuild them once (same transaction).

    Building an index over a million new rows once is about three times faster than maintaining
    it row by row. With `columns`, only the indexes that mention one of them are deferred (for a
    bulk UPDATE of those columns). Unique constraints stay, so duplicate protection never lapses.

    SQLite only (one user's file). On PostgreSQL this does nothing: a dropped index holds an
    exclusive lock on its table until commit, so every reader of a shared store would wait, and
    a dropped unique index would let duplicates in meanwhile.
    """
    conn = session.connection()
    if not enabled or conn.dialect.name != "sqlite":
        yield
        return
    saved: list[tuple[str, str]] = []
    for table in tables:
        saved.extend(_secondary_indexes(session, table))
    if columns:  # only the indexes a bulk UPDATE of these columns would have to maintain
        saved = [(n, sql) for n, sql in saved if any(c in sql for c in columns)]
    for name, _sql in saved:
        conn.execute(text(f"DROP INDEX {name}"))
    yield  # on an error the caller's transaction rolls back, restoring the dropped indexes
    for _name, sql in saved:
        conn.execute(text(sql))
