"""KPI queries (rollups, JSON method lookup, live states, bank dates) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from workstation.db import Database
from workstation.services.analytics import catalogue, rollups

from .handmade import MARCH, build


def test_kpis_agree_on_both_backends(any_db: Database) -> None:
    build(any_db)
    now = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)
    with any_db.session() as s:
        dash = catalogue.dashboard(s, *MARCH, now=now)
        assert rollups.ensure_rollups(s) == 0  # built (and kept) by the first call
    fees = {(r["psp"], r["method"]): r["rate"] for r in dash.fees.to_dict("records")}
    assert fees[("stripe", "visa")] == Decimal(800) / Decimal(30000)
    assert fees[("adyen", "visa")] == Decimal("0.03")
    lag = {r["psp"]: r for r in dash.lag.to_dict("records")}
    assert lag["stripe"]["capture_to_bank_p90"] == 6
    assert (dash.vamp[0].count, dash.vamp[0].settled) == (3, 3)
    assert (dash.ecp[0].chargebacks, dash.ecp[0].prior_transactions) == (2, 2)
    shop = dash.match_rate[dash.match_rate["source"] == "Shop"].iloc[0]
    assert (shop["records"], shop["reconciled"]) == (5, 3)
    assert dash.due["dispute_id"].tolist() == ["d2", "d10"]
    assert dash.throughput["resolved"].tolist() == [2, 1, 1]
