"""A page that says what is coming; real pages replace these one by one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


def page_header(title: str, subtitle: str = "") -> QWidget:
    """The title block every page starts with (styled by resources/style.qss)."""
    box = QWidget()
    box.setObjectName("page_header")
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 8)
    layout.setSpacing(2)
    label = QLabel(title)
    label.setObjectName("page_title")
    layout.addWidget(label)
    if subtitle:
        sub = QLabel(subtitle)
        sub.setObjectName("page_subtitle")
        sub.setWordWrap(True)
        layout.addWidget(sub)
    return box


class PlaceholderPage(QWidget):
    """Title plus a short list of what the page will do."""

    TITLE = ""
    SUBTITLE = ""
    COMING: tuple[str, ...] = ()

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(page_header(self.TITLE, self.SUBTITLE))
        items = "".join(f"<li>{line}</li>" for line in self.COMING)
        body = QLabel(f"<p>Coming to this page:</p><ul>{items}</ul>")
        body.setObjectName("placeholder_body")
        body.setTextFormat(Qt.TextFormat.RichText)
        body.setWordWrap(True)
        body.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(body)
        layout.addStretch(1)
