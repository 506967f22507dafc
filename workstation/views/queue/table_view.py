"""Table views over a lazy `SqlTableModel`: header sorts in SQL, place kept, queue habits."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QApplication, QHeaderView, QMenu, QTableView

from ..models.sql_table import ROW_ROLE, SqlTableModel
from .keep_place import KeepPlace, KeepPlaceOrNext

COPY_LIMIT = 20_000  # rows; copying more would read the whole table into the clipboard


def configure_view(view, model: SqlTableModel, row_height: int | None = None) -> None:
    """Set up a QTableView for a big lazy model: fixed row heights, column widths, no wrap."""
    view.setModel(model)
    vertical = view.verticalHeader()
    vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # never measure 1M rows
    vertical.setDefaultSectionSize(row_height or view.fontMetrics().height() + 10)
    view.setWordWrap(False)
    for i, column in enumerate(model.columns):
        if column.width:
            view.setColumnWidth(i, column.width)


class LazyTableView(QTableView):
    """Rows selected whole, a header click sorts in SQL, the place is kept across reloads.

    Signals:
        sort_refused(str): the header of a column that cannot be sorted was clicked.
    """

    sort_refused = Signal(str)
    KEEP_PLACE: type[KeepPlace] = KeepPlace

    def __init__(self, model: SqlTableModel, parent=None) -> None:
        super().__init__(parent)
        configure_view(self, model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setSortingEnabled(False)  # the header drives model.sort (below)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicatorClearable(True)
        header.setSectionsClickable(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        header.sortIndicatorChanged.connect(self._sort_clicked)
        self.keep_place = self.KEEP_PLACE(self, model)

    @property
    def sql_model(self) -> SqlTableModel:
        return self.model()

    def current_row(self) -> dict | None:
        """The row under the cursor, as the source returned it (None without one)."""
        index = self.currentIndex()
        if not index.isValid():
            return None
        model = self.sql_model
        return model.data(model.index(index.row(), 0), ROW_ROLE)

    def select_id(self, row_id) -> bool:
        """Select the row with this id if the model finds it; False when it is not there."""
        r = self.sql_model.find_row(row_id, near=0)
        if r < 0:
            return False
        self.keep_place.select_row(r)
        return True

    def sort_description(self, default: str) -> str:
        """`By amount, descending`, or `default` for the source's own order."""
        model = self.sql_model
        spec = model.sort_spec
        if spec is None:
            return default
        name = next((c.header for c in model.columns if c.sort_key == spec.key), spec.key)
        return f"By {name.lower()}, {'descending' if spec.descending else 'ascending'}"

    def _sort_clicked(self, section: int, order: Qt.SortOrder) -> None:
        model = self.sql_model
        column = model.columns[section] if 0 <= section < len(model.columns) else None
        if column is not None and not column.sortable:
            spec = model.sort_spec
            keys = [c.sort_key for c in model.columns]
            back = keys.index(spec.key) if spec and spec.key in keys else -1
            desc = spec is not None and spec.descending
            header = self.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(
                back, Qt.SortOrder.DescendingOrder if desc else Qt.SortOrder.AscendingOrder
            )
            header.blockSignals(False)
            self.sort_refused.emit(column.header)
            return
        model.sort(section, order)


