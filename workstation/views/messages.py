"""Message boxes for expected problems and questions; tests replace `ask` and `critical`."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from .. import APP_NAME
from ..errors import UserError


def _parent(parent: QWidget | None) -> QWidget | None:
    return parent if parent is not None else QApplication.activeWindow()


def show_error(parent: QWidget | None, message: str | UserError, title: str = APP_NAME):
    """A non-blocking warning box for something the user can fix; returns the box."""
    text = message.describe() if isinstance(message, UserError) else str(message)
    box = QMessageBox(
        QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, _parent(parent)
    )
    box.setObjectName("user_error_box")
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def critical(parent: QWidget | None, title: str, text: str) -> None:
    """A blocking error box, for when there is no window to return to (start-up)."""
    QMessageBox.critical(_parent(parent), title, text)


def ask(parent: QWidget | None, title: str, text: str, *, default_yes: bool = False) -> bool:
    """A blocking Yes/No question; True for Yes."""
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    default = QMessageBox.StandardButton.Yes if default_yes else QMessageBox.StandardButton.No
    answer = QMessageBox.question(_parent(parent), title, text, buttons, default)
    return answer == QMessageBox.StandardButton.Yes
