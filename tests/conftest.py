"""Shared fixtures: databases (SQLite in tmp_path; PostgreSQL when reachable) and sample paths."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("WORKSTATION_USER", "tester")

from sqlalchemy import create_engine, text

from workstation.db import Database

REPO = Path(__file__).resolve().parent.parent
SAMPLES = (REPO.parent / "shared" / "samples").resolve()
REFERENCE = (REPO.parent / "shared" / "reference").resolve()
PG_ADMIN_URL = os.environ.get(
    "WORKSTATION_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_reachable() -> bool:
    try:
        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return True
    except Exception:
        return False


PG_OK = _pg_reachable()
if os.environ.get("WORKSTATION_REQUIRE_POSTGRES") and not PG_OK:
    raise RuntimeError("PostgreSQL at 127.0.0.1:5432 (database test) is required but unreachable")


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is not present")
    return SAMPLES


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'ws.db'}")
    yield db
    db.dispose()


@pytest.fixture
def pg_db() -> Iterator[Database]:
    """A fresh schema in the `test` database, dropped afterwards."""
    if not PG_OK:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL)
    with admin.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    db = Database(url)
    yield db
    db.dispose()
    with admin.begin() as c:
        c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The storage suite runs on both backends."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'ws.db'}")
        yield db
        db.dispose()
    else:
        yield request.getfixturevalue("pg_db")


@pytest.fixture
def db(sqlite_db: Database) -> Database:
    return sqlite_db
