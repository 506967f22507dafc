"""Benchmark: a dashboard chart with a 1M-point series: build, first render, pan/zoom and hover.

Draws a `ChartData` time series of `--points` daily values (a random walk of ratios, plus a
threshold line) with the dashboard's `build_plot`, off screen at 1200x700, and measures:
- build: ChartData -> ChartWidget (Decimal -> float, curves, hover index);
- first render: show + the first full paint of the plot;
- pan and zoom: frames per second of `translateBy` / `scaleBy` steps, each followed by a paint;
- hover: one `element_at` lookup (what every mouse move costs).
Targets (../shared/PERFORMANCE.md): first render <= 100 ms, pan/zoom >= 30 fps.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_charts.py [--points 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from workstation.services.analytics.catalogue import ChartData, Series
from workstation.views.charts.render import build_plot, ensure_app

SIZE = (1200, 700)
FRAMES = 30


def series_data(points: int, seed: int = 5) -> ChartData:
    """A daily ratio series of `points` values with a constant threshold line."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0.0, 1.0, points))
    walk = (walk - walk.min()) / max(1e-9, float(walk.max() - walk.min())) * 0.03
    start = dt.date(2000, 1, 1)
    days = [start + dt.timedelta(days=i) for i in range(points)]
    values: list[Decimal | None] = [Decimal(int(v * 1_000_000)) / 1_000_000 for v in walk]
    labels = [""] * points
    return ChartData(
        name="bench",
        title=f"{points:,} points",
        kind="timeseries",
        x=days,
        x_labels=labels,
        y_label="ratio",
        y_format="percent",
        series=[
            Series("ratio", values, labels, [None] * points),
            Series("threshold", [Decimal("0.015")] * points, labels, [None] * points, "threshold"),
        ],
    )


def measure(data: ChartData) -> dict[str, float]:
    app = ensure_app()
    t = time.perf_counter()
    widget = build_plot(data.name, data)
    build = time.perf_counter() - t
    widget.resize(*SIZE)
    t = time.perf_counter()
    widget.show()
    app.processEvents()
    widget.viewport().repaint()
    first = time.perf_counter() - t
    vb = widget.getPlotItem().getViewBox()
    (x0, x1), _ = vb.viewRange()
    step = (x1 - x0) / 50
    t = time.perf_counter()
    for _ in range(FRAMES):
        vb.translateBy(x=step)
        widget.viewport().repaint()
    pan = FRAMES / (time.perf_counter() - t)
    t = time.perf_counter()
    for i in range(FRAMES):
        vb.scaleBy(x=0.8 if i < FRAMES // 2 else 1.25)
        widget.viewport().repaint()
    zoom = FRAMES / (time.perf_counter() - t)
    (x0, x1), (y0, y1) = vb.viewRange()
    hover = []
    for f in np.linspace(0.1, 0.9, 9):
        pos = widget.scene_pos_of(x0 + (x1 - x0) * f, (y0 + y1) / 2)
        t = time.perf_counter()
        widget.element_at(pos)
        hover.append(time.perf_counter() - t)
    widget.close()
    widget.deleteLater()
    app.processEvents()
    return {
        "build_ms": build * 1000,
        "first_render_ms": first * 1000,
        "pan_fps": pan,
        "zoom_fps": zoom,
        "hover_ms": statistics.median(hover) * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    t = time.perf_counter()
    data = series_data(args.points)
    prep = time.perf_counter() - t
    runs = [measure(data) for _ in range(args.repeat)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"# Chart with {args.points:,} points (median of {args.repeat}; data prep {prep:.2f} s)")
    print()
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| build (ChartData -> widget) | {med['build_ms']:.0f} ms | |")
    print(f"| first render | {med['first_render_ms']:.0f} ms | <= 100 ms |")
    print(f"| pan | {med['pan_fps']:.0f} fps | >= 30 fps |")
    print(f"| zoom | {med['zoom_fps']:.0f} fps | >= 30 fps |")
    print(f"| hover lookup | {med['hover_ms']:.2f} ms | |")


if __name__ == "__main__":
    main()
