"""About dialog: version, database, Qt and Python versions."""

from __future__ import annotations

import platform
from html import escape

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout

from ... import APP_NAME, __version__


def about_html(database: str, actor: str) -> str:
    rows = (
        ("Version", __version__),
        ("Database", database),
        ("User", actor),
        ("Qt", f"{qVersion()} (PySide6 {pyside_version})"),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("System", platform.platform(terse=True)),
    )
    cells = "".join(
        f"<tr><td style='padding-right:12px;color:#5f6670'>{k}</td><td>{escape(v)}</td></tr>"
        for k, v in rows
    )
    return (
        f"<h2 style='margin-bottom:2px'>{APP_NAME}</h2>"
        "<p>Reconciliation and dispute workstation for payments back-office teams: import "
        "bank statements and PSP reports, match them, work the exceptions and answer "
        f"chargebacks.</p><table>{cells}</table>"
    )


class AboutDialog(QDialog):
    def __init__(self, database: str, actor: str, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("about_dialog")
        self.setWindowTitle(f"About {APP_NAME}")
        self.text = QLabel(about_html(database, actor))
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setMinimumWidth(460)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 12)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
