"""Helpers of the exceptions and matches page tests: a reconciled demo store, waits, lookups."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from workstation.db import Database
from workstation.services.common.users import ensure_user
from workstation.services.demo.merchant_month import load_demo
from workstation.services.reconcile import run, table_queries, why_not
from workstation.views.models.sql_table import ID_ROLE

WAIT = 10_000
ORDERS = 400


def build_store(path: Path, *, reconcile: bool = True) -> Path:
    """A demo month (400 orders), users tester and bob, reconciled once (or not)."""
    db = Database(f"sqlite:///{path}")
    with db.session() as s:
        ensure_user(s, "tester")
        ensure_user(s, "bob")
        load_demo(s, orders=ORDERS)
    if reconcile:
        with db.session() as s:
            run(s, actor="tester")
    db.dispose()
    return path


def copy_store(template: Path, target: Path) -> Database:
    shutil.copyfile(template, target)
    return Database(f"sqlite:///{target}")


def settle(ctx, qtbot) -> None:
    """Wait until every background task finished and its callback ran."""
    qtbot.waitUntil(lambda: not ctx.tasks.active(), timeout=WAIT)


def model_ids(model) -> list[int]:
    return [int(model.data(model.index(r, 0), ID_ROLE)) for r in range(model.rowCount())]


def open_pairs(db: Database, *, max_diff: int | None = None, min_diff: int = 0):
    """(row position, record id, candidate id) of unmatched records with an open candidate whose
    amount differs by min_diff..max_diff minor units, in table order."""
    out = []
    with db.session() as s:
        rows = table_queries.fetch_page(s, table_queries.ExceptionFilters(), None, None, 1000).rows
        for i, r in enumerate(rows):
            if r["state"] != "unmatched":
                continue
            for c in why_not.why_not(s, r["id"]).candidates:
                if c.state not in ("unmatched", "suggested"):
                    continue
                diff = abs(abs(c.amount_minor) - abs(r["amount_minor"]))
                if diff >= min_diff and (max_diff is None or diff <= max_diff):
                    out.append((i, int(r["id"]), int(c.record_id)))
                    break
    return out


def matched_candidate(db: Database) -> tuple[int, int, int] | None:
    """(record id, candidate id, its match id) of an open record whose candidate is matched."""
    with db.session() as s:
        rows = table_queries.fetch_page(s, table_queries.ExceptionFilters(), None, None, 1000).rows
        for r in rows:
            for c in why_not.why_not(s, r["id"]).candidates:
                if c.state == "matched" and c.match_id is not None:
                    return int(r["id"]), int(c.record_id), int(c.match_id)
    return None


def match_status(db: Database, match_id: int) -> str | None:
    with db.session() as s:
        rows = table_queries.rows_for_ids(s, table_queries.MatchFilters(), [match_id])
        return rows[0]["status"] if rows else None


def record_state(db: Database, record_id: int) -> str:
    with db.session() as s:
        rows = table_queries.rows_for_ids(s, table_queries.ExceptionFilters(), [record_id])
        return str(rows[0]["state"])


def row_of(model, record_id: int) -> dict[str, Any] | None:
    r = model.find_row(record_id, near=0)
    return None if r < 0 else model.row(r)
