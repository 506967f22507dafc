"""Small widget helpers of the case view: read-only tables, scroll areas, banners, times."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableView,
    QWidget,
)


def when_text(value: dt.datetime | dt.date | None) -> str:
    """A time as local `YYYY-MM-DD HH:MM`, a date as ISO, or a dash when unknown."""
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        local = value.astimezone() if value.tzinfo else value
        return local.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def table_view(name: str, model) -> QTableView:
    """A read-only table of whole rows over `model`."""
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().hide()
    view.setWordWrap(False)
    view.setAlternatingRowColors(True)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return view


def scrolled(widget: QWidget) -> QScrollArea:
    """`widget` in a frameless scroll area, so a short window never forces the pane taller."""
    scroll = QScrollArea()
    scroll.setWidget(widget)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    return scroll


def banner(name: str = "banner") -> QLabel:
    """A wrapping, selectable message label (styled by its `kind`, see `set_kind`)."""
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def set_kind(label: QLabel, kind: str) -> None:
    """Restyle a banner as ok, info, warning or error."""
    label.setProperty("kind", kind)
    label.style().unpolish(label)
    label.style().polish(label)
