"""File > Apply decisions from Excel…: show what a filled-in decision workbook changes, apply it.

The plan (`services.roundtrip.decisions.plan_roundtrip`) is read in the background and shown row by
row:
changes (from -> to), rows someone else changed since the export (conflicts), invalid decisions
and unknown ids, each with its sheet row. Apply runs `apply_roundtrip` in the background (with
the conflicts too when "Also apply rows changed since the export" is ticked) and tells every
page that cases or disputes changed. The dialog can also write a fresh decision workbook of the
open exceptions or the disputes needing a response.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
)

from ...services.roundtrip.decisions import ApplyReport, RoundtripPlan
from ..context import CASES, DISPUTES

XLSX_FILTER = "Excel workbook (*.xlsx)"
_ROOT = QModelIndex()
STATUS_COLORS = {
    "apply": "#e9f7ef",
    "conflict": "#fff4e5",
    "invalid": "#fdecec",
    "unknown": "#fdecec",
}


class PlanModel(QAbstractTableModel):
    """The plan's rows: sheet row, id, item, decision, change, status (read-only)."""

    HEADERS = ("Row", "Id", "Item", "Decision", "Change", "Status")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[int, str, str, str, str, str, str]] = []  # ..., kind

    def set_plan(self, plan: RoundtripPlan | None) -> None:
        self.beginResetModel()
        self._rows = []
        if plan is not None:
            for c in plan.changes:
                self._rows.append(
                    (c.row, str(c.id), c.label, c.decision, c.describe(), "will apply", "apply")
                )
            for c in plan.conflicts:
                self._rows.append(
                    (
                        c.row,
                        str(c.id),
                        c.label,
                        c.decision,
                        f"{c.before} → {c.after}" if c.after else c.before,
                        f"conflict: {c.conflict}",
                        "conflict",
                    )
                )
            for p in plan.invalid:
                self._rows.append(
                    (p.row, p.id or "", "", p.column, "", f"invalid: {p.message}", "invalid")
                )
            for p in plan.unknown:
                self._rows.append((p.row, p.id or "", "", "", "", p.message, "unknown"))
            self._rows.sort(key=lambda r: r[0])
        self.endResetModel()

    def kind(self, row: int) -> str:
        return self._rows[row][6]

    def rowCount(self, parent=_ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=_ROOT) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            value = row[col]
            return value if isinstance(value, str) else str(value)
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(QColor(STATUS_COLORS[row[6]]))
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (0, 1):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        if orientation == Qt.Orientation.Vertical:
            return section + 1
        return None


