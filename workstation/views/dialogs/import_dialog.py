"""Import dialog: preview each file (format, account, counts, problems, first rows), then import.

Previews are dry runs in the background (rolled back); the import itself runs one file per
transaction in the background with progress and Cancel, so a cancelled file writes nothing.
A file is imported only once the user decided what the preview asks: skip its bad rows, accept
a statement whose balances do not add up (with a reason).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStyle,
    QTabWidget,
    QVBoxLayout,
)

from ...importers import registry
from ...importers.base import ImportOptions
from ...services.imports.file_import import FileReport, import_file
from ...services.imports.mapping_profiles import list_profiles, load_profile
from ..context import IMPORTS, RECORDS
from .dropped_files import local_files as local_files
from .file_preview import FileEntry, FilePreview, plural

PREVIEW_ROWS = 50


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
            preview.accept_changed.connect(self._update_buttons)
            self.entries.append(entry)
            self.previews.append(preview)
            self.tabs.addTab(preview, path.name)
            self.tabs.setTabToolTip(self.tabs.count() - 1, str(path))
        self._update_title()
        if not self.busy:
            self._start_previews()

    def _update_title(self) -> None:
        n = len(self.entries)
        self.setWindowTitle(f"Import {plural(n, 'file')}" if n != 1 else "Import file")

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

    def _import_op(self, entry: FileEntry, **how):
        """The background op running `import_file` on `entry` with the options chosen now.

        `how` says what kind of run it is (`dry_run` and `preview_rows`, or `skip_bad_rows`).
        """
        path, actor = entry.path, self.ctx.actor
        make_options = self._options_factory()

        def op(session, progress):
            return import_file(
                session, path, actor=actor, options=make_options(session), progress=progress, **how
            )

        return op

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
            elif entry.report.problems or entry.report.unbalanced:
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
        path = entry.path
        op = self._import_op(entry, dry_run=True, preview_rows=PREVIEW_ROWS)

        def ok(report: FileReport) -> None:
            entry.state, entry.report = "ready", report
            entry.reset_decisions()

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
        path = entry.path
        op = self._import_op(
            entry, skip_bad_rows=entry.skip_bad_rows, accept_unbalanced=entry.reason
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
                f"Imported {plural(len(reports), 'file')}: {plural(added, 'line')} added"
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
            p.set_decisions_enabled(not importing)
        if not busy:
            self._status(self._summary())
        self._update_buttons()

    def _summary(self) -> str:
        ready = self.importable()
        if not self.entries:
            return "Drop statement or report files here."
        if not ready:
            if any(e.state == "ready" and e.report and e.report.unbalanced for e in self.entries):
                return "Nothing to import: accept the unbalanced statement, with a reason, first."
            return "Nothing to import."
        new = sum(e.report.new for e in ready if e.report is not None)
        return f"Ready: {plural(new, 'new line')} from {plural(len(ready), 'file')}."

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
