"""Main window: navigation between pages, menus with shortcuts, status bar, drop-to-import."""

from __future__ import annotations

import importlib
import importlib.util
from html import escape
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .. import APP_NAME
from . import crash, messages
from .context import ALL_KINDS, AppContext
from .dialogs.about import AboutDialog
from .dialogs.import_dialog import ImportDialog, local_files
from .pages import PAGES, PageSpec
from .widgets.task_status import TaskStatus

SETTINGS_GROUP = "main_window"
DEMO_ORDERS = 2000
IMPORT_FILTER = (
    "Statements and reports (*.xml *.053 *.052 *.054 *.sta *.mt940 *.940 *.942 *.txt *.bai "
    "*.bai2 *.ofx *.qfx *.csv *.tsv *.xlsx *.xls);;All files (*)"
)


def demo_available() -> bool:
    """True once the demo generator is part of the installed package."""
    try:
        return importlib.util.find_spec("workstation.services.demo.merchant_month") is not None
    except ModuleNotFoundError:
        return False


class BrokenPage(QWidget):
    """Stands in for a page whose construction raised (the crash dialog showed why)."""

    def __init__(self, title: str, error: BaseException, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        label = QLabel(
            f"<h2>{escape(title)}</h2><p>This page could not be opened: "
            f"{escape(type(error).__name__)}: {escape(str(error))}</p>"
        )
        label.setWordWrap(True)
        layout.addWidget(label)
        layout.addStretch(1)


class MainWindow(QMainWindow):
    """The workstation's window. Pages are built on first visit (fast start on big stores)."""

    page_changed = Signal(str)  # page key

    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("main_window")
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self._pages: dict[str, QWidget] = {}
        self._about: AboutDialog | None = None
        self.import_dialog: ImportDialog | None = None

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(184)
        self.nav.setFrameShape(QListWidget.Shape.NoFrame)
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for i, spec in enumerate(PAGES, start=1):
            item = QListWidgetItem(spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.key)
            item.setToolTip(f"{spec.tooltip} (Ctrl+{i})")
            item.setSizeHint(QSize(0, 38))
            self.nav.addItem(item)
        self.stack = QStackedWidget()
        self.stack.setObjectName("pages")
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._build_actions()
        self._build_menus()
        self._build_status_bar()

        ctx.tasks.dialog_parent = self
        ctx.status_posted.connect(self.show_message)
        ctx.import_requested.connect(self.import_files)
        ctx.navigate_requested.connect(self.open_filtered)
        self.nav.currentRowChanged.connect(self._on_nav_row)
        self._restore_settings()

    # -- construction ------------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.import_action = self._action(
            "&Import…", lambda: self.import_files([]), "Ctrl+I", "Import statements and reports"
        )
        self.export_action = self._action(
            "&Export current table…",
            self.export_current_table,
            "Ctrl+E",
            "Save the table on this page as Excel or CSV",
        )
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.undo_action = self.ctx.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = self.ctx.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        self.page_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        group.setExclusive(True)
        for i, spec in enumerate(PAGES, start=1):
            action = self._action(
                spec.title, lambda _=False, k=spec.key: self.show_page(k), f"Ctrl+{i}", spec.tooltip
            )
            action.setCheckable(True)
            group.addAction(action)
            self.page_actions[spec.key] = action
        self.about_action = self._action(f"&About {APP_NAME}", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        for action in (
            self.import_action,
            self.export_action,
            self.quit_action,
            *self.page_actions.values(),
        ):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.import_action)
        file_menu.addAction(self.export_action)
        self.roundtrip_action = self._action(
            "Apply decisions from E&xcel…",
            lambda: self.apply_decisions(),
            tip="Review and apply decisions filled in a workbook exported for Excel",
        )
        file_menu.addAction(self.roundtrip_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        view_menu = bar.addMenu("&View")
        for action in self.page_actions.values():
            view_menu.addAction(action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        status.setObjectName("status_bar")
        self.task_status = TaskStatus(self.ctx.tasks)
        self.database_text = self.ctx.database_label
        self.db_label = QLabel(self.database_text)
        self.db_label.setObjectName("status_database")
        self.db_label.setToolTip(f"Database: {self.database_text}")
        self.user_label = QLabel(f"User: {self.ctx.actor}")
        self.user_label.setObjectName("status_user")
        status.addPermanentWidget(self.task_status)
        status.addPermanentWidget(self.db_label)
        status.addPermanentWidget(self.user_label)
        self._elide_database_label()

    def _elide_database_label(self) -> None:
        metrics = self.db_label.fontMetrics()
        width = max(240, self.width() // 3)
        self.db_label.setText(
            metrics.elidedText(self.database_text, Qt.TextElideMode.ElideMiddle, width)
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide_database_label()

    # -- pages ---------------------------------------------------------------------------------
    def page_keys(self) -> list[str]:
        return [spec.key for spec in PAGES]

    def _spec(self, key: str) -> PageSpec:
        for spec in PAGES:
            if spec.key == key:
                return spec
        raise KeyError(key)

    def page(self, key: str) -> QWidget:
        """The page widget for `key`, built on first use."""
        page = self._pages.get(key)
        if page is None:
            spec = self._spec(key)
            try:
                module = importlib.import_module(f"{__package__}.pages.{spec.module}")
                page = getattr(module, spec.class_name)(self.ctx, self.stack)
            except Exception as exc:  # a broken page must not take the window down
                crash.show_crash(exc, self)
                page = BrokenPage(spec.title, exc, self.stack)
            page.setObjectName(f"page_{key}")
            self._pages[key] = page
            self.stack.addWidget(page)
        return page

    def current_page_key(self) -> str:
        item = self.nav.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else PAGES[0].key

    def current_page(self) -> QWidget:
        return self.page(self.current_page_key())

    def show_page(self, key: str) -> QWidget:
        """Navigate to page `key` (e.g. "imports")."""
        row = self.page_keys().index(key)
        if self.nav.currentRow() != row:
            self.nav.setCurrentRow(row)  # -> _on_nav_row
        else:
            self._on_nav_row(row)
        return self.page(key)

    def open_filtered(self, key: str, filters: dict) -> QWidget | None:
        """Show page `key` with `filters` applied (`page.apply_filters`, when it has one)."""
        if key not in self.page_keys():
            return None
        page = self.show_page(key)
        apply = getattr(page, "apply_filters", None)
        if callable(apply):
            apply(dict(filters))
        return page

    def _on_nav_row(self, row: int) -> None:
        if row < 0:
            return
        key = PAGES[row].key
        page = self.page(key)
        self.stack.setCurrentWidget(page)
        self.page_actions[key].setChecked(True)
        self.export_action.setEnabled(callable(getattr(page, "export_table", None)))
        shown = getattr(page, "page_shown", None)
        if callable(shown):
            shown()
        self.page_changed.emit(key)

    # -- actions -------------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)

    def export_current_table(self) -> None:
        export = getattr(self.current_page(), "export_table", None)
        if callable(export):
            export()

    def apply_decisions(self, path=None):
        """File > Apply decisions from Excel…: the round-trip dialog (asks for the file)."""
        from .dashboard.roundtrip_dialog import RoundtripDialog

        dialog = RoundtripDialog(self.ctx, path, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        if path is None:
            QTimer.singleShot(0, dialog.choose_file)
        return dialog

    def show_about(self) -> AboutDialog:
        if self._about is None:
            self._about = AboutDialog(self.database_text, self.ctx.actor, self)
        self._about.open()
        return self._about

    def import_files(self, paths=None) -> ImportDialog | None:
        """Open the import dialog for `paths` (asks for files when there are none)."""
        paths = [Path(p) for p in (paths or [])]
        if not paths:
            names, _ = QFileDialog.getOpenFileNames(self, "Import files", "", IMPORT_FILTER)
            paths = [Path(n) for n in names]
            if not paths:
                return None
        dialog = self.import_dialog
        if dialog is not None and dialog.isVisible() and dialog._mode != "importing":
            dialog.add_files(paths)
        else:
            if dialog is not None and not dialog.busy:
                dialog.deleteLater()  # a finished one; keep one dialog object at a time
            dialog = ImportDialog(self.ctx, paths, self)
            self.import_dialog = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def offer_demo(self) -> bool:
        """First start on an empty store: offer the demo month; True if it is being loaded."""
        if not demo_available():
            return False
        question = (
            "The database is empty. Load a demo month (about 2,000 orders with Stripe and Adyen "
            "settlements, bank lines and a few disputes) to try the workstation?"
        )
        if not messages.ask(self, "Load demo data?", question, default_yes=True):
            return False
        actor = self.ctx.actor

        def op(session, progress):
            from ..services.demo.merchant_month import load_demo

            return load_demo(session, orders=DEMO_ORDERS, actor=actor, progress=progress)

        def loaded(_report) -> None:
            self.ctx.notify("Demo month loaded")
            self.ctx.changed(*ALL_KINDS)

        self.ctx.tasks.run(op, loaded, label="Loading the demo month")
        return True

    # -- drag and drop -------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if local_files(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        paths = local_files(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        # Open the dialog after the drop has completed, not inside the platform's drag loop.
        QTimer.singleShot(0, lambda: self.import_files(paths))

    # -- settings ------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        settings = QSettings()
        settings.beginGroup(SETTINGS_GROUP)
        geometry = settings.value("geometry")
        state = settings.value("state")
        key = settings.value("page", PAGES[0].key)
        settings.endGroup()
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 760)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        self.show_page(key if key in self.page_keys() else PAGES[0].key)

    def save_settings(self) -> None:
        settings = QSettings()
        settings.beginGroup(SETTINGS_GROUP)
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("state", self.saveState())
        settings.setValue("page", self.current_page_key())
        settings.endGroup()
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        running = self.ctx.tasks.active()
        if running:
            names = ", ".join(t.label for t in running)
            if not messages.ask(
                self,
                "Quit",
                f"Still working: {names}.\n\nCancel it and quit? Nothing it did is kept.",
            ):
                event.ignore()
                return
            self.ctx.tasks.cancel_all()
        self.save_settings()
        if self.import_dialog is not None:
            self.import_dialog.close()
        super().closeEvent(event)
