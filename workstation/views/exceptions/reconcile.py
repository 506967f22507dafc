"""Reconcile now: the rule cascade in the background (progress, Cancel), then counts per rule."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...services.common.bulk_write import row_count_estimate
from ...services.common.child_process import run_in_child
from ...services.reconcile import engine
from .. import messages
from ..context import CASES, MATCHES, RECORDS
from ..models.table import Column, RowsTableModel

# Databases with at least this many records reconcile in a child process (see op below); below
# it the child's start (~2 s of imports) would cost more than the stalls it saves.
CHILD_PROCESS_AT = 200_000

RULE_COLUMNS = (
    Column("position", "#", "int"),
    Column("name", "Rule"),
    Column("kind", "Kind"),
    Column("auto", "Auto-confirmed", "int", tooltip="Matches confirmed without a clerk"),
    Column("suggested", "Suggested", "int", tooltip="Matches waiting for a clerk"),
    Column("records", "Records", "int", tooltip="Records these matches took"),
    Column("left_after", "Open after", "int", tooltip="Records still open after this rule"),
)


def report_rows(report: engine.RunReport) -> list[dict]:
    return [
        {
            "position": i,
            "name": r.name,
            "kind": r.kind,
            "auto": r.auto,
            "suggested": r.suggested,
            "records": r.records_auto + r.records_suggested,
            "left_after": r.left_after,
        }
        for i, r in enumerate(report.rules, start=1)
    ]


def report_summary(report: engine.RunReport) -> str:
    if report.dry_run:
        return (
            f"Simulation, nothing written: {report.candidates:,} open records examined; "
            f"the rules would auto-confirm {report.auto:,} and suggest {report.suggested:,} "
            f"matches and leave {report.unmatched_left:,} unmatched "
            f"({report.superseded:,} stored suggestions would be replaced). "
            f"{report.seconds:.2f} s."
        )
    return (
        f"{report.candidates:,} open records examined: {report.auto:,} matches auto-confirmed, "
        f"{report.suggested:,} suggested, {report.unmatched_left:,} records left unmatched. "
        f"Exception cases: {report.cases_opened:,} opened, {report.cases_resolved:,} resolved. "
        f"{report.seconds:.2f} s."
    )


class ReportDialog(QDialog):
    """Counts per rule of a run or a simulation."""

    def __init__(self, report: engine.RunReport, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("reconcile_report")
        self.setWindowTitle("Simulation" if report.dry_run else "Reconciliation finished")
        self.report = report
        self.summary = QLabel(report_summary(report))
        self.summary.setObjectName("banner")
        self.summary.setWordWrap(True)
        self.model = RowsTableModel(RULE_COLUMNS, report_rows(report), self)
        self.table = QTableView()
        self.table.setObjectName("rule_counts")
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(720, 340)


class ReconcilePanel(QWidget):
    """Progress and Cancel of a running reconciliation (hidden when idle)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("reconcile_panel")
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setMaximumWidth(220)
        self.bar.setMaximumHeight(14)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the run; nothing it did is kept")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        layout.addStretch(1)
        self.hide()

    def show_progress(self, done: int, total: int, text: str) -> None:
        self.label.setText(text or "Reconciling…")
        self.bar.setRange(0, max(0, total))
        if total:
            self.bar.setValue(min(done, total))


class ReconcileController(QObject):
    """Starts runs and simulations in the background and reports them.

    Signals:
        started(): a run began.
        finished(object): the RunReport of a run or a simulation (None: cancelled or failed).
    """

    started = Signal()
    finished = Signal(object)

    def __init__(self, ctx, panel: ReconcilePanel, dialog_parent=None) -> None:
        super().__init__(panel)
        self.ctx = ctx
        self.panel = panel
        self.dialog_parent = dialog_parent
        self.task = None
        self.report: engine.RunReport | None = None
        self.dialog: ReportDialog | None = None
        panel.cancel_button.clicked.connect(self.cancel)

    @property
    def running(self) -> bool:
        return self.task is not None

    def run(self, *, dry_run: bool = False, show_report: bool = True):
        """Reconcile every open record (or simulate); returns the Task, None when busy."""
        if self.task is not None:
            self.ctx.notify("A reconciliation is already running")
            return None
        actor = self.ctx.actor

        db = self.ctx.db

        def op(session, progress):
            if db.shareable and row_count_estimate(session, "records") >= CHILD_PROCESS_AT:
                session.rollback()  # no snapshot held open while the child writes
                # A child process: the cascade's whole-column steps hold the GIL, which on a
                # worker thread would freeze this window for up to half a second at a time.
                return run_in_child(
                    db.connect_url,
                    engine.run,
                    progress=progress,
                    commit=not dry_run,
                    actor=actor,
                    dry_run=dry_run,
                )
            return engine.run(session, actor=actor, dry_run=dry_run, progress=progress)

        def done(report) -> None:
            self._end()
            self.report = report
            if not dry_run:
                self.ctx.changed(RECORDS, MATCHES, CASES)
                self.ctx.notify(
                    f"Reconciled: {report.auto:,} auto, {report.suggested:,} suggested, "
                    f"{report.unmatched_left:,} left"
                )
            if show_report and shiboken6.isValid(self):
                self.show_report(report)
            self.finished.emit(report)

        def failed(exc) -> None:
            self._end()
            messages.show_error(self.dialog_parent, exc, title="Reconcile")
            self.finished.emit(None)

        def cancelled() -> None:
            self._end()
            self.ctx.notify("Reconciliation cancelled; nothing was changed")
            self.finished.emit(None)

        label = "Simulating the rules" if dry_run else "Reconciling"
        self.task = self.ctx.tasks.run(
            op,
            done,
            failed,
            label=label,
            cancellable=True,
            commit=not dry_run,
            on_cancelled=cancelled,
        )
        self.task.progressed.connect(self.panel.show_progress)
        self.panel.show_progress(0, 0, label + "…")
        self.panel.cancel_button.setEnabled(True)
        self.panel.show()
        self.started.emit()
        return self.task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.panel.cancel_button.setEnabled(False)
            self.panel.label.setText("Cancelling…")

    def _end(self) -> None:
        self.task = None
        if shiboken6.isValid(self.panel):
            self.panel.hide()

    def show_report(self, report: engine.RunReport) -> ReportDialog:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = ReportDialog(report, self.dialog_parent)
        self.dialog.setWindowModality(Qt.WindowModality.NonModal)
        self.dialog.show()
        return self.dialog
