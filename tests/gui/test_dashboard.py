"""Dashboard page on the demo month: tiles, charts, hover, drill-down to the queues, export."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from workstation.db import Database
from workstation.services.analytics import catalogue
from workstation.services.demo.merchant_month import load_demo
from workstation.services.reconcile import engine
from workstation.views.dashboard import chart_card
from workstation.views.pages.dashboard import DashboardPage

LOAD_TIMEOUT = 30_000


@pytest.fixture
def demo_db(db: Database) -> Database:
    """The demo month (400 orders), reconciled: exceptions, matches and disputes to show."""
    catalogue.clear_cache()
    with db.session() as s:
        load_demo(s, orders=400)
    with db.session() as s:
        engine.run(s, actor="tester")
    return db


@pytest.fixture
def dashboard(demo_db: Database, main_window: Any, qtbot: Any) -> DashboardPage:
    main_window.resize(1400, 900)
    page = main_window.show_page("dashboard")
    assert isinstance(page, DashboardPage)
    qtbot.waitUntil(lambda: page.view is not None and not page.computing, timeout=LOAD_TIMEOUT)
    qtbot.wait(20)  # let the layout settle so chart geometry is final
    return page


def _number(text: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", text))


def test_tiles_show_the_headline_numbers(dashboard: DashboardPage) -> None:
    view = dashboard.view
    assert view is not None
    assert (view.date_from.isoformat(), view.date_to.isoformat()) == ("2026-10-01", "2026-10-31")
    tiles = dashboard.tiles.tiles
    assert set(tiles) >= {
        "match_rate",
        "match_value",
        "unmatched_value",
        "vamp",
        "ecp",
        "win_rate",
        "recovery_rate",
        "due_7d",
        "fees",
    }
    assert tiles["match_rate"].value.text().endswith("%")
    assert 50 < _number(tiles["match_rate"].value.text()) <= 100
    assert tiles["unmatched_value"].value.text().endswith("EUR")
    assert _number(tiles["unmatched_value"].value.text()) > 0
    assert re.fullmatch(r"\d+", tiles["due_7d"].value.text())
    # the VAMP tile is coloured against its threshold
    assert tiles["vamp"].property("status") in ("ok", "warn", "alert")
    assert all(t.isVisible() for t in tiles.values())
    # the period picker shows the month computed
    assert dashboard.filters.month.currentText() == "October 2026"


def test_every_chart_is_drawn(dashboard: DashboardPage) -> None:
    assert list(dashboard.cards) == [
        "chargeback_ratio",
        "win_rate_by_category",
        "unmatched_ageing",
        "match_rate",
        "fees_by_psp",
    ]
    for card in dashboard.cards.values():
        assert card.isVisible() and card.chart.height() >= 150
        assert not card.data.is_empty(), card.name
        assert card.title.text() == card.data.title
    assert "Adyen" in dashboard.cards["unmatched_ageing"].legend.text()


def _ageing_bar(card: chart_card.ChartCard) -> tuple[Any, dict]:
    """Scene position of the middle of the first non-empty ageing bar, and its drill."""
    data = card.data
    base = [0.0] * len(data.x)
    for s in data.series:
        for i, v in enumerate(s.values):
            h = float(v or 0)
            if h > 0 and s.drill[i]:
                return card.chart.scene_pos_of(float(i), base[i] + h / 2), s.drill[i]
            base[i] += h
    raise AssertionError("no bar to click")


def test_hover_shows_the_exact_value(dashboard: DashboardPage) -> None:
    card = dashboard.cards["unmatched_ageing"]
    pos, _drill = _ageing_bar(card)
    card.chart.scene().sigMouseMoved.emit(pos)
    text = dashboard.hover.text()
    assert re.search(r"days: [\d,]+\.\d\d EUR open \(\d+ lines\)", text), text
    assert card.chart.toolTip() == text


def test_clicking_a_bar_opens_the_filtered_exceptions(
    dashboard: DashboardPage, main_window: Any, app_ctx: Any, qtbot: Any, monkeypatch: Any
) -> None:
    card = dashboard.cards["unmatched_ageing"]
    pos, drill = _ageing_bar(card)
    target = main_window.page("exceptions")
    applied: list[dict] = []
    monkeypatch.setattr(target, "apply_filters", applied.append, raising=False)
    view_pos = card.chart.mapFromScene(pos)
    with (
        qtbot.waitSignal(dashboard.drill_requested) as drilled,
        qtbot.waitSignal(app_ctx.navigate_requested) as navigated,
    ):
        qtbot.mouseClick(card.chart.viewport(), Qt.MouseButton.LeftButton, pos=view_pos)
    filters = drilled.args[0]["filters"]
    assert drilled.args[0]["page"] == "exceptions"
    assert filters["age_bucket"] in ("0-2", "3-7", "8-30", ">30")
    assert filters["source"] == drill["filters"]["source"] and filters["currency"] == "EUR"
    assert filters["as_of"] == "2026-10-31"  # ages were counted from the period's end
    assert navigated.args == ["exceptions", filters]
    assert main_window.current_page_key() == "exceptions"
    assert main_window.stack.currentWidget() is target
    assert applied == [filters]


def test_clicking_a_tile_opens_the_disputes_due(
    dashboard: DashboardPage, main_window: Any, app_ctx: Any, qtbot: Any
) -> None:
    tile = dashboard.tiles.tiles["due_7d"]
    disputes = main_window.page("disputes")
    with qtbot.waitSignal(app_ctx.navigate_requested) as navigated:
        qtbot.mouseClick(tile, Qt.MouseButton.LeftButton)
    assert navigated.args == ["disputes", {"due_within_days": 7}]
    assert main_window.current_page_key() == "disputes"
    assert main_window.stack.currentWidget() is disputes


def test_chargeback_point_drills_to_visa_disputes(dashboard: DashboardPage, qtbot: Any) -> None:
    card = dashboard.cards["chargeback_ratio"]
    data = card.data
    vamp = data.series[0]
    i = max(i for i, v in enumerate(vamp.values) if v is not None)
    from workstation.views.charts.render import _ts

    hit = card.chart.element_at(card.chart.scene_pos_of(_ts(data.x[i]), float(vamp.values[i])))
    assert hit is not None and hit[1] is not None
    assert hit[1]["filters"]["network"] == "visa"
    with qtbot.waitSignal(dashboard.drill_requested) as drilled:
        card.chart.element_clicked.emit(hit[1])
    assert drilled.args[0]["page"] == "disputes"
    assert drilled.args[0]["filters"]["opened_from"] == "2026-10-01"


def test_export_chart_png_and_svg(
    dashboard: DashboardPage, tmp_path: Path, monkeypatch: Any
) -> None:
    card = dashboard.cards["win_rate_by_category"]
    targets = iter([tmp_path / "win_rate.png", tmp_path / "win_rate"])  # suffix added for SVG
    monkeypatch.setattr(
        chart_card.QFileDialog,
        "getSaveFileName",
        staticmethod(lambda *a, **k: (str(next(targets)), "")),
    )
    card.export_png_action.trigger()
    card.export_svg_action.trigger()
    png, svg = tmp_path / "win_rate.png", tmp_path / "win_rate.svg"
    assert png.stat().st_size > 10_000
    image = QImage(str(png))
    assert image.width() >= 2400
    assert svg.stat().st_size > 1000
    assert ET.parse(svg).getroot().tag.endswith("svg")


def test_period_change_and_data_change_recompute(
    dashboard: DashboardPage, app_ctx: Any, qtbot: Any
) -> None:
    import datetime as dt

    with qtbot.waitSignal(dashboard.loaded, timeout=LOAD_TIMEOUT) as loaded:
        dashboard.filters.set_custom_range(dt.date(2026, 10, 1), dt.date(2026, 10, 15))
    assert dashboard.busy.isHidden()
    view = loaded.args[0]
    assert (view.date_from, view.date_to) == (dt.date(2026, 10, 1), dt.date(2026, 10, 15))
    assert view.charts["match_rate"].period == (dt.date(2026, 10, 1), dt.date(2026, 10, 15))
    assert dashboard.cards["match_rate"].data is view.charts["match_rate"]
    assert dashboard.filters.date_from.isVisible()
    with qtbot.waitSignal(dashboard.loaded, timeout=LOAD_TIMEOUT):
        app_ctx.changed("disputes")
    with qtbot.waitSignal(dashboard.loaded, timeout=LOAD_TIMEOUT) as loaded:
        dashboard.filters.psp.setCurrentIndex(dashboard.filters.psp.findData("stripe"))
    assert loaded.args[0].psps == ("stripe",)
    assert dashboard.tiles.tiles["due_7d"].tile.drill == {
        "page": "disputes",
        "filters": {"due_within_days": 7, "psp": "stripe"},
    }


def test_empty_database_shows_placeholders(main_window: Any, qtbot: Any) -> None:
    catalogue.clear_cache()
    page = main_window.show_page("dashboard")
    qtbot.waitUntil(lambda: page.view is not None and not page.computing, timeout=LOAD_TIMEOUT)
    assert page.tiles.tiles["match_rate"].value.text() == "n/a"
    assert all(card.data.is_empty() for card in page.cards.values())
