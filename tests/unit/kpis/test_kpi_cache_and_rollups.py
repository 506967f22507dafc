"""Rollups are built once per batch and kept; the KPI cache follows the data version."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text

from workstation.db import Database
from workstation.importers.base import AccountInfo, ParseResult, frame_from_rows
from workstation.models import KpiRollup
from workstation.services.analytics import catalogue, reconciliation, rollups, settlement
from workstation.services.analytics.cache import CACHE
from workstation.services.imports.file_import import undo_batch
from workstation.services.imports.ingest import store

from .handmade import MARCH


def _shop_count(db: Database) -> int:
    with db.session() as s:
        df = reconciliation.match_rate(s, *MARCH)
    return int(df.loc[df["source"] == "Shop", "records"].iloc[0])


def test_rollups_are_built_once_and_kept(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        assert rollups.ensure_rollups(s) == 4  # the four import batches
    with kpi_db.session() as s:
        assert rollups.ensure_rollups(s) == 0
        assert s.scalar(select(func.count()).select_from(KpiRollup)) > 0
        span = rollups.data_span(s)
    assert span == (dt.date(2026, 2, 10), dt.date(2026, 3, 29))


def test_cache_hits_until_the_data_changes(kpi_db: Database) -> None:
    cache = CACHE
    assert _shop_count(kpi_db) == 5
    misses = cache.misses
    assert _shop_count(kpi_db) == 5
    assert cache.misses == misses and cache.hits >= 1
    rows = [
        {
            "line_no": 1,
            "account": "shop",
            "external_id": "ORD-7",
            "booked_on": dt.date(2026, 3, 30),
            "amount_minor": 500,
            "currency": "EUR",
            "kind": "order",
        }
    ]
    result = ParseResult(
        "test", {"shop": AccountInfo("shop", "ledger", None, "Shop")}, frame_from_rows(rows)
    )
    with kpi_db.session() as s:
        batch = store(s, result, file_name="more.csv", sha256="more", actor="tester").batch_id
    assert _shop_count(kpi_db) == 6  # a new batch: new version, its rollup is built
    with kpi_db.session() as s:
        undo_batch(s, batch, actor="tester")
    assert _shop_count(kpi_db) == 5  # undone batches drop out at once


def test_match_state_changes_are_seen_live(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        before = reconciliation.match_rate(s, *MARCH)
    with kpi_db.session() as s:
        s.execute(text("UPDATE records SET match_state = 'matched' WHERE external_id = 'ORD-4'"))
    catalogue.clear_cache()  # a raw UPDATE bypasses the audit trail that moves the data version
    with kpi_db.session() as s:
        after = reconciliation.match_rate(s, *MARCH)
    shop = lambda df: df[df["source"] == "Shop"].iloc[0]  # noqa: E731
    assert (shop(before)["reconciled"], shop(after)["reconciled"]) == (3, 4)


def test_dashboard_pins_one_version(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        catalogue.dashboard(s, *MARCH)
        misses = CACHE.misses
        catalogue.dashboard(s, *MARCH)
    assert CACHE.misses == misses


def test_methods_from_malformed_raw_do_not_break_rollups(db: Database) -> None:
    rows = [
        {
            "line_no": 1,
            "account": "s",
            "external_id": "ch_x",
            "booked_on": dt.date(2026, 3, 2),
            "amount_minor": 1000,
            "currency": "EUR",
            "kind": "charge",
            "raw": "not json {",
        }
    ]
    result = ParseResult(
        "test", {"s": AccountInfo("s", "psp", "stripe", "Stripe EUR")}, frame_from_rows(rows)
    )
    with db.session() as s:
        store(s, result, file_name="x.csv", sha256="x", actor="tester")
    with db.session() as s:
        fees = settlement.fees(s, *MARCH)
    assert fees["method"].tolist() == ["all"] and fees["gross_minor"].tolist() == [1000]
