"""A short list of rows with a check box in the first column (candidates, match members)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal

from ..models.table import Column, RowsTableModel

_CHECK = Qt.ItemDataRole.CheckStateRole


class CheckableRowsModel(RowsTableModel):
    """`RowsTableModel` whose rows can be ticked (column 0); `checked_changed` on every tick."""

    checked_changed = Signal()

    def __init__(self, columns: Sequence[Column], rows=(), parent=None, *, muted=None) -> None:
        super().__init__(columns, rows, parent, muted=muted)
        self._checked: set[int] = set()

    def set_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self._checked = set()
        super().set_rows(rows)
        self.checked_changed.emit()

    def checked_rows(self) -> list[int]:
        return sorted(self._checked)

    def is_checked(self, row: int) -> bool:
        return row in self._checked

    def set_checked(self, row: int, on: bool) -> None:
        if not 0 <= row < self.rowCount():
            return
        if on == (row in self._checked):
            return
        (self._checked.add if on else self._checked.discard)(row)
        index = self.index(row, 0)
        self.dataChanged.emit(index, index, [_CHECK])
        self.checked_changed.emit()

    def toggle(self, row: int) -> None:
        self.set_checked(row, row not in self._checked)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() == 0:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if role == _CHECK:
            if not index.isValid() or index.column() != 0 or index.row() >= self.rowCount():
                return None
            return (
                Qt.CheckState.Checked if index.row() in self._checked else Qt.CheckState.Unchecked
            )
        return super().data(index, role)

    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role=_CHECK) -> bool:
        if role != _CHECK or not index.isValid() or index.column() != 0:
            return False
        state = Qt.CheckState(value) if isinstance(value, int) else value
        self.set_checked(index.row(), state == Qt.CheckState.Checked)
        return True
