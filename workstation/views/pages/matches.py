"""Matches page: every match (auto, confirmed, suggested; rejected on request) as a lazy SQL
table with filters and saved filters, and the selected match's lines beside it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget
from sqlalchemy import select

from ...errors import UserError
from ...models import Match, Source
from ...services.reconcile import rules
from .. import messages
from ..context import CASES, IMPORTS, MATCHES, RECORDS
from ..exceptions import drill
from ..exceptions.export import ask_path, export_table, visible_columns
from ..exceptions.saved import SavedFilters
from ..exceptions.table import QueueTable
from ..matches.detail import MatchDetail
from ..matches.filter_bar import MatchFilterBar
from ..matches.source import DEFAULT_HIDDEN, MatchSource
from ..models.sql_table import SqlTableModel
from .exceptions import _shortcut
from .placeholder import page_header

SETTINGS_GROUP = "matches_page"
WATCHED = (RECORDS, MATCHES, CASES, IMPORTS)


class MatchesPage(QWidget):
    """The matches table (left) and the selected match's lines (right)."""

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.source = MatchSource()
        self.filter_bar = MatchFilterBar()
        self.model = SqlTableModel(
            self.source, ctx.session, filters=self.filter_bar.filters(), page_size=200, parent=self
        )
        self.table = QueueTable(self.model, SETTINGS_GROUP, hidden=DEFAULT_HIDDEN)
        self.table.setObjectName("matches_table")
        self.detail = MatchDetail(ctx)
        self.detail.reselect = self.table.keep_place.want
        self._reload_due = False
        self.count_label = QLabel()
        self.count_label.setObjectName("count_chip")
        self.order_label = QLabel()
        self.order_label.setObjectName("muted")
        self.order_label.setMinimumWidth(20)  # elided by the layout in a narrow window
        self.saved = SavedFilters(ctx, "matches", lambda: self.model.filters)

        self.filter_bar.add_tail(self.saved)
        tools = QHBoxLayout()
        tools.addWidget(self.count_label)
        tools.addWidget(self.order_label, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("matches_splitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setCollapsible(0, False)
        self.splitter.splitterMoved.connect(
            lambda *_a: QSettings().setValue(
                f"{SETTINGS_GROUP}/splitter", self.splitter.saveState()
            )
        )
        state = QSettings().value(f"{SETTINGS_GROUP}/splitter")
        if state is not None:
            self.splitter.restoreState(state)
        else:
            self.splitter.setSizes([800, 520])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 10)
        layout.addWidget(
            page_header(
                "Matches",
                "How orders, PSP lines, payouts and bank lines were tied together: by which "
                "rule, how sure, and what difference is left.",
            )
        )
        layout.addLayout(tools)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.splitter, 1)

        self.filter_bar.changed.connect(self.model.set_filters)
        self.saved.loaded.connect(lambda f: self.filter_bar.set_filters(f))
        self.model.reloaded.connect(self._reloaded)
        self.model.fetch_failed.connect(lambda text: ctx.notify(f"Matches: {text}"))
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        ctx.data_changed.connect(self._data_changed)

        d = self.detail
        self.confirm_action = _shortcut(self, ["Ctrl+Return", "Ctrl+Enter"], d.confirm, "Confirm")
        self.reject_action = _shortcut(self, "Ctrl+R", d.reject, "Reject")
        self.unmatch_action = _shortcut(self, "Ctrl+U", d.unmatch, "Unmatch")
        self.writeoff_action = _shortcut(self, "Ctrl+W", d.write_off, "Write off")
        self._update_labels()
        QTimer.singleShot(0, self._load_choices)

    def _load_choices(self) -> None:
        with self.ctx.session() as s:
            names = [r.name for r in rules.load_rules(s)]
            used = {str(r) for r in s.scalars(select(Match.rule).distinct()) if r}
            currencies = sorted({str(c) for c in s.scalars(select(Source.currency)) if c})
        names += sorted(used - set(names))
        self.filter_bar.set_rules(names)
        self.filter_bar.set_currencies(currencies)

    def _data_changed(self, kind: str) -> None:
        if kind in WATCHED and not self._reload_due:
            self._reload_due = True
            QTimer.singleShot(0, self._reload_now)

    def _reload_now(self) -> None:
        self._reload_due = False
        self.model.reload()

    def reload(self) -> None:
        self.model.reload()

    def apply_filters(self, data: dict) -> None:
        """Drill-down: psp, booked_from, booked_to and any MatchFilters field."""
        try:
            filters = drill.match_filters(dict(data))
        except (UserError, TypeError) as exc:
            messages.show_error(self, str(exc))
            return
        self.filter_bar.set_filters(filters)

    def _reloaded(self) -> None:
        self._update_labels()
        self._current_changed()

    def _update_labels(self) -> None:
        n = self.model.rowCount()
        self.count_label.setText(f"{n:,} match{'es' if n != 1 else ''}")
        self.order_label.setText(self.table.sort_description("By match id"))

    def current_row(self) -> dict | None:
        return self.table.current_row()

    def current_match_id(self) -> int | None:
        row = self.current_row()
        return None if row is None else int(row["id"])

    def select_match(self, match_id: int) -> bool:
        return self.table.select_id(match_id)

    def _current_changed(self, *_args) -> None:
        self.detail.show_match(self.current_row())

    def export_table(self, path: Path | str | None = None):
        """Write the table as shown (filters, order, visible columns) to .xlsx or .csv."""
        target = (
            Path(path) if path is not None else ask_path(self, "Export matches", "matches.xlsx")
        )
        if target is None:
            return None
        return export_table(
            self.ctx,
            make_source=MatchSource,
            columns=visible_columns(self.table),
            filters=self.model.active_filters,
            sort=self.model.sort_spec,
            path=target,
            title="Matches",
        )
