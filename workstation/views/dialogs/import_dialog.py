"""Import dialog: preview each file (format, account, counts, problems, first rows), then import.

Previews are dry runs in the background (rolled back); the import itself runs one file per
transaction in the background with progress and Cancel, so a cancelled file writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStyle,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...importers import registry
from ...importers.base import ImportOptions
from ...services.imports.file_import import FileReport, import_file
from ...services.imports.mapping_profiles import list_profiles, load_profile
from ..context import IMPORTS, RECORDS
from ..models.table import Column, RowsTableModel, is_missing

PREVIEW_ROWS = 50

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


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


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
                f"Imported as batch {i.batch_id}: {_plural(i.new, 'line')} added, "
                f"{_plural(i.duplicates, 'duplicate')} skipped.",
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
        checks = [c.describe() for c in r.checks]
        self.checks_label.setText("\n".join(f"⚠ {c}" for c in checks))
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
        parts = [_plural(r.problems, "bad line")] if r.problems else []
        if warnings:
            parts.append(_plural(warnings, "warning"))
        self.problems_title.setText(f"Problems: {', '.join(parts)}")
        for w in (self.problems_title, self.problems_view):
            w.setVisible(bool(problems))
        self.skip_box.setText(f"Import the good rows and skip {_plural(r.problems, 'bad row')}")
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
            else f"{_plural(r.new, 'new line')}, as they will be stored"
        )
        self.preview_view.setVisible(shown > 0)


class ImportDialog(QDialog):
    """Preview then import one or more files; emits `import_finished` with the reports."""

    previews_finished = Signal()
    import_finished = Signal(list)  # FileReports of the files imported

    def __init__(self, ctx, paths=(), parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("import_dialog")
        self.setWindowTitle("Import files")
        self.setAcceptDrops(True)
        self.resize(980, 640)
        self.entries: list[FileEntry] = []
        self.previews: list[FilePreview] = []
        self._task = None
        self._mode = "idle"  # idle, previewing, importing
        self._queue: list[FileEntry] = []
        self._restart_previews = False
        self._imported: list[FileReport] = []

        self.format_combo = QComboBox()
        self.format_combo.addItem("Detect automatically", None)
        for imp in registry.importers():
            self.format_combo.addItem(imp.label, imp.name)
        self.profile_combo = QComboBox()
        self.profile_combo.addItem("Automatic column mapping", None)
        with ctx.session() as s:
            for prof in list_profiles(s):
                self.profile_combo.addItem(prof.name, prof.name)
        self.profile_combo.setToolTip("Saved column mapping for CSV and Excel files")
        for combo in (self.format_combo, self.profile_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setMaximumWidth(320)
        self.format_combo.currentIndexChanged.connect(self._options_changed)
        self.profile_combo.currentIndexChanged.connect(self._options_changed)
        options = QHBoxLayout()
        options.addWidget(QLabel("Format:"))
        options.addWidget(self.format_combo)
        options.addSpacing(16)
        options.addWidget(QLabel("Mapping profile:"))
        options.addWidget(self.profile_combo)
        options.addStretch(1)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setTabBarAutoHide(True)

        self.status_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumWidth(260)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        progress = QHBoxLayout()
        progress.addWidget(self.status_label, 1)
        progress.addWidget(self.progress_bar)
        progress.addWidget(self.cancel_button)

        self.buttons = QDialogButtonBox()
        self.import_button = self.buttons.addButton(
            "Import", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.import_button.setDefault(True)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.import_button.clicked.connect(self.start_import)
        self.close_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(options)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(progress)
        layout.addWidget(self.buttons)
        self._set_busy(False)
        self.add_files(paths)

    # -- files ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._mode != "idle"

    def add_files(self, paths) -> None:
        """Add files (already listed ones are ignored) and preview them."""
        if self._mode == "importing":
            return
        known = {e.path.resolve() for e in self.entries}
        for p in paths:
            path = Path(p)
            if path.resolve() in known:
                continue
            known.add(path.resolve())
            entry = FileEntry(path)
            preview = FilePreview(entry)
            preview.skip_changed.connect(self._update_buttons)
            self.entries.append(entry)
            self.previews.append(preview)
            self.tabs.addTab(preview, path.name)
            self.tabs.setTabToolTip(self.tabs.count() - 1, str(path))
        self._update_title()
        if not self.busy:
            self._start_previews()

    def _update_title(self) -> None:
        n = len(self.entries)
        self.setWindowTitle(f"Import {_plural(n, 'file')}" if n != 1 else "Import file")

    def _options_factory(self):
        """Read the option widgets now (main thread); build ImportOptions later in the worker."""
        format_name = self.format_combo.currentData()
        profile_name = self.profile_combo.currentData()

        def make(session) -> ImportOptions:
            return ImportOptions(
                format=format_name,
                profile=load_profile(session, profile_name) if profile_name else None,
                profile_name=profile_name,
            )

        return make

    def _refresh_entry(self, entry: FileEntry) -> None:
        i = self.entries.index(entry)
        self.previews[i].show_entry()
        style = self.style()
        icon = {
            "ready": QStyle.StandardPixmap.SP_DialogApplyButton,
            "imported": QStyle.StandardPixmap.SP_DialogApplyButton,
            "failed": QStyle.StandardPixmap.SP_MessageBoxCritical,
            "cancelled": QStyle.StandardPixmap.SP_MessageBoxWarning,
        }.get(entry.state)
        if entry.state == "ready" and entry.report is not None:
            if entry.report.already_imported:
                icon = QStyle.StandardPixmap.SP_MessageBoxInformation
            elif entry.report.problems:
                icon = QStyle.StandardPixmap.SP_MessageBoxWarning
        self.tabs.setTabIcon(i, style.standardIcon(icon) if icon is not None else QIcon())

    # -- previews ------------------------------------------------------------------------------
    def _options_changed(self) -> None:
        if self._mode == "importing":
            return
        for entry in self.entries:
            if entry.state != "imported":
                entry.state, entry.report, entry.error = "waiting", None, None
                self._refresh_entry(entry)
        if self._mode == "previewing":
            self._restart_previews = True
            if self._task is not None:
                self._task.cancel()
        else:
            self._start_previews()

    def _start_previews(self) -> None:
        self._queue = [e for e in self.entries if e.state == "waiting"]
        if not self._queue:
            self._set_busy(False)
            return
        self._mode = "previewing"
        self._set_busy(True)
        self._next_preview()

    def _next_preview(self) -> None:
        if self._restart_previews:
            self._restart_previews = False
            self._start_previews()
            return
        if not self._queue:
            self._mode = "idle"
            self._set_busy(False)
            self.previews_finished.emit()
            return
        entry = self._queue.pop(0)
        entry.state = "previewing"
        self._refresh_entry(entry)
        path, actor = entry.path, self.ctx.actor
        make_options = self._options_factory()

        def op(session, progress):
            return import_file(
                session,
                path,
                actor=actor,
                options=make_options(session),
                dry_run=True,
                preview_rows=PREVIEW_ROWS,
                progress=progress,
            )

        def ok(report: FileReport) -> None:
            entry.state, entry.report = "ready", report
            entry.skip_bad_rows = False

        def failed(exc) -> None:
            entry.state, entry.error = "failed", exc.describe()

        def cancelled() -> None:
            if self._restart_previews:
                entry.state, entry.error = "waiting", None
            else:
                entry.state = "failed"
                entry.error = "Reading was cancelled; drop the file again to preview it."

        self._status(f"Reading {path.name}…")
        task = self.ctx.tasks.run(
            op,
            ok,
            failed,
            label=f"Reading {path.name}",
            commit=False,
            on_cancelled=cancelled,
        )
        self._watch(task, entry, self._next_preview)

    # -- import --------------------------------------------------------------------------------
    def importable(self) -> list[FileEntry]:
        return [e for e in self.entries if e.importable]

    def start_import(self) -> None:
        """Import every file that is ready (one transaction per file), in the background."""
        if self.busy:
            return
        self._queue = self.importable()
        if not self._queue:
            return
        self._imported = []
        self._mode = "importing"
        self._set_busy(True)
        self._next_import()

    def _next_import(self) -> None:
        if not self._queue:
            self._finish_import()
            return
        entry = self._queue.pop(0)
        entry.state = "importing"
        self._refresh_entry(entry)
        path, actor, skip = entry.path, self.ctx.actor, entry.skip_bad_rows
        make_options = self._options_factory()

        def op(session, progress):
            return import_file(
                session,
                path,
                actor=actor,
                options=make_options(session),
                skip_bad_rows=skip,
                progress=progress,
            )

        def ok(report: FileReport) -> None:
            entry.state, entry.imported = "imported", report
            self._imported.append(report)

        def failed(exc) -> None:
            entry.state, entry.error = "failed", exc.describe()

        def cancelled() -> None:
            entry.state = "cancelled"
            for rest in self._queue:
                rest.state = "ready"
            self._queue = []

        n = len(self._imported) + 1
        total = n + len(self._queue)
        prefix = (
            f"Importing {path.name}" if total == 1 else f"Importing {n} of {total}: {path.name}"
        )
        self._status(prefix + "…")
        task = self.ctx.tasks.run(op, ok, failed, label=prefix, on_cancelled=cancelled)
        self._watch(task, entry, self._next_import)

    def _finish_import(self) -> None:
        self._mode = "idle"
        self._set_busy(False)
        reports = list(self._imported)
        if reports:
            self.ctx.changed(RECORDS, IMPORTS)
            added = sum(r.new for r in reports)
            self.ctx.notify(
                f"Imported {_plural(len(reports), 'file')}: {_plural(added, 'line')} added"
            )
        self.import_finished.emit(reports)
        if reports and all(e.state == "imported" for e in self.entries if e.report is not None):
            self.accept()

    # -- shared plumbing -----------------------------------------------------------------------
    def _watch(self, task, entry: FileEntry, then) -> None:
        self._task = task
        self.progress_bar.setRange(0, 0)
        task.progressed.connect(self._on_progress)

        def finished() -> None:
            self._task = None
            self._refresh_entry(entry)
            self._update_buttons()
            then()

        task.finished.connect(finished)

    def _on_progress(self, done: int, total: int, text: str) -> None:
        if total > 0:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(min(done, total))
        else:
            self.progress_bar.setRange(0, 0)
        prefix = self._task.label if self._task is not None else ""
        self._status(f"{prefix}: {text}" if text and text != prefix else prefix)

    def _status(self, text: str) -> None:
        self.status_label.setText(text)

    def _set_busy(self, busy: bool) -> None:
        for w in (self.progress_bar, self.cancel_button):
            w.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        importing = self._mode == "importing"
        self.format_combo.setEnabled(not importing)
        self.profile_combo.setEnabled(not importing)
        for p in self.previews:
            p.skip_box.setEnabled(not importing and p.entry.state == "ready")
        if not busy:
            self._status(self._summary())
        self._update_buttons()

    def _summary(self) -> str:
        ready = self.importable()
        if not self.entries:
            return "Drop statement or report files here."
        if not ready:
            return "Nothing to import."
        new = sum(e.report.new for e in ready if e.report is not None)
        return f"Ready: {_plural(new, 'new line')} from {_plural(len(ready), 'file')}."

    def _update_buttons(self, *_args) -> None:
        ready = self.importable()
        self.import_button.setEnabled(not self.busy and bool(ready))
        n = len(ready)
        self.import_button.setText(f"Import {n} files" if n > 1 else "Import")
        if not self.busy:
            self._status(self._summary())

    def cancel(self) -> None:
        """Stop the running preview or import (the current file rolls back) and what is queued."""
        if self._task is not None:
            self.cancel_button.setEnabled(False)
            self._status("Cancelling…")
            self._task.cancel()
        if self._mode == "importing":
            for rest in self._queue:
                rest.state = "ready"
        self._queue = []

    def reject(self) -> None:
        if self.busy:
            self.cancel()
        super().reject()

    # -- drag and drop -------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if local_files(event.mimeData()) and self._mode != "importing":
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        paths = local_files(event.mimeData())
        if paths and self._mode != "importing":
            event.acceptProposedAction()
            self.add_files(paths)
        else:
            event.ignore()


def local_files(mime) -> list[Path]:
    """Local file paths dropped (folders and remote URLs are left out)."""
    if mime is None or not mime.hasUrls():
        return []
    out = []
    for url in mime.urls():
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.is_file():
                out.append(path)
    return out
