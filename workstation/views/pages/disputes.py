"""Disputes page: the chargeback queue, most urgent first, with the open case beside it."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSettings

from ..disputes.case_view import CaseView
from ..disputes.drafts import DraftSaver
from ..disputes.queue import DisputeQueue
from ..queue.page import QueuePage

STALE_SECONDS = 60  # countdowns and urgency move with the clock: reload when shown after this


class DisputesPage(QueuePage):
    """Queue (left) and case (right); File > Export writes the queue as shown."""

    TITLE = "Disputes"
    SUBTITLE = (
        "Chargebacks from every PSP, most urgent first: overdue, then money at risk "
        "per hour left. Double-click a case to work on it."
    )
    MARGINS = (24, 20, 24, 12)
    STRETCH = (1, 1)
    EXPORT_NOUN = "case(s)"
    EXPORT_FIXES_SUFFIX = False
    queue: DisputeQueue

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, DisputeQueue(ctx), None, parent)
        self.saver = DraftSaver(ctx, self)
        self._case: CaseView | None = None  # built when the first case opens (fast page open)
        self._case_open = False
        self._loaded_at = time.monotonic()
        self.lay_out(self.queue.controls, 6)
        self.queue.case_activated.connect(self.open_case)
        self.queue.model.reloaded.connect(self._reloaded)

    @property
    def case(self) -> CaseView:
        """The case pane (created on first use)."""
        if self._case is None:
            self._case = CaseView(self.ctx, self.saver)
            self._case.close_requested.connect(self.close_case)
            self._case.hide()
            self.add_detail(self._case)
        return self._case

    def load_choices(self) -> None:
        self.queue.load_choices()

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
            saved = QSettings().value(f"{self.queue.spec.settings_group}/queue_share")
            share = float(saved) if saved is not None else 0.42
            share = min(0.8, max(0.2, share))
            self.splitter.setSizes([int(total * share), total - int(total * share)])

    def close_case(self) -> None:
        if self._case is not None:
            self._case.clear()
            self._case.hide()
        self._case_open = False

    # -- the splitter: the queue's share while a case is open ------------------------------------
    def remember_splitter(self, *_args) -> None:
        sizes = self.splitter.sizes()
        if self._case_open and sum(sizes):
            QSettings().setValue(
                f"{self.queue.spec.settings_group}/queue_share", sizes[0] / sum(sizes)
            )

    def restore_splitter(self) -> None:
        """Nothing to restore before a case opens (`open_case` sets the share)."""

    def _reloaded(self) -> None:
        self._loaded_at = time.monotonic()

    # -- main window hooks -----------------------------------------------------------------------
    def page_shown(self) -> None:
        if time.monotonic() - self._loaded_at > STALE_SECONDS:
            self.queue.reload()

    def export_table(self, path: Path | str | None = None):
        """Write the queue as shown (filters and order) to .xlsx or .csv in the background."""
        return self.export_shown(path)
