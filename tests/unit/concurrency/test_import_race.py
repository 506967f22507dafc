"""Imports racing each other in separate processes: every row once, one source, no traceback."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from workstation.db import Database
from workstation.services.common.write_lock import WAIT_ENV, WAITING, begin_write

from .helpers import count, start_cli, stderr_of, stdout_of, wait_until_waiting

ROWS = 300


def orders_file(folder: Path, n: int, rows: int = ROWS) -> Path:
    """An order export with `rows` orders of its own (ids ORD-n-...)."""
    path = folder / f"orders_{n}.csv"
    lines = ["Order ID,Date,Total,Currency"]
    lines += [
        f"ORD-{n}-{i:06d},2026-10-{1 + i % 28:02d},{1 + i % 500}.{i % 100:02d},EUR"
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _counts(db: Database) -> tuple[int, int, int]:
    with db.sessions() as s:
        return (
            count(s, "SELECT COUNT(*) FROM records"),
            count(s, "SELECT COUNT(*) FROM sources"),
            count(s, "SELECT COUNT(*) FROM import_batches WHERE status = 'committed'"),
        )


def test_racing_first_imports_wait_and_store_everything_once(
    any_db: Database, tmp_path: Path
) -> None:
    files = [orders_file(tmp_path, n) for n in range(4)]
    files.append(files[0])  # the same file twice at once: stored once
    logs = [tmp_path / f"imp{i}" for i in range(len(files))]
    with any_db.sessions() as holder:  # all of them surely overlap: all wait for the test first
        begin_write(holder)
        procs = [
            start_cli(any_db.connect_url, ["import", str(f)], log)
            for f, log in zip(files, logs, strict=True)
        ]
        wait_until_waiting(logs)
        holder.rollback()
    codes = [p.wait(timeout=240) for p in procs]
    errs = [stderr_of(p) for p in logs]
    assert codes == [0] * len(files), errs
    assert not any("Traceback" in e for e in errs)
    reports = [json.loads(stdout_of(p))["files"][0] for p in logs]
    assert sorted(r["new"] for r in reports) == [0, ROWS, ROWS, ROWS, ROWS]
    assert sum(r["already_imported"] for r in reports) == 1
    assert _counts(any_db) == (4 * ROWS, 1, 4)


def test_racing_imports_without_a_holder(any_db: Database, tmp_path: Path) -> None:
    files = [orders_file(tmp_path, n) for n in range(3)]
    logs = [tmp_path / f"free{i}" for i in range(len(files))]
    procs = [
        start_cli(any_db.connect_url, ["import", str(f)], log)
        for f, log in zip(files, logs, strict=True)
    ]
    codes = [p.wait(timeout=240) for p in procs]
    errs = [stderr_of(p) for p in logs]
    assert codes == [0, 0, 0], errs
    assert not any("Traceback" in e for e in errs)
    assert _counts(any_db) == (3 * ROWS, 1, 3)


def test_a_wait_that_gives_up_is_a_clear_error(any_db: Database, tmp_path: Path) -> None:
    path = orders_file(tmp_path, 9)
    log = tmp_path / "late"
    with any_db.sessions() as holder:
        begin_write(holder)
        proc = start_cli(any_db.connect_url, ["import", str(path)], log, env={WAIT_ENV: "1"})
        code = proc.wait(timeout=120)
        holder.rollback()
    err = stderr_of(log)
    assert code == 1, err
    assert WAITING in err
    assert "error: another import or reconciliation run has been writing" in err
    assert "Traceback" not in err
    assert _counts(any_db) == (0, 0, 0)
    reconcile_log = tmp_path / "late_run"
    with any_db.sessions() as holder:
        begin_write(holder)
        proc = start_cli(any_db.connect_url, ["reconcile"], reconcile_log, env={WAIT_ENV: "1"})
        code = proc.wait(timeout=120)
        holder.rollback()
    assert code == 1 and "Traceback" not in stderr_of(reconcile_log)
    with any_db.sessions() as s:
        assert count(s, "SELECT COUNT(*) FROM audit_events WHERE action = 'reconcile.run'") == 0


def test_the_service_reports_the_wait_through_progress(any_db: Database, tmp_path: Path) -> None:
    """What the GUI shows: the import's progress callable hears the wait, then the import runs."""
    import multiprocessing
    import threading
    import time

    from workstation.services.imports.file_import import import_file

    path = orders_file(tmp_path, 5)
    heard: list[str] = []
    ctx = multiprocessing.get_context("spawn")
    holder = ctx.Process(target=_hold_lock, args=(any_db.connect_url, tmp_path / "held", 2.0))
    holder.start()
    deadline = time.monotonic() + 60
    while not (tmp_path / "held").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    result: dict[str, int] = {}

    def work() -> None:
        with any_db.sessions() as s:
            rep = import_file(s, path, actor="t", progress=lambda d, t, m: heard.append(m))
            s.commit()
            result["new"] = rep.new

    t = threading.Thread(target=work)
    t.start()
    t.join(120)
    holder.join(60)
    assert heard and heard[0] == WAITING
    assert result["new"] == ROWS
    assert _counts(any_db) == (ROWS, 1, 1)


def _hold_lock(url: str, flag: Path, seconds: float) -> None:
    """In another process: hold the store's write lock for `seconds`."""
    import time

    db = Database(url, migrate=False)
    with db.sessions() as s:
        begin_write(s)
        flag.write_text("held")
        time.sleep(seconds)
        s.rollback()
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store nobody has opened yet: no tables, no migrations applied."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    admin_url = os.environ.get(
        "WORKSTATION_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as c:
            c.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    yield f"{admin_url}?options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_first_starts_on_a_new_store_migrate_once(fresh_url: str, tmp_path: Path) -> None:
    """Several processes opening a brand-new store at once: one creates the schema, the others
    wait for it and find it done ("table already exists" never reaches anyone)."""
    files = [orders_file(tmp_path, n, rows=50) for n in range(4)]
    logs = [tmp_path / f"first{i}" for i in range(len(files))]
    procs = [
        start_cli(fresh_url, ["import", str(f)], log) for f, log in zip(files, logs, strict=True)
    ]
    codes = [p.wait(timeout=240) for p in procs]
    errs = [stderr_of(p) for p in logs]
    assert codes == [0] * len(files), errs
    assert not any("Traceback" in e or "already exists" in e for e in errs)
    db = Database(fresh_url)
    try:
        assert _counts(db) == (4 * 50, 1, 4)
    finally:
        db.dispose()
