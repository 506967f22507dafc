"""Storage on SQLite and PostgreSQL: migrations without drift, append-only audit, CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from workstation.cli import main
from workstation.db import Database
from workstation.models import Base
from workstation.services.common import audit


def test_migrations_match_orm(any_db: Database) -> None:
    with any_db.engine.connect() as conn:
        mc = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(mc, Base.metadata)
    assert diff == []


def test_audit_log_is_append_only(any_db: Database) -> None:
    with any_db.session() as s:
        audit.log(s, "tester", "probe", "thing", 1, {"x": 1})
    with pytest.raises(DatabaseError), any_db.session() as s:
        s.execute(text("UPDATE audit_events SET actor = 'mallory'"))
    with pytest.raises(DatabaseError), any_db.session() as s:
        s.execute(text("DELETE FROM audit_events"))
    with any_db.session() as s:
        assert s.execute(text("SELECT actor FROM audit_events")).scalar_one() == "tester"


def test_sqlite_pragmas(sqlite_db: Database) -> None:
    with sqlite_db.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert c.execute(text("PRAGMA busy_timeout")).scalar() == 10000


def test_cli_init_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["--db", url, "init", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["status"] == "ready" and payload["dialect"] == "sqlite"


def test_cli_user_error_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--db", f"sqlite:///{tmp_path}/missing/dir/x.db", "init"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1


def test_cli_usage_error_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "workstation", "--db", f"sqlite:///{tmp_path}/x.db", "nosuch"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_migration_0002_moves_raw_lines_out_of_records(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from workstation.db import alembic_config
    from workstation.models import Record

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            text(
                "INSERT INTO sources (id, name, kind, created_at)"
                " VALUES (1, 'Bank', 'bank', '2026-10-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO import_batches (id, file_name, sha256, format, imported_by,"
                " imported_at, status, rows_total, rows_new, rows_duplicate, rows_problem,"
                " masked_pans)"
                " VALUES (1, 'f', 'x', 'csv', 't', '2026-10-01', 'committed', 2, 2, 0, 0, 0)"
            )
        )
        for rid, raw in ((1, '{"line": "a,b"}'), (2, None)):
            conn.execute(
                text(
                    "INSERT INTO records (id, source_id, batch_id, fingerprint, occurrence,"
                    " booked_on, amount_minor, currency, direction, kind, match_state, raw)"
                    " VALUES (:id, 1, 1, :id, 1, '2026-10-01', 100, 'EUR', 'credit',"
                    " 'bank_credit', 'unmatched', :raw)"
                ),
                {"id": rid, "raw": raw},
            )
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")  # upgrades to head on open
    assert "raw" not in {c["name"] for c in inspect(db.engine).get_columns("records")}
    with db.session() as s:
        assert s.get(Record, 1).raw == {"line": "a,b"}
        assert s.get(Record, 2).raw is None
    db.dispose()
