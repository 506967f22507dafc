"""A dashboard chart with a 1M-point series renders, pans, zooms and hovers within generous bounds.

The targets (first render <= 100 ms, >= 30 fps) are measured by bench/bench_charts.py on an idle
machine; here the bounds are loose enough for a busy CI runner but still catch a regression to
drawing every point (hundreds of ms a frame) or a per-point Python loop on hover (seconds).
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import numpy as np

from workstation.services.analytics.catalogue import ChartData, Series
from workstation.views.charts.render import _ts, build_plot

POINTS = 1_000_000


def series_data(points: int) -> ChartData:
    """A daily ratio random walk of `points` values plus a threshold line."""
    walk = np.cumsum(np.random.default_rng(3).normal(0.0, 1.0, points))
    walk = (walk - walk.min()) / (walk.max() - walk.min()) * 0.03
    start = dt.date(2000, 1, 1)
    days = [start + dt.timedelta(days=i) for i in range(points)]
    labels = [f"p{i}" for i in range(points)]
    return ChartData(
        name="million",
        title="1M points",
        kind="timeseries",
        x=days,
        x_labels=[""] * points,
        y_label="ratio",
        y_format="percent",
        series=[
            Series(
                "ratio", [Decimal(int(v * 1e6)) / 1_000_000 for v in walk], labels, [None] * points
            ),
            Series(
                "limit", [Decimal("0.015")] * points, [""] * points, [None] * points, "threshold"
            ),
        ],
    )


def test_million_point_series_renders_and_pans(qtbot: Any) -> None:
    data = series_data(POINTS)
    started = time.perf_counter()
    widget = build_plot(data.name, data)
    built = time.perf_counter() - started
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    started = time.perf_counter()
    widget.show()
    qtbot.waitExposed(widget)
    widget.viewport().repaint()
    first = time.perf_counter() - started

    vb = widget.getPlotItem().getViewBox()
    (x0, x1), (y0, y1) = vb.viewRange()
    started = time.perf_counter()
    for _ in range(10):
        vb.translateBy(x=(x1 - x0) / 40)
        widget.viewport().repaint()
    pan = (time.perf_counter() - started) / 10
    started = time.perf_counter()
    for step in (0.5, 0.5, 2.0, 2.0):
        vb.scaleBy(x=step)
        widget.viewport().repaint()
    zoom = (time.perf_counter() - started) / 4
    (nx0, nx1), _ = vb.viewRange()
    assert nx0 > x0  # the view really moved

    pos = widget.scene_pos_of((nx0 + nx1) / 2, float(np.mean([y0, y1])))
    started = time.perf_counter()
    hit = widget.element_at(pos)
    hover = time.perf_counter() - started

    # any point is found under the mouse, with its own label
    mid = POINTS // 2
    value = float(data.series[0].values[mid])  # type: ignore[arg-type]
    vb.setXRange(_ts(data.x[mid - 50]), _ts(data.x[mid + 50]), padding=0)
    exact = widget.element_at(widget.scene_pos_of(_ts(data.x[mid]), value))
    assert exact == (f"p{mid}", None)

    assert built < 10.0, f"building the plot took {built:.2f} s"
    assert first < 1.5, f"first render took {first * 1000:.0f} ms"
    assert pan < 0.25, f"a pan frame took {pan * 1000:.0f} ms"
    assert zoom < 0.25, f"a zoom frame took {zoom * 1000:.0f} ms"
    assert hover < 0.1, f"a hover lookup took {hover * 1000:.0f} ms"
    assert hit is None or isinstance(hit[0], str)
