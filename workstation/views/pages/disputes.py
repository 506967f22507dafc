"""Disputes page: the chargeback queue, most urgent first, with the open case beside it."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QSplitter, QVBoxLayout, QWidget

from ..disputes.case_view import CaseView
from ..disputes.drafts import DraftSaver
from ..disputes.queue import DisputeQueue
from ..disputes.source import DisputeQueueSource
from ..models.sql_table import export_source
from .placeholder import page_header

SETTINGS_GROUP = "disputes_page"
STALE_SECONDS = 60  # countdowns and urgency move with the clock: reload when shown after this


class DisputesPage(QWidget):
    """Queue (left) and case (right); File > Export writes the queue as shown."""

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.saver = DraftSaver(ctx, self)
        self.queue = DisputeQueue(ctx)
        self._case: CaseView | None = None  # built when the first case opens (fast page open)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("disputes_splitter")
        self.splitter.addWidget(self.queue)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setCollapsible(0, False)
        self.splitter.splitterMoved.connect(self._remember_sizes)
        self._case_open = False
        self._loaded_at = time.monotonic()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 12)
        layout.addWidget(
            page_header(
                "Disputes",
                "Chargebacks from every PSP, most urgent first: overdue, then money at risk "
                "per hour left. Double-click a case to work on it.",
            )
        )
        layout.addWidget(self.queue.controls)
        layout.addSpacing(6)
        layout.addWidget(self.splitter, 1)

        self.queue.case_activated.connect(self.open_case)
        self.queue.model.reloaded.connect(self._reloaded)
        QTimer.singleShot(0, self.queue.load_choices)

    @property
    def case(self) -> CaseView:
        """The case pane (created on first use)."""
        if self._case is None:
            self._case = CaseView(self.ctx, self.saver)
            self._case.close_requested.connect(self.close_case)
            self._case.hide()
            self.splitter.addWidget(self._case)
            self.splitter.setStretchFactor(1, 1)
        return self._case

    # -- cases -----------------------------------------------------------------------------------
    def open_case(self, dispute_id: int) -> None:
        """Show case `dispute_id` beside the queue (and select it there)."""
        self.case.open_case(dispute_id)
        if self.queue.selected_ids() != [dispute_id]:
            self.queue.select_case(dispute_id)
        if not self._case_open:
            self._case_open = True
            self.case.show()
            total = max(600, self.splitter.width())
            saved = QSettings().value(f"{SETTINGS_GROUP}/queue_share")
            share = float(saved) if saved is not None else 0.42
            share = min(0.8, max(0.2, share))
            self.splitter.setSizes([int(total * share), total - int(total * share)])

    def close_case(self) -> None:
        if self._case is not None:
            self._case.clear()
            self._case.hide()
        self._case_open = False

    def _remember_sizes(self, *_args) -> None:
        sizes = self.splitter.sizes()
        if self._case_open and sum(sizes):
            QSettings().setValue(f"{SETTINGS_GROUP}/queue_share", sizes[0] / sum(sizes))

    def _reloaded(self) -> None:
        self._loaded_at = time.monotonic()

    # -- main window hooks -----------------------------------------------------------------------
    def page_shown(self) -> None:
        if time.monotonic() - self._loaded_at > STALE_SECONDS:
            self.queue.reload()

    def export_table(self, path: Path | str | None = None):
        """Write the queue as shown (filters and order) to .xlsx or .csv in the background."""
        if path is None:
            name, _ = QFileDialog.getSaveFileName(
                self, "Export disputes", "disputes.xlsx", "Excel workbook (*.xlsx);;CSV (*.csv)"
            )
            if not name:
                return None
            path = name
        target = Path(path)
        filters = self.queue.model.active_filters
        sort = self.queue.model.sort_spec

        def op(session, progress):
            return export_source(
                session,
                DisputeQueueSource(),  # its own: the table's source belongs to the GUI thread
                filters,
                sort,
                target,
                title="Disputes",
                progress=progress,
            )

        return self.ctx.tasks.run(
            op,
            lambda n: self.ctx.notify(f"Exported {n:,} case(s) to {target}"),
            label="Exporting disputes",
        )
