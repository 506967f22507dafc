"""Chart data by name: series values, exact hover labels and the queue filter behind each point."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from workstation.db import Database
from workstation.errors import UserError
from workstation.services.analytics import catalogue, charts, periods

from .handmade import MARCH


def test_registry() -> None:
    assert catalogue.chart_names() == [
        "chargeback_ratio",
        "win_rate_by_category",
        "unmatched_ageing",
        "match_rate",
        "fees_by_psp",
    ]


def test_every_chart_has_consistent_series(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        for name in catalogue.chart_names():
            data = catalogue.chart_data(s, name, *MARCH)
            assert data.name == name and data.series and not data.is_empty()
            assert len(data.x) == len(data.x_labels)
            for series in data.series:
                assert len(series.values) == len(series.labels) == len(series.drill) == len(data.x)
                if series.style != "threshold":
                    assert all(
                        d is None or d["page"] in ("exceptions", "disputes", "matches")
                        for d in series.drill
                    )


def test_chargeback_ratio_points_and_thresholds(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        data = catalogue.chart_data(s, "chargeback_ratio", *MARCH)
    assert data.x[-1] == dt.date(2026, 3, 1) and len(data.x) == periods.TREND_MONTHS
    series = {s.name: s for s in data.series}
    assert series["Visa VAMP"].values[-1] == 1
    assert series["Visa VAMP"].labels[-1] == (
        "Visa VAMP Mar 2026: 100.000 % = (2 fraud reports + 1 disputes) / 3 settled"
    )
    assert series["Visa VAMP"].drill[-1] == {
        "page": "disputes",
        "filters": {"network": "visa", "opened_from": "2026-03-01", "opened_to": "2026-03-31"},
    }
    assert series["VAMP threshold"].style == "threshold"
    assert set(series["VAMP threshold"].values) == {Decimal("0.022")}
    assert set(series["HECM 3.0 %"].values) == {Decimal("0.03")}
    with kpi_db.session() as s:
        later = catalogue.chart_data(
            s, "chargeback_ratio", dt.date(2026, 4, 1), dt.date(2026, 4, 30)
        )
    assert {s.name: s for s in later.series}["VAMP threshold"].values[-1] == Decimal("0.015")


def test_unmatched_ageing_drill(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        data = catalogue.chart_data(s, "unmatched_ageing", *MARCH)
    assert data.x == ["0-2", "3-7", "8-30", ">30"] and data.kind == "stacked_bars"
    adyen = next(s for s in data.series if s.name == "Adyen EUR")
    assert adyen.values == [Decimal("0.00"), Decimal("0.00"), Decimal("350.00"), Decimal("0.00")]
    assert adyen.labels[2] == "Adyen EUR, 8-30 days: 350.00 EUR open (2 lines)"
    assert adyen.drill[2] == {
        "page": "exceptions",
        "filters": {"age_bucket": "8-30", "source": "Adyen EUR", "currency": "EUR"},
    }
    assert data.currency == "EUR"


def test_win_rate_fees_and_match_rate(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        win = catalogue.chart_data(s, "win_rate_by_category", *MARCH)
        fees = catalogue.chart_data(s, "fees_by_psp", *MARCH)
        rate = catalogue.chart_data(s, "match_rate", *MARCH)
    w = dict(zip(win.x, win.series[0].values, strict=True))
    assert w["fraud"] == Decimal(1) / Decimal(3) and w["consumer_dispute"] is None
    i = win.x.index("fraud")
    assert win.series[0].labels[i] == "fraud: win rate 33.3 % (1 won / 3 decided; 4 disputes)"
    assert win.series[0].drill[i]["filters"]["reason_category"] == "fraud"
    f = dict(zip(fees.x, fees.series[0].values, strict=True))
    assert f == {"adyen": Decimal("0.03"), "stripe": Decimal(2000) / Decimal(35000)}
    assert "20.00 EUR fees on 350.00 EUR gross" in fees.series[0].labels[fees.x.index("stripe")]
    assert rate.title == "Match rate by day"
    shop = next(s for s in rate.series if s.name == "Shop")
    day = rate.x.index(dt.date(2026, 3, 20))
    assert shop.values[day] == 0
    assert shop.drill[day] == {
        "page": "exceptions",
        "filters": {"source": "Shop", "booked_from": "2026-03-20", "booked_to": "2026-03-20"},
    }
    assert rate.series[-1].name == "All sources"


def test_bad_requests(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        with pytest.raises(UserError, match="no chart named"):
            catalogue.chart_data(s, "pie", *MARCH)
        with pytest.raises(UserError, match="before it starts"):
            catalogue.chart_data(s, "match_rate", MARCH[1], MARCH[0])


def test_percent_display() -> None:
    assert charts.fmt_percent(Decimal("0.0123456")) == "1.23 %"
    assert charts.fmt_percent(Decimal("0.022"), 1) == "2.2 %"
    assert charts.fmt_percent(None) == "n/a"
