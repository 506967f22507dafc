"""Chart rendering: hover shows the exact values, a click asks for the queue behind the element,
and `workstation chart` writes print-resolution PNG and SVG for every chart."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from workstation.cli import main
from workstation.db import Database
from workstation.importers.base import AccountInfo, ParseResult, frame_from_rows
from workstation.models import Dispute
from workstation.services.analytics import catalogue
from workstation.services.analytics.catalogue import ChartData, Series
from workstation.services.imports.ingest import store
from workstation.views.charts.render import build_plot, export_chart

MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def _fill(db: Database) -> None:
    """A few charges, an open bank line and disputes: every chart has something to draw."""
    rows = [
        {
            "line_no": i,
            "account": "s",
            "external_id": f"ch_{i}",
            "booked_on": dt.date(2026, 3, i),
            "amount_minor": 1000 * i,
            "fee_minor": 30 * i,
            "currency": "EUR",
            "kind": "charge",
            "payout_ref": "po_1",
            "raw": {"card_brand": "visa" if i % 2 else "mastercard"},
        }
        for i in range(1, 6)
    ]
    with db.session() as s:
        store(
            s,
            ParseResult(
                "t", {"s": AccountInfo("s", "psp", "stripe", "Stripe EUR")}, frame_from_rows(rows)
            ),
            file_name="s.csv",
            sha256="s",
            actor="t",
        )
        for i, (net, cat, status) in enumerate(
            [("visa", "fraud", "won"), ("visa", "fraud", "lost"), ("mc", "consumer", "won")]
        ):
            s.add(
                Dispute(
                    psp="stripe",
                    psp_dispute_id=f"dp_{i}",
                    network=net,
                    reason_category=cat,
                    stage="chargeback",
                    status=status,
                    amount_minor=500,
                    currency="EUR",
                    opened_at=dt.datetime(2026, 3, 10 + i, tzinfo=dt.UTC),
                )
            )


@pytest.fixture
def chart_db(db: Database) -> Database:
    catalogue.clear_cache()
    _fill(db)
    return db


def _bars() -> ChartData:
    drill = [{"page": "disputes", "filters": {"reason_category": k}} for k in ("fraud", "other")]
    return ChartData(
        name="win_rate_by_category",
        title="Win rate",
        kind="bars",
        x=["fraud", "other"],
        x_labels=["fraud", "other"],
        y_label="win rate",
        y_format="percent",
        series=[
            Series(
                "Win rate",
                [Decimal("0.25"), Decimal("0.75")],
                ["fraud: 25.0 %", "other: 75.0 %"],
                drill,  # type: ignore[arg-type]
                "bar",
            )
        ],
    )


# pyqtgraph's scene turns press + release into its own click signal and leaves Qt's mouse events
# unaccepted, which QTest reports; the click itself is what the test checks.
@pytest.mark.qt_log_ignore("Mouse event .* not accepted", r"^This plugin does not support ")
def test_hover_and_click_on_a_bar(qtbot: Any) -> None:
    widget = build_plot("win_rate_by_category", _bars())
    qtbot.addWidget(widget)
    widget.resize(800, 500)
    widget.show()
    qtbot.waitExposed(widget)
    pos = widget.scene_pos_of(1.0, 0.5)  # inside the second bar (0 .. 0.75)
    widget._on_mouse_moved(pos)
    assert widget.hover_text == "other: 75.0 %"
    assert widget.toolTip() == "other: 75.0 %"
    widget._on_mouse_moved(widget.scene_pos_of(1.0, 0.9))  # above the bar: nothing
    assert widget.hover_text == ""
    view_pos = widget.mapFromScene(widget.scene_pos_of(0.0, 0.1))
    with qtbot.waitSignal(widget.element_clicked, timeout=2000) as blocker:
        qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=view_pos)
    assert blocker.args == [{"page": "disputes", "filters": {"reason_category": "fraud"}}]


def test_every_chart_builds_with_exact_hover_text(chart_db: Database, qtbot: Any) -> None:
    with chart_db.session() as s:
        datas = [catalogue.chart_data(s, n, *MARCH) for n in catalogue.chart_names()]
    for data in datas:
        widget = build_plot(data.name, data)
        qtbot.addWidget(widget)
        widget.resize(900, 560)
        widget.show()
        qtbot.waitExposed(widget)
        series = next(s for s in data.series if s.style != "threshold")
        i = next(
            k
            for k, v in enumerate(series.values)
            if v is not None and (v != 0 or data.kind == "timeseries")
        )
        if data.kind == "timeseries":
            x = (dt.datetime.combine(data.x[i], dt.time(), dt.UTC)).timestamp()
            pos = widget.scene_pos_of(x, float(series.values[i]))
        else:
            below = sum(
                float(s.values[i] or 0)
                for s in data.series[: data.series.index(series)]
                if data.kind == "stacked_bars"
            )
            width = 0.8 / len(data.series) if data.kind == "bars" and len(data.series) > 1 else 0
            pos = widget.scene_pos_of(i - width, below + float(series.values[i]) / 2)
        hit = widget.element_at(pos)
        assert hit is not None, data.name
        assert hit[0] in {label for s in data.series for label in s.labels}, data.name
        widget.close()


def test_cli_lists_and_writes_every_chart(
    chart_db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", chart_db.url, "chart", "--list", "--json"]) == 0
    listed = [c["name"] for c in json.loads(capsys.readouterr().out)["charts"]]
    assert listed == catalogue.chart_names()
    for name in listed:
        png, svg = tmp_path / f"{name}.png", tmp_path / f"{name}.svg"
        base = ["--db", chart_db.url, "chart", name, "--from", "2026-03-01", "--to", "2026-03-31"]
        assert main([*base, "--out", str(png), "--json"]) == 0
        payload = json.loads(capsys.readouterr().out)
        assert payload["bytes"] == png.stat().st_size > 10_000
        image = QImage(str(png))
        assert image.width() >= 2400 and image.height() > 1000, name
        assert main([*base, "--out", str(svg)]) == 0
        capsys.readouterr()
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg") and svg.stat().st_size > 5_000, name
    assert main(["--db", chart_db.url, "chart", "pie", "--out", str(tmp_path / "p.png")]) == 1
    assert "no chart named" in capsys.readouterr().err
    assert (
        main(["--db", chart_db.url, "chart", "match_rate", "--out", str(tmp_path / "x.gif")]) == 1
    )
    assert main(["--db", chart_db.url, "chart", "match_rate"]) == 1


def test_export_refuses_other_suffixes(qtbot: Any, tmp_path: Path) -> None:
    widget = build_plot("win_rate_by_category", _bars())
    qtbot.addWidget(widget)
    from workstation.errors import UserError

    with pytest.raises(UserError):
        export_chart(widget, tmp_path / "chart.jpg")
    out = export_chart(widget, tmp_path / "chart.png", width=1200)
    assert QImage(str(out)).width() == 1200


def test_set_data_redraws_and_long_series_downsample(qtbot: Any) -> None:
    widget = build_plot("win_rate_by_category", _bars())
    qtbot.addWidget(widget)
    widget.resize(800, 500)
    changed = _bars()
    changed.series[0].values = [Decimal("0.5"), Decimal("0.1")]
    changed.series[0].labels = ["fraud: 50.0 %", "other: 10.0 %"]
    widget.set_data(changed)
    assert widget.element_at(widget.scene_pos_of(0.0, 0.4)) == (
        "fraud: 50.0 %",
        {"page": "disputes", "filters": {"reason_category": "fraud"}},
    )
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(5000)]
    long = ChartData(
        name="match_rate",
        title="Match rate",
        kind="timeseries",
        x=days,
        x_labels=[d.isoformat() for d in days],
        y_label="rate",
        y_format="percent",
        series=[
            Series("All", [Decimal(i % 100) / 100 for i in range(5000)], [""] * 5000, [None] * 5000)
        ],
    )
    line = build_plot("match_rate", long)
    qtbot.addWidget(line)
    curve = line.getPlotItem().listDataItems()[0]
    assert curve.opts["autoDownsample"] and curve.opts["clipToView"]
    assert curve.opts["downsampleMethod"] == "peak"
