"""A small read-only table model over a list of row dicts, with money/int/date formatting.

For short lists only (an import preview, problems, import batches); big tables page through SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from ...money import format_minor
from .cell_text import plain_text

NEGATIVE = QColor("#a11d1d")
MUTED = QColor("#8a8f98")
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


@dataclass(frozen=True)
class Column:
    """One column: row key, header, kind (text, int, money, date, datetime) and tooltip."""

    key: str
    title: str
    kind: str = "text"
    currency_key: str = "currency"  # money: the row key holding the ISO 4217 code
    tooltip: str | None = None

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "money")


def is_missing(value: Any) -> bool:
    """None, NaN, NaT or pd.NA."""
    if value is None:
        return True
    if isinstance(value, str | dict | list | tuple):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_value(column: Column, value: Any, row: Mapping[str, Any]) -> str:
    """Display text of one cell."""
    if is_missing(value):
        return ""
    if column.kind == "money":
        currency = row.get(column.currency_key)
        return format_minor(int(value), None if is_missing(currency) else str(currency))
    return plain_text(column.kind, value)


class RowsTableModel(QAbstractTableModel):
    """Rows (dicts) shown through `Column`s; `row(i)` gives the dict back.

    Args:
        columns: what to show.
        rows: the data.
        muted: rows for which this returns True are drawn grey (e.g. undone batches).
    """

    def __init__(
        self,
        columns: Sequence[Column],
        rows: Sequence[Mapping[str, Any]] = (),
        parent=None,
        *,
        muted: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self._rows: list[Mapping[str, Any]] = list(rows)
        self._muted = muted

    # -- ours --------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row(self, i: int) -> Mapping[str, Any]:
        return self._rows[i]

    def rows(self) -> list[Mapping[str, Any]]:
        return list(self._rows)

    @classmethod
    def from_frame(cls, columns: Sequence[Column], frame: pd.DataFrame | None, parent=None):
        """Model over a (small) DataFrame such as an import preview."""
        rows = [] if frame is None or frame.empty else frame.to_dict("records")
        return cls(columns, rows, parent)

    # -- Qt ----------------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        column = self.columns[index.column()]
        row = self._rows[index.row()]
        value = row.get(column.key)
        if role == Qt.ItemDataRole.DisplayRole:
            return format_value(column, value, row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column.numeric else _LEFT
        if role == Qt.ItemDataRole.ForegroundRole:
            if self._muted is not None and self._muted(row):
                return QBrush(MUTED)
            if column.kind == "money" and not is_missing(value) and int(value) < 0:
                return QBrush(NEGATIVE)
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            text = format_value(column, value, row)
            return text if len(text) > 40 else None
        if role == Qt.ItemDataRole.UserRole:
            return None if is_missing(value) else value
        return None

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns):
            column = self.columns[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return column.title
            if role == Qt.ItemDataRole.ToolTipRole:
                return column.tooltip
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return _RIGHT if column.numeric else _LEFT
            return None
        return super().headerData(section, orientation, role)