class QueueTable(LazyTableView):
    """A `LazyTableView` with the habits of a work queue: movable columns and a column chooser
    (remembered under `settings_key`), Ctrl+C copies the selection as TSV, J/K move, and when the
    current row goes away the one that took its place becomes current.

    Signals:
        open_requested(): Enter on a row (open the workspace).
        column_visibility_changed(): the column chooser changed what is shown.
    """

    open_requested = Signal()
    column_visibility_changed = Signal()
    KEEP_PLACE = KeepPlaceOrNext
    keep_place: KeepPlaceOrNext

    def __init__(self, model: SqlTableModel, settings_key: str, hidden=(), parent=None) -> None:
        super().__init__(model, parent)
        self.settings_key = settings_key
        header = self.horizontalHeader()
        header.setSectionsMovable(True)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        self._restore_columns(hidden)
        copy = QAction("Copy", self)
        copy.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selection)
        self.addAction(copy)
        self.copy_action = copy

    # -- columns -------------------------------------------------------------------------------
    def _settings_name(self) -> str:
        return f"{self.settings_key}/hidden_columns"

    def _restore_columns(self, default_hidden) -> None:
        saved = QSettings().value(self._settings_name())
        if saved is None:
            hidden = set(default_hidden)
        elif isinstance(saved, str):
            hidden = {saved} if saved else set()
        else:
            hidden = {str(k) for k in saved}
        for i, column in enumerate(self.sql_model.columns):
            self.setColumnHidden(i, column.key in hidden)

    def hidden_columns(self) -> list[str]:
        return [c.key for i, c in enumerate(self.sql_model.columns) if self.isColumnHidden(i)]

    def set_column_visible(self, key: str, visible: bool) -> None:
        keys = [c.key for c in self.sql_model.columns]
        i = keys.index(key)
        if not visible and len(self.hidden_columns()) >= len(keys) - 1:
            return  # keep at least one column
        self.setColumnHidden(i, not visible)
        QSettings().setValue(self._settings_name(), self.hidden_columns())
        self.column_visibility_changed.emit()

    def column_menu(self) -> QMenu:
        """The column chooser (the header's context menu)."""
        menu = QMenu(self)
        menu.setObjectName("column_chooser")
        for i, column in enumerate(self.sql_model.columns):
            action = menu.addAction(column.header)
            action.setCheckable(True)
            action.setChecked(not self.isColumnHidden(i))
            action.setData(column.key)
            action.toggled.connect(lambda on, k=column.key: self.set_column_visible(k, on))
        return menu

    def _header_menu(self, pos) -> None:
        menu = self.column_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.horizontalHeader().mapToGlobal(pos))

    # -- copy ----------------------------------------------------------------------------------
    def selection_text(self) -> str:
        """The selected cells of visible columns as TSV (rows in table order)."""
        selection = self.selectionModel()
        if selection is None:
            return ""
        rows: dict[int, set[int]] = {}
        for rng in selection.selection():
            for r in range(rng.top(), min(rng.bottom(), rng.top() + COPY_LIMIT) + 1):
                rows.setdefault(r, set()).update(range(rng.left(), rng.right() + 1))
            if len(rows) >= COPY_LIMIT:
                break
        if not rows:
            return ""
        header = self.horizontalHeader()
        used = sorted(
            {c for cols in rows.values() for c in cols if not self.isColumnHidden(c)},
            key=header.visualIndex,
        )
        model = self.sql_model
        lines = []
        for r in sorted(rows)[:COPY_LIMIT]:
            cells = []
            for c in used:
                text = model.data(model.index(r, c)) if c in rows[r] else ""
                cells.append(str(text or "").replace("\t", " ").replace("\n", " "))
            lines.append("\t".join(cells))
        return "\n".join(lines)

    def copy_selection(self) -> int:
        """Copy the selection to the clipboard; returns the rows copied."""
        text = self.selection_text()
        if text:
            QApplication.clipboard().setText(text)
        return text.count("\n") + 1 if text else 0

    # -- keys ----------------------------------------------------------------------------------
    def move_current(self, step: int) -> None:
        model = self.sql_model
        if model.rowCount() == 0:
            return
        current = self.currentIndex()
        r = current.row() if current.isValid() else -1
        r = max(0, min(model.rowCount() - 1, r + step))
        self.keep_place.select_row(r)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        plain = not (
            event.modifiers()
            & (
                Qt.KeyboardModifier.ControlModifier
                | Qt.KeyboardModifier.AltModifier
                | Qt.KeyboardModifier.MetaModifier
            )
        )
        if plain and key == Qt.Key.Key_J:
            self.move_current(1)
            return
        if plain and key == Qt.Key.Key_K:
            self.move_current(-1)
            return
        if plain and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_requested.emit()
            return
        super().keyPressEvent(event)
