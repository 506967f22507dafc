"""Dashboard data: tile statuses against thresholds, drill filters scoped to the dashboard's
filters, and the bundle the page draws (tiles, charts, choices) for the demo month."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from workstation.db import Database
from workstation.services.analytics import catalogue
from workstation.services.analytics.dashboard import TILE_KEYS, load_dashboard, scoped_drill
from workstation.services.analytics.tiles import _status
from workstation.services.demo.merchant_month import load_demo
from workstation.services.reconcile import engine


@pytest.mark.parametrize(
    ("ratio", "reached", "status"),
    [
        (None, False, "neutral"),
        (Decimal("0.0149"), False, "warn"),
        (Decimal("0.01125"), False, "warn"),  # exactly three quarters of 1.5 %
        (Decimal("0.0112"), False, "ok"),
        (Decimal("0.015"), False, "alert"),
        (Decimal("0.001"), True, "alert"),  # a level reached (e.g. ECM by count) is an alert
    ],
)
def test_ratio_status_against_threshold(ratio: Decimal | None, reached: bool, status: str) -> None:
    assert _status(ratio, Decimal("0.015"), reached) == status


def test_scoped_drill_adds_the_dashboard_filters() -> None:
    ageing = {"page": "exceptions", "filters": {"age_bucket": "3-7", "currency": "EUR"}}
    assert scoped_drill(ageing, sources=["Stripe EUR"], as_of=dt.date(2026, 10, 31)) == {
        "page": "exceptions",
        "filters": {
            "age_bucket": "3-7",
            "currency": "EUR",
            "source": "Stripe EUR",
            "as_of": "2026-10-31",
        },
    }
    # the drill's own source wins; several accounts cannot be one filter
    own = {"page": "exceptions", "filters": {"source": "Bank"}}
    assert scoped_drill(own, sources=["Stripe EUR"])["filters"] == {"source": "Bank"}  # type: ignore[index]
    assert scoped_drill(own, sources=["A", "B"])["filters"] == {"source": "Bank"}  # type: ignore[index]
    due = {"page": "disputes", "filters": {"due_within_days": 7}}
    assert scoped_drill(due, psps=["stripe"]) == {
        "page": "disputes",
        "filters": {"due_within_days": 7, "psp": "stripe"},
    }
    assert scoped_drill(due, sources=["Stripe EUR"])["filters"] == {"due_within_days": 7}  # type: ignore[index]
    assert scoped_drill(None, psps=["stripe"]) is None
    assert due == {"page": "disputes", "filters": {"due_within_days": 7}}  # not changed in place


@pytest.fixture
def demo(db: Database) -> Database:
    catalogue.clear_cache()
    with db.session() as s:
        load_demo(s, orders=400)
    with db.session() as s:
        engine.run(s, actor="tester")
    return db


def test_load_dashboard_for_the_demo_month(demo: Database) -> None:
    progress: list[tuple[int, int, str]] = []
    with demo.session() as s:
        view = load_dashboard(
            s, today=dt.date(2026, 11, 23), progress=lambda *a: progress.append(a)
        )
    assert (view.date_from, view.date_to, view.as_of) == (
        dt.date(2026, 10, 1),
        dt.date(2026, 10, 31),
        dt.date(2026, 10, 31),
    )
    assert [t.key for t in view.tiles] == list(TILE_KEYS)
    assert list(view.charts) == catalogue.chart_names()
    assert view.choices.months[:2] == [dt.date(2026, 11, 1), dt.date(2026, 10, 1)]
    assert view.choices.psps == ["adyen", "stripe"]
    assert "Stripe EUR" in view.choices.sources
    tiles = {t.key: t for t in view.tiles}
    assert tiles["match_rate"].value.endswith(" %")
    assert tiles["unmatched_value"].value.endswith(" EUR")
    assert tiles["vamp"].status in ("ok", "warn", "alert")
    assert tiles["ecp"].value == "n/a" and tiles["ecp"].status == "neutral"
    assert tiles["due_7d"].drill == {"page": "disputes", "filters": {"due_within_days": 7}}
    ageing = view.charts["unmatched_ageing"]
    drills = [d for s in ageing.series for d in s.drill if d]
    assert drills and all(d["filters"]["as_of"] == "2026-10-31" for d in drills)
    assert progress[-1][0] == progress[-1][1] and progress[-1][2] == "Done"


def test_load_dashboard_with_filters_and_a_custom_period(demo: Database) -> None:
    with demo.session() as s:
        view = load_dashboard(
            s,
            dt.date(2026, 10, 1),
            dt.date(2026, 10, 10),
            sources=["Stripe EUR"],
            psps=["Stripe"],
            today=dt.date(2026, 10, 5),
        )
    assert view.as_of == dt.date(2026, 10, 5)  # ages count from today inside the period
    assert view.sources == ("Stripe EUR",) and view.psps == ("stripe",)
    match = view.charts["match_rate"]
    assert [s.name for s in match.series] == ["Stripe EUR"]
    assert all(d["filters"]["source"] == "Stripe EUR" for s in match.series for d in s.drill if d)
    fees = view.charts["fees_by_psp"]
    assert fees.x == ["stripe"]
    assert fees.series[0].drill[0]["filters"]["psp"] == "stripe"  # type: ignore[index]
    tiles = {t.key: t for t in view.tiles}
    assert tiles["win_rate"].drill["filters"]["psp"] == "stripe"  # type: ignore[index]
