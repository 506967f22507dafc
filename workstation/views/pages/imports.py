"""Imports page: every imported file with its counts; undo a whole import.

A batch holding a statement whose balances did not add up, imported because a user accepted it,
is marked for ever (also once undone): a warning icon in its Balances cell, whose tooltip says who
accepted it, when, why, and the difference.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import select

from ...exporters.table import Column as ExportColumn
from ...exporters.table import write_table
from ...models import ImportBatch
from ...services.imports.file_import import accepted_unbalanced, undo_batch
from .. import messages
from ..context import IMPORTS, RECORDS
from ..models.table import Column, RowsTableModel
from .placeholder import page_header

MAX_BATCHES = 1000  # newest first; one batch per imported file

COLUMNS = (
    Column("id", "Batch", "int"),
    Column("file_name", "File"),
    Column("format", "Format"),
    Column("imported_at", "Imported", "datetime", tooltip="Local time"),
    Column("imported_by", "By"),
    Column("rows_total", "Lines", "int", tooltip="Lines read from the file"),
    Column("rows_new", "New", "int", tooltip="Lines added to the store"),
    Column("rows_duplicate", "Duplicates", "int", tooltip="Lines already stored before"),
    Column("rows_problem", "Problems", "int", tooltip="Lines left out because of problems"),
    Column("masked_pans", "Cards masked", "int", tooltip="Card numbers masked before storing"),
    Column("status_text", "Status"),
    Column(
        "balance_text",
        "Balances",
        tooltip="Marked when a statement whose balances do not add up was accepted",
    ),
)
STATUS_TEXT = {"committed": "Imported", "undone": "Undone"}
BALANCE_COLUMN = [c.key for c in COLUMNS].index("balance_text")


def unbalanced_tooltip(accepted: dict) -> str:
    """Who accepted the unbalanced statements of a batch, when, why, and by how much."""
    lines = [
        f"Accepted unbalanced by {accepted.get('by', '?')} at {accepted.get('at', '?')}",
        f"Reason: {accepted.get('reason', '')}",
        f"Difference: {accepted.get('difference', '?')}",
    ]
    for st in accepted.get("statements") or []:
        lines.append(
            f"{st.get('statement')}: expected closing balance {st.get('expected')}, "
            f"found {st.get('found')} (difference {st.get('difference')})"
        )
    return "\n".join(lines)


class BatchesModel(RowsTableModel):
    """The batches, with a warning icon and tooltip on accepted unbalanced ones."""

    def __init__(self, columns, parent=None, *, muted=None, warning: QIcon | None = None) -> None:
        super().__init__(columns, parent=parent, muted=muted)
        self._warning = warning or QIcon()

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if (
            index.isValid()
            and index.column() == BALANCE_COLUMN
            and index.row() < self.rowCount()
            and role in (Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole)
        ):
            accepted = self.row(index.row()).get("unbalanced")
            if not accepted:
                return None
            if role == Qt.ItemDataRole.DecorationRole:
                return self._warning
            return unbalanced_tooltip(accepted)
        return super().data(index, role)


def load_batches(session, limit: int = MAX_BATCHES) -> list[dict]:
    """The newest import batches as plain rows."""
    rows = []
    for b in session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit)):
        rows.append(
            {
                "id": b.id,
                "file_name": b.file_name,
                "format": b.format,
                "imported_at": b.imported_at,
                "imported_by": b.imported_by,
                "rows_total": b.rows_total,
                "rows_new": b.rows_new,
                "rows_duplicate": b.rows_duplicate,
                "rows_problem": b.rows_problem,
                "masked_pans": b.masked_pans,
                "status": b.status,
                "status_text": STATUS_TEXT.get(b.status, b.status),
                "unbalanced": (accepted := accepted_unbalanced(b.report)),
                "balance_text": (
                    f"Accepted unbalanced ({accepted.get('difference', '?')})" if accepted else ""
                ),
            }
        )
    return rows


class ImportsPage(QWidget):
    """Past imports, newest first, with Undo import."""

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = BatchesModel(
            COLUMNS,
            parent=self,
            muted=lambda r: r["status"] != "committed",
            warning=self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning),
        )
        self.table = QTableView()
        self.table.setObjectName("imports_table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)

        self.import_button = QPushButton("Import files…")
        self.import_button.clicked.connect(lambda: ctx.import_requested.emit([]))
        self.undo_button = QPushButton("Undo import…")
        self.undo_button.setToolTip(
            "Remove every line this import added (only while none of them is matched)"
        )
        self.undo_button.clicked.connect(self.undo_selected)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.count_label = QLabel()
        self.count_label.setObjectName("muted")
        self.empty_label = QLabel(
            "No files imported yet. Drop bank statements or PSP reports anywhere on the window, "
            "or use File > Import (Ctrl+I)."
        )
        self.empty_label.setObjectName("empty_state")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.undo_action = QAction("Undo import…", self)
        self.undo_action.triggered.connect(self.undo_selected)
        self.table.addAction(self.undo_action)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        refresh = QAction("Refresh", self)
        refresh.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        refresh.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        refresh.triggered.connect(self.refresh)
        self.addAction(refresh)

        buttons = QHBoxLayout()
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.count_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(
            page_header(
                "Imports",
                "Every statement and report imported, newest first. Drop files on the window "
                "to import more.",
            )
        )
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label, 1)

        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        ctx.data_changed.connect(self._on_data_changed)
        self.refresh()

    # -- data --------------------------------------------------------------------------------
    def refresh(self) -> None:
        selected = self.selected_batch()
        with self.ctx.session() as s:
            rows = load_batches(s)
        self.model.set_rows(rows)
        self.table.resizeColumnsToContents()
        n = len(rows)
        more = f" (newest {MAX_BATCHES})" if n >= MAX_BATCHES else ""
        self.count_label.setText(f"{n:,} import{'s' if n != 1 else ''}{more}")
        self.table.setVisible(n > 0)
        self.empty_label.setVisible(n == 0)
        if selected is not None:
            self.select_batch(selected["id"])
        self._update_actions()

    def _on_data_changed(self, kind: str) -> None:
        if kind == IMPORTS:
            self.refresh()

    def selected_batch(self) -> dict | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return dict(self.model.row(rows[0].row())) if rows else None

    def select_batch(self, batch_id: int) -> bool:
        for i, row in enumerate(self.model.rows()):
            if row["id"] == batch_id:
                self.table.selectRow(i)
                return True
        return False

    def _update_actions(self, *_args) -> None:
        row = self.selected_batch()
        can_undo = row is not None and row["status"] == "committed"
        self.undo_button.setEnabled(can_undo)
        self.undo_action.setEnabled(can_undo)

    # -- actions -----------------------------------------------------------------------------
    def undo_selected(self) -> None:
        row = self.selected_batch()
        if row is None or row["status"] != "committed":
            return
        batch_id = row["id"]
        question = (
            f"Remove the {row['rows_new']:,} line(s) that {row['file_name']} added "
            f"(import {batch_id})?\n\nYou can import the file again later."
        )
        if not messages.ask(self, "Undo import", question):
            return
        actor = self.ctx.actor

        def op(session, progress):
            return undo_batch(session, batch_id, actor=actor)

        def done(removed: int) -> None:
            self.ctx.notify(f"Import {batch_id} undone: {removed:,} line(s) removed")
            self.ctx.changed(RECORDS, IMPORTS)

        def refused(exc) -> None:
            messages.show_error(self, exc, title="Import not undone")

        self.undo_button.setEnabled(False)
        task = self.ctx.tasks.run(
            op, done, refused, label=f"Undoing import {batch_id}", cancellable=False
        )
        task.finished.connect(self._update_actions)

    def export_table(self, path: Path | str | None = None) -> None:
        """Write the list of imports to .xlsx or .csv (asks for a file name without `path`)."""
        if path is None:
            name, _ = QFileDialog.getSaveFileName(
                self, "Export imports", "imports.xlsx", "Excel workbook (*.xlsx);;CSV (*.csv)"
            )
            if not name:
                return
            path = name
        target = Path(path)
        rows = [[r[c.key] for c in COLUMNS] for r in self.model.rows()]
        columns = [
            ExportColumn(c.title, {"int": "int", "datetime": "datetime"}.get(c.kind, "text"))
            for c in COLUMNS
        ]

        def op(session, progress):
            return write_table(
                target, columns, rows, sheet_title="Imports", total=len(rows), progress=progress
            )

        self.ctx.tasks.run(
            op,
            lambda n: self.ctx.notify(f"Exported {n:,} row(s) to {target}"),
            label="Exporting imports",
        )
