"""KPI test fixtures: the hand-made store (see handmade.py) and a cold KPI cache per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workstation.db import Database
from workstation.services.analytics import catalogue

from .handmade import build


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    catalogue.clear_cache()
    yield
    catalogue.clear_cache()


@pytest.fixture
def kpi_db(db: Database) -> Database:
    build(db)
    return db
