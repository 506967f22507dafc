"""A dashboard chart in a card: title and Export menu above the plot, legend and note below it.

On the dashboard the plot's own title and legend are replaced by Qt labels around it, so a small
card never has a legend covering its bars or a clipped title. Exports draw the same data again
as a full-size figure (title and legend inside the picture) through `render.render_to_file`,
which writes it with `export_chart` at print resolution (PNG 2400 px wide, or SVG).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
)

from ...errors import UserError
from ...services.analytics.catalogue import ChartData
from .. import messages
from ..charts.render import PRINT_WIDTH, ChartWidget, build_plot, render_to_file

FILTERS = {".png": "PNG image (*.png)", ".svg": "SVG vector image (*.svg)"}
EXPORT_SIZE = (1200, 720)  # px the figure is laid out at before it is scaled to PRINT_WIDTH
CARD_STYLE = """
QFrame#chart_card { background: #ffffff; border: 1px solid #d9dee5; border-radius: 6px; }
QLabel#chart_title { color: #1f2a37; font-weight: 600; font-size: 10pt; }
QLabel#chart_legend { color: #3b424b; font-size: 8pt; }
QLabel#chart_note { color: #6b7480; font-size: 8pt; }
QToolButton#chart_export {
    border: 1px solid #d5dce6; border-radius: 4px; background: #f6f8fb; padding: 1px 6px;
}
QToolButton#chart_export:hover { background: #e8eef6; }
"""


def legend_html(chart: ChartWidget) -> str:
    """The plot's legend entries as one line of coloured marks and names (rich text)."""
    legend = chart.getPlotItem().legend
    if legend is None:
        return ""
    parts = []
    for sample, label in legend.items:
        item = sample.item
        opts = getattr(item, "opts", {})
        if isinstance(item, pg.BarGraphItem):
            color, mark = pg.mkBrush(opts.get("brush")).color(), "■"
        else:
            pen = pg.mkPen(opts.get("pen"))
            dashed = pen.style() != Qt.PenStyle.SolidLine
            color, mark = pen.color(), "╍╍" if dashed else "━━"
        parts.append(
            f'<span style="color:{color.name()}; font-weight:bold">{mark}</span>&nbsp;'
            f"{escape(label.text).replace(' ', '&nbsp;')}"
        )
    return " &nbsp;&nbsp; ".join(parts)


class ChartCard(QFrame):
    """Holds one ChartWidget; re-emits its clicks and hovers, exports it on request."""

    element_clicked = Signal(dict)
    hovered = Signal(str)
    exported = Signal(str)  # path written

    def __init__(self, data: ChartData, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("chart_card")
        self.setStyleSheet(CARD_STYLE)
        self.name = data.name
        self.title = QLabel()
        self.title.setObjectName("chart_title")
        self.chart: ChartWidget = build_plot(data.name, data, self)
        self.chart.setObjectName(f"chart_{data.name}")
        self.chart.setMinimumHeight(170)
        self.chart.element_clicked.connect(self.element_clicked)
        self.chart.hovered.connect(self.hovered)
        self.chart.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.chart.customContextMenuRequested.connect(self._context_menu)
        self.legend = QLabel()
        self.legend.setObjectName("chart_legend")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.note = QLabel()
        self.note.setObjectName("chart_note")
        self.note.setWordWrap(True)

        self.export_png_action = QAction("Export PNG (print resolution)…", self)
        self.export_png_action.triggered.connect(lambda: self.export_dialog(".png"))
        self.export_svg_action = QAction("Export SVG…", self)
        self.export_svg_action.triggered.connect(lambda: self.export_dialog(".svg"))
        self.menu = QMenu(self)
        self.menu.addAction(self.export_png_action)
        self.menu.addAction(self.export_svg_action)
        self.export_button = QToolButton()
        self.export_button.setObjectName("chart_export")
        self.export_button.setText("Export")
        self.export_button.setToolTip(f"Save the chart as PNG ({PRINT_WIDTH} px wide) or SVG")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setMenu(self.menu)
        self.export_button.setCursor(Qt.CursorShape.PointingHandCursor)

        head = QHBoxLayout()
        head.setContentsMargins(10, 6, 6, 0)
        head.addWidget(self.title, 1)
        head.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)
        foot = QVBoxLayout()
        foot.setContentsMargins(10, 0, 10, 6)
        foot.setSpacing(1)
        foot.addWidget(self.legend)
        foot.addWidget(self.note)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(1, 1, 1, 1)
        layout.setSpacing(2)
        layout.addLayout(head)
        layout.addWidget(self.chart, 1)
        layout.addLayout(foot)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._dress(data)

    # -- data ------------------------------------------------------------------------------------
    def set_data(self, data: ChartData) -> None:
        self.chart.set_data(data)
        self._dress(data)

    def _dress(self, data: ChartData) -> None:
        """Move the plot's title and legend into the card's labels."""
        item = self.chart.getPlotItem()
        item.setTitle(None)
        if item.legend is not None:
            item.legend.setVisible(False)
        self.title.setText(data.title)
        self.title.setToolTip(data.title)
        html = legend_html(self.chart)
        self.legend.setText(html)
        self.legend.setVisible(bool(html) and len(item.legend.items) > 1)
        self.note.setText(data.note)
        self.note.setVisible(bool(data.note))

    @property
    def data(self) -> ChartData:
        return self.chart.data

    # -- export ----------------------------------------------------------------------------------
    def default_file_name(self, suffix: str) -> str:
        period = self.data.period
        stamp = f"_{period[1]:%Y-%m}" if period else ""
        return f"{self.name}{stamp}{suffix}"

    def export_dialog(self, suffix: str) -> Path | None:
        """Ask where to save, then write the chart there; returns the path written."""
        name, _ = QFileDialog.getSaveFileName(
            self,
            f"Export chart as {suffix[1:].upper()}",
            self.default_file_name(suffix),
            FILTERS[suffix],
        )
        if not name:
            return None
        path = Path(name)
        if path.suffix.lower() not in FILTERS:
            path = path.with_name(path.name + suffix)
        return self.export(path)

    def export(self, path: Path) -> Path | None:
        """Write the chart to `path` (.png at print resolution, or .svg) with title and legend."""
        try:
            written = render_to_file(self.data, Path(path), width=PRINT_WIDTH, size=EXPORT_SIZE)
        except UserError as exc:
            messages.show_error(self, exc)
            return None
        self.exported.emit(str(written))
        return written

    def _context_menu(self, pos: QPoint) -> None:
        self.menu.popup(self.chart.mapToGlobal(pos))
