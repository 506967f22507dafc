"""A big import on PostgreSQL: readers never wait, the unique fingerprint index stays throughout."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from workstation.db import Database

from .helpers import start_cli, stderr_of, stdout_of
from .test_import_race import orders_file

pytestmark = pytest.mark.postgres
ROWS = 60_000  # above the size where SQLite rebuilds indexes once (ingest._DEFER_INDEXES_AT)


def test_big_import_keeps_indexes_and_readers_move(pg_db: Database, tmp_path: Path) -> None:
    path = orders_file(tmp_path, 1, rows=ROWS)
    reader = create_engine(pg_db.connect_url)
    log = tmp_path / "big"
    slowest = 0.0
    polls = during_write = 0
    index_seen: list[bool] = []
    with reader.connect() as conn:
        conn.execute(text("SET lock_timeout = '5s'"))  # a blocked read fails instead of hanging
        conn.commit()
        proc = start_cli(pg_db.connect_url, ["import", str(path)], log)
        while proc.poll() is None:
            t = time.perf_counter()
            conn.execute(text("SELECT COUNT(*) FROM records")).scalar_one()
            conn.execute(
                text("SELECT id FROM records WHERE match_state = 'unmatched' LIMIT 50")
            ).all()
            slowest = max(slowest, time.perf_counter() - t)
            index_seen.append(
                conn.execute(
                    text(
                        "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema()"
                        " AND indexname = 'uq_records_source_fp'"
                    )
                ).scalar_one()
                == 1
            )
            # the importer's transaction is writing records right now
            during_write += (
                conn.execute(
                    text(
                        "SELECT COUNT(*) FROM pg_locks WHERE relation = 'records'::regclass"
                        " AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
                > 0
            )
            conn.commit()
            polls += 1
            time.sleep(0.02)
        stored = conn.execute(text("SELECT COUNT(*) FROM records")).scalar_one()
        indexes = {
            r[0]
            for r in conn.execute(
                text(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'records'"
                    " AND schemaname = current_schema()"
                )
            )
        }
    reader.dispose()
    print(
        f"{polls} reads during the import, {during_write} while it wrote; slowest {slowest:.3f} s"
    )
    assert proc.returncode == 0, stderr_of(log)
    assert json.loads(stdout_of(log))["new"] == ROWS
    assert stored == ROWS
    assert during_write >= 3, (polls, during_write)  # the reads really overlapped the write
    assert all(index_seen) and polls == len(index_seen)
    assert slowest < 1.0, slowest
    assert {"uq_records_source_fp", "ix_records_state_booked"} <= indexes
