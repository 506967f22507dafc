"""Dashboard page: headline tiles and charts of a period; a click opens the queue behind a number.

The numbers come from `services.analytics.dashboard`, computed on background tasks in two steps:
the headline tiles first (`load_headlines`), then the charts (`load_charts`); the page keeps
showing what it had, marked "Computing…", until the new numbers arrive, and a newer request
cancels an older one. The KPI services cache per period and data version, so
switching back to a period, or a change elsewhere that does not touch the KPIs' inputs, costs a
few index lookups. A click on a tile or a chart element emits `drill_requested({"page": ...,
"filters": {...}})` and asks the main window (through `AppContext.navigate`) to open that page
with those filters.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ...errors import UserError
from ...services.analytics import catalogue
from ...services.analytics.dashboard import DashboardView, load_charts, load_headlines
from .. import messages
from ..context import CASES, DISPUTES, IMPORTS, MATCHES, RECORDS
from ..dashboard.chart_card import ChartCard
from ..dashboard.filter_bar import FilterBar
from ..dashboard.tiles import TileGrid
from .placeholder import page_header

HOVER_HINT = "Point at a bar or a point for its exact value; click it to open the queue behind it."
RELOAD_DELAY_MS = 300  # coalesce bursts of data_changed (an import sends several)
WIDE_CHART = "chargeback_ratio"  # spans two columns
CHART_ROW_MIN = 250


class DashboardPage(QWidget):
    """Tiles, charts, period and filters. See the module docstring for the data flow."""

    drill_requested = Signal(dict)  # {"page": "exceptions"|"disputes"|"matches", "filters": {...}}
    loaded = Signal(object)  # the DashboardView just drawn (tests and the status line wait on it)

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.view: DashboardView | None = None
        self.cards: dict[str, ChartCard] = {}
        self._generation = 0
        self._task = None
        self._dirty = False
        self._chart_columns = 0

        self.busy = QLabel("Computing…")
        self.busy.setObjectName("dashboard_busy")
        self.busy.setStyleSheet(
            "QLabel#dashboard_busy { color: #2f5597; background: #e8f1fb; border: 1px solid "
            "#b9d4f1; border-radius: 9px; padding: 2px 10px; }"
        )
        self.busy.hide()
        self.filters = FilterBar()
        self.filters.changed.connect(self.refresh)
        self.filters.refresh_requested.connect(self.refresh)

        self.tiles = TileGrid()
        self.tiles.tile_clicked.connect(self.drill)
        self.charts_box = QWidget()
        self.charts_box.setObjectName("dashboard_charts")
        self.chart_grid = QGridLayout(self.charts_box)
        self.chart_grid.setContentsMargins(0, 0, 0, 0)
        self.chart_grid.setSpacing(10)
        content = QWidget()
        content.setObjectName("dashboard_content")
        body = QVBoxLayout(content)
        body.setContentsMargins(0, 0, 4, 0)
        body.setSpacing(10)
        body.addWidget(self.tiles)
        body.addWidget(self.charts_box, 1)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("dashboard_scroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(content)

        self.hover = QLabel(HOVER_HINT)
        self.hover.setObjectName("dashboard_hover")
        self.hover.setStyleSheet("color: #5f6670;")
        self.hover.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(
            page_header(
                "Dashboard",
                "Where the period stands: reconciliation, money at risk, "
                "scheme ratios and disputes.",
            ),
            1,
        )
        top.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 16, 8)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.filters)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.hover)

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.refresh)
        ctx.data_changed.connect(self._data_changed)
        QTimer.singleShot(0, self._first_load)

    # -- loading ---------------------------------------------------------------------------------
    @property
    def computing(self) -> bool:
        return self._task is not None

    def _first_load(self) -> None:
        if self.view is None and self._task is None:
            self._start(None)

    def refresh(self) -> None:
        """Recompute for the period and filters shown (in the background)."""
        self._reload_timer.stop()
        self._start(self.filters.period())

    def _start(self, period) -> None:
        """Step 1: the headline numbers (tiles and pickers); step 2 (`_start_charts`) follows."""
        if self._task is not None:
            self._task.cancel()  # its result would be dropped anyway
        self._generation += 1
        generation = self._generation
        sources, psps = self.filters.sources(), self.filters.psps()
        lo, hi = period if period is not None else (None, None)

        def op(session, progress):
            return load_headlines(session, lo, hi, sources=sources, psps=psps, progress=progress)

        self._set_busy(True, "Computing…")
        self._run(generation, op, self._headlines_loaded, "Computing the dashboard")

    def _start_charts(self, generation: int, view: DashboardView) -> None:
        """Step 2: the charts of the period the tiles show."""

        def op(session, progress):
            return load_charts(session, view, progress=progress)

        self._run(generation, op, lambda drawn: self._charts_loaded(view, drawn), "Drawing charts")

    def _run(self, generation: int, op, done, label: str) -> None:
        task = self.ctx.tasks.run(
            op,
            lambda result: done(result) if generation == self._generation else None,
            lambda error: self._failed(generation, error),
            label=label,
            on_cancelled=lambda: self._cancelled(generation),
        )
        task.progressed.connect(
            lambda _done, _total, text: (
                self._set_busy(True, f"Computing… {text.lower()}")
                if generation == self._generation
                else None
            )
        )
        self._task = task

    def _set_busy(self, on: bool, text: str = "") -> None:
        self.busy.setText(text or "Computing…")
        self.busy.setVisible(on)
        self.setProperty("computing", on)

    def _headlines_loaded(self, view: DashboardView) -> None:
        self.show_headlines(view)
        self._start_charts(self._generation, view)

    def _charts_loaded(self, view: DashboardView, drawn: dict) -> None:
        self._task = None
        self._set_busy(False)
        view.charts = drawn
        self.show_charts(view)
        self.loaded.emit(view)

    def _failed(self, generation: int, error: UserError) -> None:
        if generation != self._generation:
            return
        self._task = None
        self._set_busy(False)
        messages.show_error(self, error)

    def _cancelled(self, generation: int) -> None:
        if generation == self._generation:
            self._task = None
            self._set_busy(False)

    def _data_changed(self, kind: str) -> None:
        if kind not in (RECORDS, MATCHES, DISPUTES, CASES, IMPORTS):
            return
        if self.isVisible():
            self._reload_timer.start()
        else:
            self._dirty = True

    def page_shown(self) -> None:
        """The main window calls this on every visit: catch up on changes made meanwhile."""
        if self._dirty:
            self._dirty = False
            self.refresh()

    # -- drawing ---------------------------------------------------------------------------------
    def show_view(self, view: DashboardView) -> None:
        """Draw `view` (tiles, charts, pickers)."""
        self.show_headlines(view)
        self.show_charts(view)
        self.loaded.emit(view)

    def show_headlines(self, view: DashboardView) -> None:
        """Draw the tiles and pickers of `view` (its charts may still be computing)."""
        self.view = view
        self.filters.set_choices(view.choices, (view.date_from, view.date_to))
        self.tiles.set_tiles(view.tiles)

    def show_charts(self, view: DashboardView) -> None:
        """Draw the charts of `view`."""
        for name in catalogue.chart_names():
            data = view.charts.get(name)
            if data is None:
                continue
            card = self.cards.get(name)
            if card is None:
                card = ChartCard(data, self.charts_box)
                card.element_clicked.connect(self.drill)
                card.hovered.connect(self._hovered)
                card.exported.connect(lambda path: self.ctx.notify(f"Chart saved to {path}"))
                self.cards[name] = card
            else:
                card.set_data(data)
        self._layout_charts(force=True)
        self.hover.setText(HOVER_HINT)

    def _chart_columns_for(self, width: int) -> int:
        return 3 if width >= 1000 else 2 if width >= 620 else 1

    def _layout_charts(self, force: bool = False) -> None:
        columns = self._chart_columns_for(self.scroll.viewport().width())
        if not self.cards or (columns == self._chart_columns and not force):
            return
        self._chart_columns = columns
        for card in self.cards.values():
            self.chart_grid.removeWidget(card)
        row = col = 0
        for name in catalogue.chart_names():
            card = self.cards.get(name)
            if card is None:
                continue
            span = min(2, columns) if name == WIDE_CHART else 1
            if col + span > columns:
                row, col = row + 1, 0
            self.chart_grid.addWidget(card, row, col, 1, span)
            col += span
            if col >= columns:
                row, col = row + 1, 0
        rows = row + (1 if col else 0)
        for c in range(3):
            self.chart_grid.setColumnStretch(c, 1 if c < columns else 0)
        for r in range(max(rows, self.chart_grid.rowCount())):
            self.chart_grid.setRowStretch(r, 1 if r < rows else 0)
            self.chart_grid.setRowMinimumHeight(r, CHART_ROW_MIN if r < rows else 0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._layout_charts()

    def _hovered(self, text: str) -> None:
        self.hover.setText(text or HOVER_HINT)

    # -- drill-down ------------------------------------------------------------------------------
    def drill(self, drill: dict) -> None:
        """Open the queue behind a tile or chart element (`{"page": ..., "filters": ...}`)."""
        if not drill or not drill.get("page"):
            return
        payload = {"page": str(drill["page"]), "filters": dict(drill.get("filters") or {})}
        self.drill_requested.emit(payload)
        self.ctx.navigate(payload["page"], payload["filters"])

    # -- export ----------------------------------------------------------------------------------
    def export_table(self, path: Path | str | None = None):
        """File > Export: the management workbook (.xlsx, one sheet per KPI) for the period."""
        lo, hi = self.filters.period()
        if path is None:
            name, _ = QFileDialog.getSaveFileName(
                self, "Export KPI workbook", f"kpis_{lo:%Y-%m}.xlsx", "Excel workbook (*.xlsx)"
            )
            if not name:
                return None
            path = name
        target = Path(path)
        sources, psps = self.filters.sources(), self.filters.psps()

        def op(session, progress):
            return catalogue.export_kpis(
                session, target, lo, hi, progress, sources=sources or None, psps=psps or None
            )

        return self.ctx.tasks.run(
            op,
            lambda _report: self.ctx.notify(f"KPI workbook saved to {target}"),
            label="Writing the KPI workbook",
        )
