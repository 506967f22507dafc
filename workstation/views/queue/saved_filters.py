"""Saved filters of a queue page: a combo to load, Save… and Delete (per page and owner)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QInputDialog, QToolButton, QWidget

from ...errors import UserError
from ...services.reconcile import table_queries
from .. import messages


def ask_name(parent) -> str | None:
    """The name to save the filters under (None: cancelled)."""
    text, ok = QInputDialog.getText(parent, "Save filter", "Name of this filter:")
    return text.strip() if ok and text.strip() else None


class SavedFilters(QWidget):
    """`loaded(filters)` when the clerk picks a saved filter; `current` gives the filters to save.

    Args:
        ctx: the AppContext.
        page: "exceptions" or "matches".
        current: returns the filters shown now (what Save… stores).
    """

    loaded = Signal(object)

    def __init__(self, ctx, page: str, current, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.page = page
        self.current = current
        self.combo = QComboBox()
        self.combo.setObjectName("saved_filters")
        self.combo.setToolTip("Saved filters")
        self.combo.setMinimumContentsLength(12)
        self.combo.setMinimumWidth(64)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.save_button = QToolButton()
        self.save_button.setText("Save…")
        self.save_button.setToolTip("Save the current filters under a name")
        self.delete_button = QToolButton()
        self.delete_button.setText("Delete")
        self.delete_button.setToolTip("Delete the saved filter chosen on the left")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.combo)
        layout.addWidget(self.save_button)
        layout.addWidget(self.delete_button)
        self.save_button.clicked.connect(lambda: self.save())
        self.delete_button.clicked.connect(lambda: self.delete())
        self.combo.activated.connect(self._picked)
        self.refresh()

    def refresh(self, select_id: int | None = None) -> None:
        with self.ctx.session() as s:
            items = table_queries.list_filters(s, self.page, self.ctx.actor)
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem("Saved filters", None)
        for fid, name in items:
            self.combo.addItem(name, fid)
        i = self.combo.findData(select_id) if select_id is not None else 0
        self.combo.setCurrentIndex(max(0, i))
        self.combo.blockSignals(False)
        self.delete_button.setEnabled(self.combo.currentData() is not None)

    def names(self) -> list[str]:
        return [self.combo.itemText(i) for i in range(1, self.combo.count())]

    def save(self, name: str | None = None) -> int | None:
        name = name or ask_name(self)
        if not name:
            return None
        try:
            with self.ctx.session() as s:
                fid = table_queries.save_filter(
                    s, self.page, self.ctx.actor, name, self.current(), actor=self.ctx.actor
                )
        except UserError as exc:
            messages.show_error(self, exc)
            return None
        self.refresh(fid)
        self.ctx.notify(f"Filter “{name}” saved")
        return fid

    def load(self, name: str) -> bool:
        i = self.combo.findText(name)
        if i <= 0:
            return False
        self.combo.setCurrentIndex(i)
        self._picked(i)
        return True

    def _picked(self, i: int) -> None:
        fid = self.combo.itemData(i)
        self.delete_button.setEnabled(fid is not None)
        if fid is None:
            return
        try:
            with self.ctx.session() as s:
                filters = table_queries.load_filter(s, int(fid))
        except UserError as exc:
            messages.show_error(self, exc)
            return
        self.loaded.emit(filters)

    def delete(self) -> bool:
        fid = self.combo.currentData()
        if fid is None:
            return False
        name = self.combo.currentText()
        try:
            with self.ctx.session() as s:
                table_queries.delete_filter(s, int(fid), actor=self.ctx.actor)
        except UserError as exc:
            messages.show_error(self, exc)
            return False
        self.refresh()
        self.ctx.notify(f"Filter “{name}” deleted")
        return True
