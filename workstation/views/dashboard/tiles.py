"""Headline tiles: a label, a big number, a detail line and a status stripe; click to drill down."""

from __future__ import annotations

import math

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ...services.analytics.dashboard import Tile

STATUS_COLORS = {
    "ok": "#2e9e5b",
    "warn": "#e0a100",
    "alert": "#d13c3c",
    "neutral": "#9aa5b1",
}
STATUS_WORDS = {"ok": "within limits", "warn": "close to the limit", "alert": "above the limit"}
TILE_MIN_WIDTH = 196

STYLE = f"""
QFrame#tile {{
    background: #ffffff;
    border: 1px solid #d9dee5;
    border-left: 5px solid {STATUS_COLORS["neutral"]};
    border-radius: 6px;
}}
QFrame#tile[status="ok"] {{ border-left-color: {STATUS_COLORS["ok"]}; }}
QFrame#tile[status="warn"] {{ border-left-color: {STATUS_COLORS["warn"]}; background: #fffaf0; }}
QFrame#tile[status="alert"] {{ border-left-color: {STATUS_COLORS["alert"]}; background: #fff5f5; }}
QFrame#tile[drill="true"]:hover {{ border-color: #7aa7d9; }}
QFrame#tile:focus {{ border-color: #4c9be8; }}
QLabel#tile_label {{ color: #5f6670; font-size: 9pt; }}
QLabel#tile_value {{ color: #1f2a37; font-size: 16pt; font-weight: 600; }}
QFrame#tile[status="warn"] QLabel#tile_value {{ color: #8a5a00; }}
QFrame#tile[status="alert"] QLabel#tile_value {{ color: #b02424; }}
QLabel#tile_detail {{ color: #6b7480; font-size: 8pt; }}
"""


class TileWidget(QFrame):
    """One tile; `clicked(drill)` when the user clicks it (or presses Enter on it)."""

    clicked = Signal(dict)

    def __init__(self, tile: Tile, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("tile")
        self.tile = tile
        self.label = QLabel()
        self.label.setObjectName("tile_label")
        self.value = QLabel()
        self.value.setObjectName("tile_value")
        self.detail = QLabel()
        self.detail.setObjectName("tile_detail")
        for w in (self.label, self.value, self.detail):
            w.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            w.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 10, 8)
        layout.setSpacing(1)
        layout.addWidget(self.label)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(TILE_MIN_WIDTH - 20)
        self.set_tile(tile)

    def set_tile(self, tile: Tile) -> None:
        self.tile = tile
        self.setObjectName("tile")
        self.setAccessibleName(f"{tile.label}: {tile.value}")
        self.label.setText(tile.label)
        self.value.setText(tile.value)
        self._detail_text = tile.detail
        self._elide_detail()
        tip = [f"<b>{tile.label}: {tile.value}</b>"]
        if tile.detail:
            tip.append(tile.detail)
        if tile.tooltip:
            tip.append(tile.tooltip)
        if tile.status in STATUS_WORDS:
            tip.append(f"Status: {STATUS_WORDS[tile.status]}")
        if tile.drill:
            tip.append("<i>Click to open the queue behind this number</i>")
        self.setToolTip("<br>".join(tip))
        has_drill = bool(tile.drill)
        self.setProperty("status", tile.status)
        self.setProperty("drill", "true" if has_drill else "false")
        self.setCursor(
            Qt.CursorShape.PointingHandCursor if has_drill else Qt.CursorShape.ArrowCursor
        )
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus if has_drill else Qt.FocusPolicy.NoFocus)
        self.style().unpolish(self)
        self.style().polish(self)

    def _elide_detail(self) -> None:
        width = max(40, self.width() - 26)
        metrics = self.detail.fontMetrics()
        self.detail.setText(
            metrics.elidedText(self._detail_text, Qt.TextElideMode.ElideRight, width)
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide_detail()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(TILE_MIN_WIDTH, hint.height())

    def activate(self) -> None:
        """Drill down as a click would."""
        if self.tile.drill:
            self.clicked.emit(dict(self.tile.drill))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
            event.position().toPoint()
        ):
            self.activate()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.activate()
            return
        super().keyPressEvent(event)


class TileGrid(QWidget):
    """The tiles in as many equal columns as fit (rows balanced), refilled on resize."""

    tile_clicked = Signal(dict)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("tile_grid")
        self.setStyleSheet(STYLE)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(10)
        self.grid.setVerticalSpacing(10)
        self.tiles: dict[str, TileWidget] = {}
        self._order: list[str] = []
        self._columns = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_tiles(self, tiles: list[Tile]) -> None:
        keys = [t.key for t in tiles]
        for key in list(self.tiles):
            if key not in keys:
                widget = self.tiles.pop(key)
                self.grid.removeWidget(widget)
                widget.deleteLater()
        for t in tiles:
            widget = self.tiles.get(t.key)
            if widget is None:
                widget = TileWidget(t, self)
                widget.setObjectName("tile")
                widget.clicked.connect(self.tile_clicked)
                self.tiles[t.key] = widget
            else:
                widget.set_tile(t)
        if keys != self._order:
            self._order = keys
            self._columns = 0
        self._reflow()

    def columns_for(self, width: int) -> int:
        """Columns for `width` px: as many as fit, then balanced so rows hold equal counts."""
        n = len(self._order)
        if n == 0:
            return 1
        fit = max(1, min(n, (width + 10) // (TILE_MIN_WIDTH + 10)))
        rows = math.ceil(n / fit)
        return math.ceil(n / rows)

    def _reflow(self) -> None:
        columns = self.columns_for(self.width())
        if columns == self._columns:
            return
        self._columns = columns
        for widget in self.tiles.values():
            self.grid.removeWidget(widget)
        for i, key in enumerate(self._order):
            self.grid.addWidget(self.tiles[key], i // columns, i % columns)
        for c in range(self.grid.columnCount()):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
        self.updateGeometry()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._reflow()
