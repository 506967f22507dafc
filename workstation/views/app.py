"""Application start: QApplication, style, database, user, main window, first-start demo offer."""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from .. import APP_NAME, ORG_NAME, __version__
from ..config import current_login
from ..db import Database, is_empty
from ..errors import UserError
from ..paths import resources_dir
from ..services.common.users import ensure_user
from . import crash, messages
from .context import AppContext
from .main_thread_gc import MainThreadCollector
from .main_window import MainWindow


def stylesheet() -> str:
    """The application stylesheet (empty if the file is missing)."""
    try:
        return (resources_dir() / "style.qss").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return ""


def set_application_names() -> None:
    """Organisation/application names: QSettings keys and window titles derive from them."""
    QCoreApplication.setOrganizationName(ORG_NAME)
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)


def application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once), styled: Fusion plus resources/style.qss."""
    set_application_names()
    app = QApplication.instance()
    if app is None:
        # Qt 6 scales for high DPI by itself; only keep fractional factors (125 %, 150 %) exact.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setStyle("Fusion")
    # The stylesheet's accents are drawn for a light scheme; keep one look everywhere.
    hints = app.styleHints()
    if hasattr(hints, "setColorScheme"):
        hints.setColorScheme(Qt.ColorScheme.Light)
    app.setStyleSheet(stylesheet())
    icon = resources_dir() / "icons" / "workstation.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def open_main_window(db_url: str | None, actor: str | None = None) -> MainWindow | None:
    """Open the database (migrating it), register the user, show the window.

    Returns None after telling the user why, when the database cannot be opened.
    """
    actor = actor or current_login()
    try:
        db = Database(db_url)
        with db.session() as s:
            ensure_user(s, actor)
        empty = is_empty(db.engine)
    except UserError as exc:
        messages.critical(
            None,
            f"{APP_NAME}: cannot open the database",
            f"{exc.describe()}\n\nCheck the --db option or the WORKSTATION_DB variable.",
        )
        return None
    ctx = AppContext(db, actor)
    window = MainWindow(ctx)
    window.show()
    if empty:
        QTimer.singleShot(0, window.offer_demo)  # after the window is on screen
    return window


def run_app(db_url: str | None) -> int:
    """Start the desktop application; returns the exit code."""
    app = application()
    collector = MainThreadCollector(app)  # Qt objects are collected on the GUI thread only
    crash.install()
    window = open_main_window(db_url)
    if window is None:
        return 1
    # Everything built so far (modules, Qt wrappers, the window) lives as long as the app: keep
    # it out of the garbage collector's full passes, which otherwise walk it each time and
    # freeze the UI for tens of milliseconds while big background work allocates.
    gc.freeze()
    try:
        return app.exec()
    finally:
        window.ctx.shutdown()
        window.ctx.db.dispose()
        collector.stop()
