"""One file in the import dialog: what is known about it, and the preview of what it adds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...services.imports.file_import import FileReport
from ..models.table import Column, RowsTableModel, is_missing

PREVIEW_COLUMNS = (
    Column("line_no", "Line", "int", tooltip="Line or row in the file"),
    Column("booked_on", "Booked", "date"),
    Column("value_on", "Value date", "date"),
    Column("amount_minor", "Amount", "money"),
    Column("currency", "Currency"),
    Column("fee_minor", "Fee", "money"),
    Column("kind", "Kind"),
    Column("counterparty", "Counterparty"),
    Column("description", "Description"),
    Column("external_id", "Reference", tooltip="The id the source gives the line"),
    Column("payout_ref", "Payout"),
    Column("account", "Account"),
)
OPTIONAL_COLUMNS = {"value_on", "fee_minor", "counterparty", "payout_ref", "external_id"}
PROBLEM_COLUMNS = (
    Column("file", "File"),
    Column("line", "Line", "int"),
    Column("field", "Field"),
    Column("effect", "Effect", tooltip="Bad lines are left out; warnings keep the line"),
    Column("message", "Problem"),
)
CHIPS = {
    "new": ("new", "new"),
    "duplicates": ("duplicate", "duplicates"),
    "problems": ("bad line", "bad lines"),
    "masked_pans": ("card number masked", "card numbers masked"),
    "rows_total": ("line in file", "lines in file"),
}


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 line`, `1,234 lines` (or the given plural)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


@dataclass
class FileEntry:
    """One file in the dialog and what is known about it."""

    path: Path
    state: str = "waiting"  # waiting, previewing, ready, failed, importing, imported, cancelled
    report: FileReport | None = None
    error: str | None = None
    imported: FileReport | None = None
    skip_bad_rows: bool = False

    @property
    def importable(self) -> bool:
        r = self.report
        if self.state != "ready" or r is None or r.already_imported:
            return False
        return r.problems == 0 or self.skip_bad_rows


def _table(model) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().hide()
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return view


class FilePreview(QWidget):
    """What one file will add: summary, checks, problems and the first new rows."""

    skip_changed = Signal(bool)

    def __init__(self, entry: FileEntry, parent=None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.format_label = QLabel()
        self.account_label = QLabel()
        self.account_label.setWordWrap(True)
        self.account_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("File:", QLabel(str(entry.path)))
        form.addRow("Format:", self.format_label)
        form.addRow("Account:", self.account_label)

        self.counts: dict[str, QLabel] = {}
        counts = QHBoxLayout()
        counts.setSpacing(8)
        for key, (_one, many) in CHIPS.items():
            label = QLabel()
            label.setObjectName("count_chip")
            label.setProperty("kind", key)
            label.setToolTip(many)
            self.counts[key] = label
            counts.addWidget(label)
        counts.addStretch(1)

        self.checks_label = QLabel()
        self.checks_label.setObjectName("checks")
        self.checks_label.setWordWrap(True)

        self.problems_title = QLabel("Problems")
        self.problems_title.setObjectName("section_title")
        self.problems_model = RowsTableModel(PROBLEM_COLUMNS, parent=self)
        self.problems_view = _table(self.problems_model)
        self.problems_view.setMaximumHeight(150)
        self.skip_box = QCheckBox()
        self.skip_box.toggled.connect(self._on_skip)

        self.preview_title = QLabel()
        self.preview_title.setObjectName("section_title")
        self.preview_model = RowsTableModel(PREVIEW_COLUMNS, parent=self)
        self.preview_view = _table(self.preview_model)

        self.details = QWidget()
        dl = QVBoxLayout(self.details)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addLayout(counts)
        dl.addWidget(self.checks_label)
        dl.addWidget(self.problems_title)
        dl.addWidget(self.problems_view)
        dl.addWidget(self.skip_box)
        dl.addWidget(self.preview_title)
        dl.addWidget(self.preview_view, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(form)
        layout.addWidget(self.details, 1)
        layout.addStretch(0)  # takes the space while the details are hidden
        self.show_entry()

    def _on_skip(self, checked: bool) -> None:
        self.entry.skip_bad_rows = checked
        self.skip_changed.emit(checked)

    def _set_banner(self, text: str, kind: str = "info") -> None:
        self.banner.setText(text)
        self.banner.setProperty("kind", kind)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.setVisible(bool(text))

    def show_entry(self) -> None:
        """Refresh from `entry` (state, report, error)."""
        e, r = self.entry, self.entry.report
        self.details.setVisible(r is not None and not r.already_imported)
        if e.state in ("waiting", "previewing"):
            self.format_label.setText("…")
            self.account_label.setText("…")
            self._set_banner("Reading the file…" if e.state == "previewing" else "Waiting…")
            self.details.setVisible(False)
            return
        if e.error:
            self._set_banner(f"Cannot import this file. {e.error}", "error")
        elif e.state == "imported" and e.imported is not None:
            i = e.imported
            self._set_banner(
                f"Imported as batch {i.batch_id}: {plural(i.new, 'line')} added, "
                f"{plural(i.duplicates, 'duplicate')} skipped.",
                "ok",
            )
        elif e.state == "cancelled":
            self._set_banner("Import cancelled: nothing from this file was written.", "warning")
        elif r is not None and r.already_imported:
            self._set_banner(
                f"Already imported as batch {r.batch_id}; importing it again adds nothing.",
                "info",
            )
        elif r is not None and r.new == 0:
            self._set_banner("Every line of this file is already stored.", "info")
        else:
            self._set_banner("")
        if r is None:
            self.format_label.setText("—")
            self.account_label.setText("—")
            self.details.setVisible(False)
            return
        self.format_label.setText(r.format)
        self.account_label.setText(r.account or "—")
        values = {
            "new": r.new,
            "duplicates": r.duplicates,
            "problems": r.problems,
            "masked_pans": r.masked_pans,
            "rows_total": r.rows_total,
        }
        for key, label in self.counts.items():
            one, many = CHIPS[key]
            label.setText(f"<b>{values[key]:,}</b> {one if values[key] == 1 else many}")
            label.setProperty("alert", key == "problems" and r.problems > 0)
            label.style().unpolish(label)
            label.style().polish(label)
        checks = [f"⚠ {c.describe()}" for c in r.checks]
        # How the file was read (e.g. the decimal mark decided from the whole column).
        checks += [f"ℹ {note}" for note in r.notes]
        self.checks_label.setText("\n".join(checks))
        self.checks_label.setVisible(bool(checks))
        file_name = Path(r.path).name
        problems = [
            {
                "file": file_name,
                "line": p.line,
                "field": p.field,
                "effect": "line left out" if p.severity == "error" else "warning",
                "message": p.message,
            }
            for p in r.problem_details
        ]
        self.problems_model.set_rows(problems)
        self.problems_view.resizeColumnsToContents()
        warnings = len(problems) - r.problems
        parts = [plural(r.problems, "bad line")] if r.problems else []
        if warnings:
            parts.append(plural(warnings, "warning"))
        self.problems_title.setText(f"Problems: {', '.join(parts)}")
        for w in (self.problems_title, self.problems_view):
            w.setVisible(bool(problems))
        self.skip_box.setText(f"Import the good rows and skip {plural(r.problems, 'bad row')}")
        self.skip_box.setVisible(r.problems > 0)
        self.skip_box.setEnabled(e.state == "ready")
        shown = 0 if r.preview is None else len(r.preview)
        rows = [] if r.preview is None else r.preview.to_dict("records")
        self.preview_model.set_rows(rows)
        self.preview_view.resizeColumnsToContents()
        for col, column in enumerate(PREVIEW_COLUMNS):
            # optional columns the format does not fill would only be empty space
            empty = all(is_missing(row.get(column.key)) for row in rows)
            self.preview_view.setColumnHidden(col, empty and column.key in OPTIONAL_COLUMNS)
            if column.key in ("counterparty", "description"):
                self.preview_view.setColumnWidth(col, min(self.preview_view.columnWidth(col), 260))
        self.preview_title.setText(
            f"First {shown:,} of {r.new:,} new lines, as they will be stored"
            if shown < r.new
            else f"{plural(r.new, 'new line')}, as they will be stored"
        )
        self.preview_view.setVisible(shown > 0)