class RoundtripDialog(QDialog):
    """Plan, confirm and apply a decision workbook (background tasks throughout)."""

    planned = Signal(object)  # RoundtripPlan
    applied = Signal(object)  # ApplyReport

    def __init__(self, ctx, path: Path | str | None = None, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("roundtrip_dialog")
        self.setWindowTitle("Apply decisions from Excel")
        self.resize(980, 560)
        self.path: Path | None = None
        self.plan: RoundtripPlan | None = None
        self.report: ApplyReport | None = None
        self.busy = False
        self._closed = False  # callbacks of tasks still running must not touch a closed dialog

        self.file_label = QLabel("No file chosen")
        self.file_label.setObjectName("roundtrip_file")
        self.choose_button = QPushButton("Choose file…")
        self.choose_button.clicked.connect(self.choose_file)
        self.export_button = QToolButton()
        self.export_button.setText("Export a queue for Excel")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction("Open exceptions…", lambda: self.export_queue("exceptions"))
        menu.addAction("Disputes needing a response…", lambda: self.export_queue("disputes"))
        self.export_button.setMenu(menu)
        self.summary = QLabel(
            "Choose a workbook exported for decisions; you see every change before anything "
            "is applied."
        )
        self.summary.setObjectName("banner")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.model = PlanModel(self)
        self.table = QTableView()
        self.table.setObjectName("roundtrip_plan")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((50, 70, 200, 150, 260)):
            self.table.setColumnWidth(col, width)
        self.force = QCheckBox("Also apply rows changed by someone else since the export")
        self.force.setObjectName("roundtrip_force")
        self.force.toggled.connect(self._update_buttons)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("roundtrip_apply")
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self.apply)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)

        top = QHBoxLayout()
        top.addWidget(self.file_label, 1)
        top.addWidget(self.choose_button)
        top.addWidget(self.export_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.force, 1)
        bottom.addWidget(self.apply_button)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        self._update_buttons()
        if path is not None:
            self.load(Path(path))

    # -- planning --------------------------------------------------------------------------------
    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Apply decisions from Excel", "", f"{XLSX_FILTER};;All files (*)"
        )
        if name:
            self.load(Path(name))

    def load(self, path: Path) -> None:
        """Read the workbook's plan in the background."""
        self.path = path
        self.plan = None
        self.report = None
        self.model.set_plan(None)
        self.file_label.setText(str(path))
        self._banner("Reading the workbook…", "info")
        self.busy = True
        self._update_buttons()

        def op(session, progress):
            from ...services.roundtrip.decisions import plan_roundtrip

            return plan_roundtrip(session, path)

        self.ctx.tasks.run(
            op, self._planned, self._plan_failed, label="Reading decisions", commit=False
        )

    def done(self, result: int) -> None:
        self._closed = True
        super().done(result)

    def _planned(self, plan: RoundtripPlan) -> None:
        if self._closed:
            return
        self.busy = False
        self.plan = plan
        self.model.set_plan(plan)
        parts = [
            f"<b>{plan.queue.capitalize()}</b> exported {escape(plan.exported_at)} by "
            f"{escape(plan.exported_by)}: {plan.rows:,} rows.",
            f"<b>{len(plan.changes):,}</b> will change",
        ]
        if plan.conflicts:
            parts.append(f"<b>{len(plan.conflicts):,}</b> changed by someone else since")
        if plan.invalid:
            parts.append(f"<b>{len(plan.invalid):,}</b> invalid")
        if plan.unknown:
            parts.append(f"<b>{len(plan.unknown):,}</b> unknown id(s)")
        if plan.unchanged:
            parts.append(f"{plan.unchanged:,} already so")
        kind = "warning" if plan.conflicts or plan.invalid or plan.unknown else "ok"
        self._banner(parts[0] + " " + ", ".join(parts[1:]) + ".", kind)
        self._update_buttons()
        self.planned.emit(plan)

    def _plan_failed(self, error) -> None:
        if self._closed:
            return
        self.busy = False
        self._banner(escape(error.describe()), "error")
        self._update_buttons()

    # -- applying --------------------------------------------------------------------------------
    def apply(self) -> None:
        plan = self.plan
        if plan is None or self.busy:
            return
        force = self.force.isChecked()
        actor = self.ctx.actor
        self.busy = True
        self._update_buttons()
        self._banner("Applying…", "info")

        def op(session, progress):
            from ...services.roundtrip.decisions import apply_roundtrip

            return apply_roundtrip(session, plan, actor, force=force, progress=progress)

        self.ctx.tasks.run(op, self._applied, self._apply_failed, label="Applying decisions")

    def _applied(self, report: ApplyReport) -> None:
        self.ctx.changed(CASES, DISPUTES)
        self.ctx.notify(f"Applied {len(report.applied):,} decision(s) from Excel")
        if self._closed:
            return
        self.busy = False
        self.report = report
        self.plan = None
        kind = "warning" if report.conflicts or report.failed else "ok"
        self._banner(escape(report.describe()).replace("\n", "<br>"), kind)
        self._update_buttons()
        self.applied.emit(report)

    def _apply_failed(self, error) -> None:
        if self._closed:
            self.ctx.notify(f"Applying decisions failed: {error.describe()}")
            return
        self.busy = False
        self._banner(escape(error.describe()), "error")
        self._update_buttons()

    # -- export ----------------------------------------------------------------------------------
    def export_queue(self, queue: str, path: Path | str | None = None):
        """Write a decision workbook of the open exceptions or the disputes needing a response."""
        if path is None:
            name, _ = QFileDialog.getSaveFileName(
                self, "Export for decisions", f"{queue}_decisions.xlsx", XLSX_FILTER
            )
            if not name:
                return None
            path = name
        target = Path(path)
        if target.suffix.lower() != ".xlsx":
            target = target.with_name(target.name + ".xlsx")
        actor = self.ctx.actor

        def op(session, progress):
            from ...services.disputes.queue import QueueFilters
            from ...services.roundtrip.decisions import export_roundtrip

            filters = QueueFilters(status=("needs_response",)) if queue == "disputes" else None
            return export_roundtrip(session, queue, target, filters, actor=actor, progress=progress)

        def written(report) -> None:
            self.ctx.notify(f"Wrote {report.rows:,} {queue} row(s) to {target}")
            if not self._closed:
                self._banner(
                    f"Wrote {report.rows:,} {queue} row(s) to {escape(str(target))}. Fill in "
                    "the decision column, then choose the file here.",
                    "ok",
                )

        return self.ctx.tasks.run(op, written, label="Exporting for decisions")

    # -- helpers ---------------------------------------------------------------------------------
    def _banner(self, html: str, kind: str) -> None:
        self.summary.setText(html)
        self.summary.setProperty("kind", kind)
        self.summary.style().unpolish(self.summary)
        self.summary.style().polish(self.summary)

    def _update_buttons(self, *_args) -> None:
        plan = self.plan
        n = 0
        if plan is not None:
            n = len(plan.changes) + (len(plan.conflicts) if self.force.isChecked() else 0)
        self.apply_button.setText(f"Apply {n:,} change(s)" if plan is not None else "Apply")
        self.apply_button.setEnabled(bool(n) and not self.busy)
        self.choose_button.setEnabled(not self.busy)
        self.force.setEnabled(plan is not None and bool(plan.conflicts) and not self.busy)
