"""pyqtgraph plots of dashboard chart data, shared by the dashboard page and `workstation chart`.

`build_plot(name, data)` turns a `services.analytics.catalogue.ChartData` into a `ChartWidget`
(a PlotWidget): time series as lines (threshold series dashed, drawn as monthly steps), bars and
stacked bars with category ticks, a percent or money axis, a legend, hover tooltips with the exact
values the service formatted, and `element_clicked(drill)` when the user clicks a point or bar
(the dashboard opens the queue behind it). Lines downsample (peak) and clip to the view, so a
million-point series stays smooth. `export_chart` writes PNG (pyqtgraph's ImageExporter,
>= 2400 px wide: print resolution) or SVG (vector, through Qt's SVG generator).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph import exporters
from PySide6.QtCore import QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QFont, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QGraphicsItem, QToolTip

from ...errors import UserError
from ...services.analytics.catalogue import ChartData, Series, chart_data

PALETTE = ("#2F5597", "#C0504D", "#4E9A06", "#8064A2", "#E08A00", "#2AA1B3", "#7F6000", "#B4456E")
THRESHOLD_COLORS = ("#D62728", "#FF7F0E", "#7F0000", "#9467BD")
PRINT_WIDTH = 2400  # px: a 20 cm wide figure at 300 dpi
HOVER_PIXELS = 24  # how close the mouse must be to a point for its tooltip
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _ts(day: dt.date) -> float:
    return (dt.datetime.combine(day, dt.time(), dt.UTC) - _EPOCH).total_seconds()


def _next_month(day: dt.date) -> dt.date:
    if day.year == dt.MAXYEAR and day.month == 12:  # a stored 9999-12 date: the calendar ends
        return dt.date.max
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _floats(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _timestamps(days: list[Any]) -> np.ndarray:
    """Seconds since 1970 (UTC midnight) of a list of dates, vectorised for long series."""
    if not days:
        return np.zeros(0, dtype=np.float64)
    # Same as `_ts` (midnight UTC of the date part) for dates and datetimes alike.
    ordinals = np.fromiter((d.toordinal() for d in days), dtype=np.int64, count=len(days))
    return (ordinals - _EPOCH.date().toordinal()).astype(np.float64) * 86400.0


class _PointSet:
    """Hoverable points of one series as arrays (hit-testing a million points stays cheap)."""

    def __init__(
        self, x: np.ndarray, y: np.ndarray, labels: list[str], drill: list[dict | None]
    ) -> None:
        keep = np.flatnonzero(~np.isnan(y))
        self.x, self.y, self.index = x[keep], y[keep], keep
        self.labels, self.drill = labels, drill
        self.sorted = bool(len(self.x) < 2 or np.all(np.diff(self.x) >= 0))

    def nearest(
        self, vx: float, vy: float, ax: float, ay: float, radius: float
    ) -> tuple[float, int] | None:
        """(scene distance, series index) of the point nearest view position (vx, vy), if within
        `radius` scene pixels; `ax`/`ay` are scene pixels per view unit on each axis."""
        x, y = self.x, self.y
        if self.sorted and ax:
            half = radius / abs(ax)
            lo = int(np.searchsorted(x, vx - half, side="left"))
            hi = int(np.searchsorted(x, vx + half, side="right"))
            x, y, offset = x[lo:hi], y[lo:hi], lo
        else:
            offset = 0
        if not len(x):
            return None
        d = np.hypot(ax * (x - vx), ay * (y - vy))
        best = float(d.min())
        if best > radius:
            return None
        ties = np.flatnonzero(d == best) + offset
        pick = next((int(i) for i in ties if self.drill[self.index[i]]), int(ties[0]))
        return best, int(self.index[pick])


class PercentAxis(pg.AxisItem):
    """Left axis for fractions shown as percentages."""

    def tickStrings(self, values, scale, spacing):
        places = 0 if spacing * 100 >= 1 else 1 if spacing * 100 >= 0.1 else 2
        return [f"{v * 100:.{places}f} %" for v in values]


class MoneyAxis(pg.AxisItem):
    """Left axis for money in major units, with thousands separators."""

    def tickStrings(self, values, scale, spacing):
        places = 0 if spacing >= 1 else 2
        return [f"{v:,.{places}f}" for v in values]


class ChartWidget(pg.PlotWidget):
    """One dashboard chart; emits `element_clicked(drill)` for the point or bar clicked."""

    element_clicked = Signal(dict)
    hovered = Signal(str)

    def __init__(self, data: ChartData, parent=None) -> None:
        left = (
            PercentAxis("left")
            if data.y_format == "percent"
            else MoneyAxis("left")
            if data.y_format == "money"
            else pg.AxisItem("left")
        )
        axes: dict[str, pg.AxisItem] = {"left": left}
        if data.kind == "timeseries":
            axes["bottom"] = pg.DateAxisItem(orientation="bottom", utcOffset=0)
        super().__init__(parent=parent, background="w", axisItems=axes)
        self.data = data
        self.hover_text = ""
        self._points: list[_PointSet] = []  # hoverable points, one set per series
        self._bars: list[tuple[float, float, float, float, str, dict | None]] = []
        self.setObjectName(f"chart_{data.name}")
        self.setMouseTracking(True)
        self._draw()
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    def set_data(self, data: ChartData) -> None:
        """Redraw with new data of the same chart (the dashboard's period or filter changed)."""
        if data.name != self.data.name:
            raise ValueError(f"data is for chart {data.name!r}, not {self.data.name!r}")
        item = self.getPlotItem()
        if item.legend is not None:
            item.legend.clear()
        item.clear()
        self._points.clear()
        self._bars.clear()
        self.hover_text = ""
        self.data = data
        self._draw()

    # -- drawing ---------------------------------------------------------------------------
    def _draw(self) -> None:
        data = self.data
        item = self.getPlotItem()
        item.setTitle(data.title, color="#202020", size="13pt")
        item.showGrid(x=False, y=True, alpha=0.25)
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen("#404040"))
            axis.setTextPen(pg.mkPen("#202020"))
        item.setLabel("left", data.y_label, color="#202020")
        item.getAxis("left").enableAutoSIPrefix(False)  # percent/money axes format their own ticks
        item.setMenuEnabled(False)
        if item.legend is None:
            item.addLegend(
                offset=(10, 10),
                labelTextColor="#202020",
                labelTextSize="10pt",
                brush=pg.mkBrush(255, 255, 255, 200),
            )
        if data.kind == "timeseries":
            self._draw_lines()
        else:
            self._draw_bars(stacked=data.kind == "stacked_bars")
        if data.is_empty():
            text = pg.TextItem("No data for this period", color="#808080", anchor=(0.5, 0.5))
            item.addItem(text)
            text.setPos(0, 0)

    def _draw_lines(self) -> None:
        item = self.getPlotItem()
        xa = _timestamps(self.data.x)
        colour = 0
        threshold = 0
        monthly = 1 < len(self.data.x) <= 10_000 and all(d.day == 1 for d in self.data.x)
        arrays = []
        for s in self.data.series:
            y = _floats(s.values)
            arrays.append(y)
            if s.style == "threshold":
                pen = pg.mkPen(
                    THRESHOLD_COLORS[threshold % len(THRESHOLD_COLORS)],
                    width=2,
                    style=Qt.PenStyle.DashLine,
                )
                threshold += 1
                sx, sy = self._steps(xa.tolist(), y, monthly)
                curve = pg.PlotDataItem(sx, sy, pen=pen, name=s.name, connect="finite")
            else:
                color = PALETTE[colour % len(PALETTE)]
                colour += 1
                curve = pg.PlotDataItem(
                    xa,
                    y,
                    pen=pg.mkPen(color, width=2.5),
                    # no markers for long series, nor for empty ones (nothing to mark)
                    symbol="o" if len(xa) <= 400 and not np.isnan(y).all() else None,
                    symbolSize=7,
                    symbolBrush=pg.mkBrush(color),
                    symbolPen=pg.mkPen("w"),
                    name=s.name,
                    connect="finite",
                )
                self._points.append(_PointSet(xa, y, s.labels, s.drill))
            item.addItem(curve)  # before the options below, which look up the view box
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            if s.style == "threshold":
                # thresholds are hoverable at each of their steps too
                self._points.append(_PointSet(xa, y, s.labels, [None] * len(s.labels)))
        if len(xa):
            pad = 86_400 * (15 if monthly else 1)
            lo, hi = float(np.min(xa)), float(np.max(xa))
            item.setXRange(lo - pad, hi + pad * (2 if monthly else 1), padding=0)
        self._fit_y(arrays=arrays)

    def _steps(
        self, xs: list[float], y: np.ndarray, monthly: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Step coordinates: each value holds from its x to the next x (a month if monthly)."""
        if not xs:
            return np.array([]), np.array([])
        ends = [*xs[1:], _ts(_next_month(self.data.x[-1])) if monthly else xs[-1] + 86400]
        sx = np.empty(2 * len(xs))
        sy = np.empty(2 * len(xs))
        sx[0::2], sx[1::2] = xs, ends
        sy[0::2], sy[1::2] = y, y
        return sx, sy

    def _draw_bars(self, stacked: bool) -> None:
        item = self.getPlotItem()
        n = len(self.data.x)
        series = [s for s in self.data.series if s.style != "threshold"]
        width = 0.7 if stacked or len(series) <= 1 else 0.8 / len(series)
        base = np.zeros(n)
        for k, s in enumerate(series):
            y = np.nan_to_num(_floats(s.values), nan=0.0)
            color = PALETTE[k % len(PALETTE)]
            if stacked:
                x = np.arange(n, dtype=np.float64)
                y0 = base.copy()
                base = base + y
            else:
                offset = (k - (len(series) - 1) / 2) * width
                x = np.arange(n, dtype=np.float64) + offset
                y0 = np.zeros(n)
            bars = pg.BarGraphItem(
                x=x,
                y0=y0,
                height=y,
                width=width,
                brush=pg.mkBrush(color),
                pen=pg.mkPen("w"),
                name=s.name,
            )
            item.addItem(bars)
            for i in range(n):
                if s.values[i] is not None:
                    self._bars.append(
                        (
                            x[i] - width / 2,
                            x[i] + width / 2,
                            y0[i],
                            y0[i] + y[i],
                            s.labels[i],
                            s.drill[i],
                        )
                    )
        axis = item.getAxis("bottom")
        axis.setTicks([[(i, label) for i, label in enumerate(self.data.x_labels)]])
        item.setXRange(-0.6, max(n - 0.4, 0.6), padding=0)
        self._fit_y(stacked_tops=base if stacked else None)

    def _fit_y(
        self, stacked_tops: np.ndarray | None = None, arrays: list[np.ndarray] | None = None
    ) -> None:
        if arrays is None:
            arrays = [_floats(s.values) for s in self.data.series]
        arrays = list(arrays)
        if stacked_tops is not None and len(stacked_tops):
            arrays.append(np.asarray(stacked_tops, dtype=np.float64))
        finite = [a[np.isfinite(a)] for a in arrays]
        values = [float(f(a)) for a in finite if len(a) for f in (np.min, np.max)]
        top = max([0.0, *values])
        low = min([0.0, *values])
        if top == low:
            top = low + (0.01 if self.data.y_format == "percent" else 1.0)
        top *= 1.12
        if self.data.y_format == "percent" and max(values, default=0.0) <= 1.0:
            top = min(top, 1.05)  # a rate never needs room above 105 %
        self.getPlotItem().setYRange(low, top, padding=0)

    # -- interaction -----------------------------------------------------------------------
    def element_at(self, scene_pos: QPointF) -> tuple[str, dict | None] | None:
        """The label and drill of the point or bar under a scene position, if any."""
        vb = self.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        view = vb.mapSceneToView(scene_pos)
        for x0, x1, y0, y1, label, drill in self._bars:
            lo, hi = min(y0, y1), max(y0, y1)
            if x0 <= view.x() <= x1 and lo <= view.y() <= hi:
                return label, drill
        # The view box maps without rotation: scene = a * view + b on each axis.
        (x0, x1), (y0, y1) = vb.viewRange()
        s0 = vb.mapViewToScene(QPointF(x0, y0))
        s1 = vb.mapViewToScene(QPointF(x1, y1))
        ax = (s1.x() - s0.x()) / (x1 - x0) if x1 != x0 else 0.0
        ay = (s1.y() - s0.y()) / (y1 - y0) if y1 != y0 else 0.0
        best: tuple[float, bool, str, dict | None] | None = None
        for points in self._points:
            hit = points.nearest(view.x(), view.y(), ax, ay, HOVER_PIXELS)
            if hit is None:
                continue
            d, i = hit
            drill = points.drill[i]
            if best is None or d < best[0] or (d == best[0] and drill and not best[1]):
                best = (d, bool(drill), points.labels[i], drill)
        return (best[2], best[3]) if best else None

    def _on_mouse_moved(self, pos: QPointF) -> None:
        hit = self.element_at(pos)
        text = hit[0] if hit else ""
        if text != self.hover_text:
            self.hover_text = text
            self.setToolTip(text)
            if text:
                QToolTip.showText(self.mapToGlobal(self.mapFromScene(pos)), text, self)
            else:
                QToolTip.hideText()
            self.hovered.emit(text)

    def _on_mouse_clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        hit = self.element_at(event.scenePos())
        if hit and hit[1]:
            self.element_clicked.emit(hit[1])

    def scene_pos_of(self, x: float, y: float) -> QPointF:
        """Scene position of a data coordinate (tests drive hover and clicks with it)."""
        return self.getPlotItem().getViewBox().mapViewToScene(QPointF(x, y))


def build_plot(name: str, data: ChartData, parent=None) -> ChartWidget:
    """The plot for chart `name` drawn from `data` (the dashboard page embeds it)."""
    if data.name != name:
        raise ValueError(f"data is for chart {data.name!r}, not {name!r}")
    return ChartWidget(data, parent)


def ensure_app() -> QApplication:
    """A QApplication for rendering; offscreen when there is no display."""
    app = QApplication.instance()
    if app is None:
        if (
            sys.platform.startswith("linux")
            and not os.environ.get("DISPLAY")
            and not os.environ.get("WAYLAND_DISPLAY")
        ):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication(sys.argv[:1])
    return app  # type: ignore[return-value]


def export_chart(widget: ChartWidget, path: Path, *, width: int = PRINT_WIDTH) -> Path:
    """Write the chart to `path`: PNG at `width` pixels (print resolution) or SVG."""
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise UserError("chart file name must end in .png or .svg", file=str(path))
    if not path.parent.is_dir():
        raise UserError("folder does not exist", file=str(path.parent))
    QApplication.processEvents()
    if suffix == ".png":
        _export_png(widget, path, width)
    else:
        _export_svg(widget, path)
    if not path.is_file() or path.stat().st_size == 0:
        raise UserError("the chart could not be written", file=str(path))
    return path


def _export_png(widget: ChartWidget, path: Path, width: int) -> None:
    """PNG through pyqtgraph's ImageExporter (it scales pens, symbols and axis text with the
    picture), with the legend made to scale too: it ignores transformations so that it keeps its
    size when the view zooms, which would leave it at screen size, unreadable at print width."""
    legend = widget.getPlotItem().legend
    ignores = QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations
    fixed = legend is not None and bool(legend.flags() & ignores)
    if fixed:
        legend.setFlag(ignores, False)
    try:
        exporter = exporters.ImageExporter(widget.getPlotItem())
        exporter.parameters()["width"] = int(width)
        exporter.parameters()["antialias"] = True
        exporter.export(str(path))
    finally:
        if fixed:
            legend.setFlag(ignores, True)


def _export_svg(widget: ChartWidget, path: Path) -> None:
    """Vector SVG of the whole chart through Qt's SVG generator.

    pyqtgraph 0.14's SVGExporter cannot parse the closed paths ("... Z") Qt 6 writes for the
    plot's clip rectangle (pyqtgraph issue #3495), so the widget is painted straight into a
    QSvgGenerator: the same vector output, without the exporter's coordinate rewrite.
    """
    size = widget.size()
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QSize(size.width(), size.height()))
    generator.setViewBox(QRect(0, 0, size.width(), size.height()))
    generator.setTitle(widget.data.title)
    generator.setDescription(f"{widget.data.name} chart")
    painter = QPainter(generator)
    try:
        widget.render(painter)
    finally:
        painter.end()


def render_to_file(
    data: ChartData, path: Path, *, width: int = PRINT_WIDTH, size: tuple[int, int] = (1200, 720)
) -> Path:
    """Build the plot of `data` off screen and export it (the CLI's `chart` command)."""
    ensure_app()
    widget = build_plot(data.name, data)
    try:
        # Lay the widget out at its print size without putting a window on anyone's screen.
        widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        widget.resize(*size)
        widget.show()
        font = QFont()
        font.setPointSize(10)
        for side in ("left", "bottom"):
            widget.getPlotItem().getAxis(side).setTickFont(font)
        QApplication.processEvents()
        return export_chart(widget, path, width=width)
    finally:
        widget.close()
        widget.deleteLater()
        QApplication.processEvents()


def render_chart(
    session: Any, name: str, path: Path, date_from: dt.date, date_to: dt.date, **filters: Any
) -> Path:
    """Compute chart `name` for the period and write it to `path`."""
    return render_to_file(chart_data(session, name, date_from, date_to, **filters), path)


__all__ = [
    "ChartWidget",
    "Series",
    "build_plot",
    "ensure_app",
    "export_chart",
    "render_chart",
    "render_to_file",
]
