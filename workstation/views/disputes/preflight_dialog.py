"""The pre-flight report of a representment package, shown before the package is saved."""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout

from .case_widgets import set_kind


class PreflightDialog(QDialog):
    """The pre-flight report before a package is saved; `accepted` means go on."""

    def __init__(self, report, case_name: str, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("preflight_dialog")
        self.setWindowTitle(f"Pre-flight: {case_name}")
        self.report = report
        self.force = not report.ok
        head = QLabel()
        head.setObjectName("banner")
        head.setWordWrap(True)
        if report.ok:
            head.setText(
                f"Ready: {report.pages} pages, {report.pdf_bytes / 1e6:.2f} MB. "
                "Warnings below do not block the package."
            )
            set_kind(head, "ok")
        else:
            failed = "; ".join(c.message for c in report.failures if c.severity == "error")
            head.setText(f"The package breaks a limit: {failed}. The PSP may reject it.")
            set_kind(head, "error")
        body = QPlainTextEdit(report.text())
        body.setObjectName("preflight_text")
        body.setReadOnly(True)
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.TypeWriter)
        body.setFont(font)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = buttons.addButton(
            "Save package…" if report.ok else "Save anyway…",
            QDialogButtonBox.ButtonRole.AcceptRole,
        )
        self.save_button.setObjectName("preflight_save")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(head)
        layout.addWidget(body, 1)
        layout.addWidget(buttons)
        self.resize(640, 380)
