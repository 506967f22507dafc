"""Keeping a table's place across reloads of its lazy model (same rows, else the next one)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QObject, Signal

from ..models.sql_table import ID_ROLE, SqlTableModel


class KeepPlace(QObject):
    """Keeps a view's selection and scroll position across reloads of a `SqlTableModel`.

    Before a reset it remembers the ids of the selected rows (up to `max_ids`), the current row
    and the top visible row; afterwards it selects the same ids wherever they now are (looking
    around the old position first) and restores the scroll position.
    """

    restored = Signal(int)  # rows re-selected

    def __init__(self, view, model: SqlTableModel, max_ids: int = 1000) -> None:
        super().__init__(view)
        self.view = view
        self.model = model
        self.max_ids = max_ids
        self._saved: tuple[list[tuple[Hashable, int]], Hashable | None, int, int, Any] | None = None
        model.modelAboutToBeReset.connect(self._capture)
        model.modelReset.connect(self._restore)

    def _capture(self) -> None:
        selection = self.view.selectionModel()
        picked: list[tuple[Hashable, int]] = []
        current_id = None
        current_row = -1
        if selection is not None:
            for index in selection.selectedRows()[: self.max_ids]:
                rid = self.model.data(index, ID_ROLE)
                if rid is not None:
                    picked.append((rid, index.row()))
            current = selection.currentIndex()
            if current.isValid():
                current_id = self.model.data(current, ID_ROLE)
                current_row = current.row()
        scroll = self.view.verticalScrollBar().value()
        self._saved = (
            picked,
            current_id,
            current_row,
            scroll,
            (self.model.sort_spec, self.model.filters),
        )

    def _restore(self) -> None:
        if self._saved is None:
            return
        picked, current_id, current_row, scroll, old_query = self._saved
        self._saved = None
        model = self.model
        # Same query (data changed): stay where the user was. New order or filters: the top,
        # unless the current row is still there (then it is scrolled into view).
        same_order = (model.sort_spec, model.filters) == old_query
        self.view.verticalScrollBar().setValue(scroll if same_order else 0)
        selection = self.view.selectionModel()
        if selection is None or not (picked or current_id is not None):
            return
        found = QItemSelection()
        rows = 0
        last_col = max(0, model.columnCount() - 1)
        for rid, old in picked:
            r = model.find_row(rid, near=old)
            if r >= 0:
                found.select(model.index(r, 0), model.index(r, last_col))
                rows += 1
        if rows:
            selection.select(
                found,
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
        if current_id is not None:
            r = model.find_row(current_id, near=current_row)
            if r >= 0:
                selection.setCurrentIndex(
                    model.index(r, 0), QItemSelectionModel.SelectionFlag.NoUpdate
                )
                if not same_order:
                    self.view.scrollTo(model.index(r, 0))
        self.restored.emit(rows)

    def select_row(self, r: int) -> None:
        """Make row `r` current and the only selected row, scrolled into view."""
        index = self.model.index(r, 0)
        self.view.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.view.scrollTo(index)


class KeepPlaceOrNext(KeepPlace):
    """`KeepPlace`, and when the current row is gone (matched away, filtered out) the row that
    took its position becomes current, so the clerk continues where they were.

    `want(row_id)` asks the next reload to select that row instead (e.g. after an undo brings a
    record back).
    """

    FOLLOWING = 25  # rows after the current one remembered, to find "the next row" again

    def __init__(self, view, model: SqlTableModel) -> None:
        super().__init__(view, model)
        self._wanted = None
        self._following: list = []

    def want(self, row_id) -> None:
        self._wanted = row_id

    def _capture(self) -> None:
        super()._capture()
        self._following = []
        current = self.view.currentIndex()
        if current.isValid():
            for r in range(current.row() + 1, current.row() + 1 + self.FOLLOWING):
                row = self.model.cached_row(r)
                if row is None:
                    break
                self._following.append(self.model.source.row_id(row))

    def _restore(self) -> None:
        saved = self._saved
        following, self._following = self._following, []
        super()._restore()
        model = self.model
        selection = self.view.selectionModel()
        if selection is None or model.rowCount() == 0:
            self._wanted = None
            return
        wanted, self._wanted = self._wanted, None
        old_row = saved[2] if saved is not None else -1
        if wanted is not None:
            r = model.find_row(wanted, near=max(0, old_row))
            if r >= 0:
                self.select_row(r)
                return
        if saved is None or old_row < 0:
            return
        current = selection.currentIndex()
        if current.isValid() and selection.isRowSelected(current.row()):
            return
        # The current row is gone: the next surviving row, else whatever is now at its place.
        near = max(0, old_row - 1)
        where = self._positions_near(near)
        for row_id in following:
            if row_id in where:
                self.select_row(where[row_id])
                return
        self.select_row(min(old_row, model.rowCount() - 1))

    def _positions_near(self, near: int) -> dict:
        """row id -> position for the rows around `near` (one or two pages read)."""
        model = self.model
        lo = max(0, near - self.FOLLOWING)
        hi = min(model.rowCount(), near + 2 * self.FOLLOWING)
        out = {}
        for r in range(lo, hi):
            row = model.row(r)
            if row is not None:
                out[model.source.row_id(row)] = r
        return out
