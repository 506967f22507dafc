"""The evidence checklist of a case: what wins this kind of dispute, ticked when on file."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QLabel, QListWidget, QListWidgetItem

from ...services.disputes.reason_codes import checklists
from .source import words


class ChecklistSection:
    """The checklist's title and list, filled from a case's `Checklist`."""

    def __init__(self) -> None:
        self.title = QLabel()
        self.title.setObjectName("section_title")
        self.list = QListWidget()
        self.list.setObjectName("checklist")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.setWordWrap(True)

    def show(self, cl) -> None:
        """One ticked or unticked entry per item; missing required items in bold."""
        self.title.setText(
            f"Checklist · {cl.title}: {cl.required_done} of {cl.required_total} required "
            "items on file"
        )
        self.list.clear()
        labels = checklists()["kinds"]
        for item in cl.items:
            text = item.label + ("" if item.required else "  (optional)")
            entry = QListWidgetItem(text)
            entry.setFlags(Qt.ItemFlag.ItemIsEnabled)
            entry.setData(
                Qt.ItemDataRole.CheckStateRole,
                Qt.CheckState.Checked if item.done else Qt.CheckState.Unchecked,
            )
            entry.setData(Qt.ItemDataRole.UserRole, item.id)
            if item.done:
                entry.setToolTip("On file: " + ", ".join(item.satisfied_by))
            else:
                need = [labels.get(k, k) for k in item.kinds]
                need += [f"the {words(f)} text" for f in item.text_fields]
                entry.setToolTip("Attach or fill: " + "; ".join(need))
            if item.required and not item.done:
                font = entry.font()
                font.setBold(True)
                entry.setFont(font)
            self.list.addItem(entry)
        rows = sum(self.list.sizeHintForRow(i) for i in range(self.list.count()))
        frame = 2 * self.list.frameWidth()
        self.list.setFixedHeight(min(200, rows + frame + 4))

    def state(self) -> dict[str, bool]:
        """Checklist item id -> done, as shown."""
        out = {}
        for i in range(self.list.count()):
            item = self.list.item(i)
            out[item.data(Qt.ItemDataRole.UserRole)] = item.checkState() == Qt.CheckState.Checked
        return out
