"""Crash reporting: an unexpected exception shows its traceback in a dialog and the app goes on."""

from __future__ import annotations

import logging
import platform
import sys
import traceback
from types import TracebackType

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import APP_NAME, __version__
from ..errors import UserError
from . import messages

log = logging.getLogger(__name__)

_previous_hook = None
_open_dialog: CrashDialog | None = None


def format_report(exc: BaseException) -> str:
    """Versions plus the full traceback: what a developer needs from a bug report."""
    header = (
        f"{APP_NAME} {__version__}, Python {platform.python_version()}, "
        f"Qt {qVersion()}, PySide6 {pyside_version}, {platform.platform()}"
    )
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"{header}\n\n{tb}"


class CrashDialog(QDialog):
    """Shows a traceback with a Copy button; closing it returns to the application."""

    def __init__(self, report: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crash_dialog")
        self.setWindowTitle(f"{APP_NAME}: unexpected error")
        self.resize(720, 420)
        intro = QLabel(
            "Something went wrong that should not have. The application keeps running; "
            "please copy the details below into a bug report."
        )
        intro.setWordWrap(True)
        self.text = QPlainTextEdit(report)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("&Copy details")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_report)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)

    @property
    def report(self) -> str:
        return self.text.toPlainText()

    def append_report(self, report: str) -> None:
        """Another error while this dialog is open: add it instead of stacking dialogs."""
        self.text.appendPlainText("\n" + "-" * 60 + "\n" + report)

    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report)
        self.copy_button.setText("Copied")


def show_crash(exc: BaseException, parent: QWidget | None = None) -> CrashDialog | None:
    """Report an unexpected exception; returns the dialog (None without a QApplication)."""
    global _open_dialog
    report = format_report(exc)
    log.error("unexpected error\n%s", report)
    if QApplication.instance() is None:
        sys.stderr.write(report)
        return None
    if _open_dialog is not None:
        _open_dialog.append_report(report)
        return _open_dialog
    dialog = CrashDialog(report, parent if parent is not None else QApplication.activeWindow())
    dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
    _open_dialog = dialog
    try:
        dialog.exec()
    finally:
        _open_dialog = None
    return dialog


def _hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if QApplication.instance() is None or issubclass(exc_type, KeyboardInterrupt):
        (_previous_hook or sys.__excepthook__)(exc_type, exc, tb)
        return
    if exc.__traceback__ is None:
        exc = exc.with_traceback(tb)
    if isinstance(exc, UserError):
        messages.show_error(None, exc)  # an expected problem raised from a slot: not a crash
        return
    show_crash(exc)


def install() -> None:
    """Route uncaught exceptions (including those raised in Qt slots) to the crash dialog."""
    global _previous_hook
    if sys.excepthook is not _hook:
        _previous_hook = sys.excepthook
        sys.excepthook = _hook


def uninstall() -> None:
    """Restore the previous exception hook."""
    global _previous_hook
    if sys.excepthook is _hook:
        sys.excepthook = _previous_hook or sys.__excepthook__
    _previous_hook = None
