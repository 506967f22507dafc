"""Database: URL resolution, engine with SQLite pragmas, Alembic upgrade, session factory."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .errors import UserError
from .paths import migrations_dir

BUSY_TIMEOUT_MS = 10_000  # every SQLite connection waits this long for a lock

T = TypeVar("T")

ENV_VAR = "WORKSTATION_DB"


def default_db_path() -> Path:
    """The embedded SQLite file in the user's data directory."""
    return platformdirs.user_data_path("workstation", appauthor=False) / "workstation.db"


def resolve_url(url: str | None = None) -> str:
    """`--db URL`, else `$WORKSTATION_DB`, else the embedded SQLite file."""
    chosen = url or os.environ.get(ENV_VAR)
    if not chosen:
        path = default_db_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if chosen.startswith("postgresql://") or chosen.startswith("postgres://"):
        chosen = "postgresql+psycopg://" + chosen.split("://", 1)[1]
    return chosen


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Engine for `url` (see `resolve_url`); SQLite gets WAL, foreign keys and a busy timeout."""
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError as exc:
        raise UserError(f"not a database URL: {resolved!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            parent = Path(db).expanduser().resolve().parent
            if not parent.is_dir():
                raise UserError(f"folder for the database does not exist: {parent}")
        engine = create_engine(resolved, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(resolved, pool_pre_ping=True, **kwargs)


def alembic_config(engine: Engine) -> Any:
    """Alembic Config pointing at the shipped migrations folder."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (run on start and by `workstation init`)."""
    from alembic import command

    cfg = alembic_config(engine)
    try:
        if _at_head(engine, cfg):
            return  # the usual start: nothing to migrate, so no lock to wait for
        with engine.begin() as conn:
            _lock_for_migration(conn)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise UserError(f"cannot open the database {engine.url!r}: {exc.orig}") from exc


def _at_head(engine: Engine, cfg: Any) -> bool:
    """True when the schema already is at the newest migration (read without any lock)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads


MIGRATION_WAIT_SECONDS = 300.0
_MIGRATION_LOCK = 20_261_203  # advisory lock key on PostgreSQL (second key: the schema's hash)


def _lock_for_migration(conn: Any) -> None:
    """One process migrates at a time: two first starts on a new store would otherwise both
    create the tables ("table ... already exists"). The upgrade then runs in that transaction
    (SQLite and PostgreSQL both have transactional DDL), so the second process, once it holds
    the lock, finds the schema at head and does nothing."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK}, hashtext(current_schema()))"
        )
        return
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.driver_connection
    if raw is None:
        return
    begin_immediate(
        raw,
        MIGRATION_WAIT_SECONDS,
        gave_up=lambda: UserError(
            "another workstation process has been upgrading the database for over "
            f"{MIGRATION_WAIT_SECONDS:.0f} s; try again when it has finished"
        ),
    )


def begin_immediate(
    raw: sqlite3.Connection,
    wait: float,
    *,
    gave_up: Callable[[], Exception],
    on_wait: Callable[[], None] | None = None,
) -> None:
    """`BEGIN IMMEDIATE` on a SQLite driver connection: take the write lock up front, retrying
    while another writer holds it, for up to `wait` seconds (no-op inside a transaction).

    Args:
        gave_up: the error raised when the wait runs out.
        on_wait: called once, when the first try finds the database busy.
    """
    if raw.in_transaction:  # already writing (an earlier statement of this transaction)
        return
    deadline = time.monotonic() + wait
    told = False
    cur = raw.cursor()
    try:
        cur.execute("PRAGMA busy_timeout = 200")  # a short first try, so a wait is noticed
        while True:
            try:
                cur.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise gave_up() from exc
            if not told:
                told = True
                if on_wait is not None:
                    on_wait()
            left_ms = int(max(0.05, min(1.0, deadline - time.monotonic())) * 1000)
            cur.execute(f"PRAGMA busy_timeout = {left_ms}")
    finally:
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.close()


def is_empty(engine: Engine) -> bool:
    """True when the schema has no records yet (first start)."""
    from sqlalchemy import func, select

    from .models import Record

    if not inspect(engine).has_table("records"):
        return True
    with Session(engine) as s:
        return (s.scalar(select(func.count()).select_from(Record)) or 0) == 0


class Database:
    """An engine plus its session factory; one Session per user action or background task."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.engine = make_engine(url)
        if migrate:
            upgrade(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def connect_url(self) -> str:
        """The URL with its password, for a child process to open the same database."""
        return self.engine.url.render_as_string(hide_password=False)

    @property
    def shareable(self) -> bool:
        """Another process can open this database (not an in-memory SQLite one)."""
        return not (self.dialect == "sqlite" and self.engine.url.database in (None, "", ":memory:"))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A Session in one transaction: committed on success, rolled back on any error."""
        try:
            with self.sessions() as s, s.begin():
                yield s
        except IntegrityError as exc:
            _raise_if_lost_race(exc)
            raise

    def run(self, op: Callable[[Session], T], *, commit: bool = True) -> T:
        """`op(session)` in a Session of its own: committed when it returns (rolled back instead
        when `commit` is False, e.g. a dry run), rolled back when it raises."""
        with self.sessions() as session:
            try:
                result = op(session)
                if commit:
                    session.commit()
                else:
                    session.rollback()
                return result
            except IntegrityError as exc:
                session.rollback()
                _raise_if_lost_race(exc)
                raise
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


# The partial unique index that keeps a record in at most one live match (migration 0003).
_LIVE_MEMBER_INDEX = "ux_match_members_live_record"


def _raise_if_lost_race(exc: IntegrityError) -> None:
    """A clerk action that lost a race for a line to another user or a reconciliation run is
    the user's to retry (UserError), not a bug; any other integrity error stays one."""
    text = str(exc.orig)
    if _LIVE_MEMBER_INDEX in text or "match_members.record_id" in text:
        raise UserError(
            "a line in this action was matched meanwhile by someone else or by a reconciliation "
            "run; nothing was changed: reload and try again"
        ) from exc
