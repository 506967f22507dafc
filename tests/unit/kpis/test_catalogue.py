"""The metric catalogue: every entry is complete and computable on the hand-made store, rolls up
as it declares, and each tile, chart and sheet reads exactly the metrics that name it."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from workstation.db import Database
from workstation.services.analytics import catalogue, tiles, workbook
from workstation.services.analytics.catalogue import METRICS, Reader, Scope

from .handmade import MARCH

NOW = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)
SCOPE = Scope.of(*MARCH, now=NOW)
HEADLINE_KINDS = {"percent": "percent", "money": "money", "count": "count", "days": "days"}


def _frame(table: Any) -> pd.DataFrame:
    """A metric's table as a frame (monthly metrics are lists of dataclass rows)."""
    return table if isinstance(table, pd.DataFrame) else pd.DataFrame([vars(r) for r in table])


def _option_sets(metric: catalogue.Metric) -> list[dict[str, Any]]:
    names = list(metric.options)
    return [dict(zip(names, values)) for values in itertools.product(*metric.options.values())]


def _shown_by(surface: str, name: str) -> set[str]:
    """Metrics that declare they are shown on tile / chart / sheet `name`."""
    where = {"tile": lambda m: m.tile == name, "chart": lambda m: name in m.charts}
    where["sheet"] = lambda m: name in m.sheets
    return {m.name for m in METRICS.values() if where[surface](m)}


def _reached(seen: list[str]) -> set[str]:
    """Metrics whose table was read: by name, or through a metric computed the same way."""
    computes = {METRICS[n].compute for n in seen}
    return {m.name for m in METRICS.values() if m.compute in computes}


def test_every_entry_is_complete() -> None:
    tile_keys = [m.tile for m in METRICS.values() if m.tile]
    assert len(tile_keys) == len(set(tile_keys))
    for m in METRICS.values():
        assert m.label and m.description and m.unit in catalogue.UNITS, m.name
        assert m.rollup.by and m.rollup.adds, m.name
        assert m.rollup.money in (
            catalogue.PER_CURRENCY,
            catalogue.ONE_CURRENCY,
            catalogue.NO_AMOUNTS,
        )
        assert m.tile or m.charts or m.sheets, f"{m.name} is shown nowhere"
        assert set(m.charts) <= set(catalogue.CHARTS), m.name
        assert set(m.sheets) <= set(catalogue.SHEETS), m.name
        assert not m.thresholds or m.unit == "percent", m.name
        if m.rollup.money == catalogue.PER_CURRENCY:  # a row per currency, or per item
            assert "currency" in m.rollup.by or m.rollup.by == ("id",), m.name
    # every surface shows some metric
    assert all(_shown_by("chart", c) for c in catalogue.CHARTS)
    assert all(_shown_by("sheet", s) for s in catalogue.SHEETS)
    assert set(tiles.TILES) <= set(tile_keys)


@pytest.mark.parametrize("name", list(METRICS))
def test_every_metric_is_computable_and_rolls_up_as_declared(kpi_db: Database, name: str) -> None:
    metric = METRICS[name]
    with kpi_db.session() as s:
        for options in _option_sets(metric) or [{}]:
            df = _frame(catalogue.read(s, name, SCOPE, **options))
            assert len(df), (name, options)
            by = list(metric.rollup.by)
            assert set(by) <= set(df.columns), (name, options)
            assert not df.duplicated(by).any(), f"{name}: one row per {by}"
            if metric.rollup.money == catalogue.PER_CURRENCY:
                assert "currency" in df.columns, name
            if metric.rollup.money == catalogue.ONE_CURRENCY:
                assert df["amount_currency"].nunique() == 1
        with catalogue.reading(s, SCOPE) as read:
            head = read.headline(name)
        with pytest.raises(ValueError, match="takes no option"):
            catalogue.read(s, name, SCOPE, colour="blue")
    if metric.headline is not None:
        assert head is not None and head.label.startswith(metric.label)
        assert head.kind == HEADLINE_KINDS[metric.unit]
        assert head.value is not None


def _check_reads(kpi_db: Database, surface: str, name: str, build: Any) -> None:
    with kpi_db.session() as s, catalogue.reading(s, SCOPE) as read:
        build(read)
    declared = _shown_by(surface, name)
    assert set(read.seen) <= declared, f"{surface} {name} reads {read.seen}, declared {declared}"
    assert declared <= _reached(read.seen), f"{surface} {name} does not read {declared}"


@pytest.mark.parametrize("name", list(catalogue.CHARTS))
def test_each_chart_reads_the_metrics_that_name_it(kpi_db: Database, name: str) -> None:
    _check_reads(kpi_db, "chart", name, catalogue.CHARTS[name].build)


@pytest.mark.parametrize("key", list(tiles.TILES))
def test_each_tile_reads_the_metric_that_names_it(kpi_db: Database, key: str) -> None:
    _check_reads(kpi_db, "tile", key, tiles.TILES[key])


@pytest.mark.parametrize("title", list(catalogue.SHEETS))
def test_each_sheet_reads_the_metrics_that_name_it(kpi_db: Database, title: str) -> None:
    _check_reads(kpi_db, "sheet", title, lambda read: catalogue.SHEETS[title](read, title))


def test_dashboard_tiles_and_summary_follow_the_catalogue(kpi_db: Database) -> None:
    with kpi_db.session() as s, catalogue.reading(s, SCOPE) as read:
        shown = [t.key for t in tiles.build_tiles(read)]
        summary = workbook.summary(read.headlines())
    assert shown == [m.tile for m in METRICS.values() if m.tile]
    headlined = [m for m in METRICS.values() if m.headline]
    assert len(summary) == len(headlined)
    assert all(line.label.startswith(m.label) for line, m in zip(summary, headlined, strict=True))


def test_a_new_entry_with_a_headline_gets_a_tile_and_a_summary_line(kpi_db: Database) -> None:
    """Adding a KPI: one entry; without a tile builder of its own it gets the generic tile."""
    extra = {
        "fraud_share": replace(METRICS["vamp"], name="fraud_share", tile="fraud_share"),
        "disputes_won": replace(METRICS["win_rate"], name="disputes_won", tile="disputes_won"),
    }
    with kpi_db.session() as s:
        read = Reader(s, SCOPE, {**METRICS, **extra})
        by_key = {t.key: t for t in tiles.build_tiles(read)}
        labels = [h.label for h in read.headlines()]
    fraud, won = by_key["fraud_share"], by_key["disputes_won"]
    assert (fraud.value, fraud.status) == ("100.0 %", "alert")  # against the VAMP threshold
    assert fraud.drill == by_key["vamp"].drill
    assert (won.value, won.status, won.label) == ("50.0 %", "neutral", "Dispute win rate")
    assert won.tooltip == METRICS["win_rate"].description
    assert labels.count("Dispute win rate") == 2


def test_thresholds_are_the_scheme_limits() -> None:
    (vamp,) = METRICS["vamp"].thresholds
    assert vamp.at(dt.date(2026, 3, 1)) == Decimal("0.022")
    assert vamp.at(dt.date(2026, 4, 1)) == Decimal("0.015")
    assert not vamp.applies(1500) and vamp.applies(1501)
    ecm, hecm = METRICS["ecp"].thresholds
    assert (ecm.label, hecm.label) == ("ECM 1.5 %", "HECM 3.0 %")
    assert ecm.applies(100) and not hecm.applies(299)
