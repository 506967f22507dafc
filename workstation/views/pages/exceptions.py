"""Exceptions page: every unmatched line and suggested match as a lazy SQL table, with filters,
saved filters, bulk case work, Reconcile now / Rules…, and the match workspace beside it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import shiboken6
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import select

from ...errors import UserError
from ...models import Source
from ...services.common.users import list_users
from ...services.reconcile import cases
from ...services.reconcile.queue_counts import load_facets
from ...services.reconcile.table_queries import ExceptionFilters
from .. import messages
from ..context import CASES, IMPORTS, MATCHES, RECORDS
from ..exceptions import drill, prompts
from ..exceptions.commands import run_case_action
from ..exceptions.export import ask_path, export_table, visible_columns
from ..exceptions.filter_bar import ExceptionFilterBar
from ..exceptions.reconcile import ReconcileController, ReconcilePanel
from ..exceptions.rules_dialog import RulesDialog
from ..exceptions.saved import SavedFilters
from ..exceptions.source import DEFAULT_HIDDEN, ExceptionSource
from ..exceptions.table import QueueTable
from ..exceptions.workspace import MatchWorkspace
from ..models.sql_table import SqlTableModel
from .placeholder import page_header

SETTINGS_GROUP = "exceptions_page"
WATCHED = (RECORDS, MATCHES, CASES, IMPORTS)
BULK_LIMIT = 5000  # rows a bulk case action takes at once
TOOLBAR_STYLE = (
    "QToolBar { border: none; spacing: 6px; padding: 0; }"
    "QToolButton { border: 1px solid #c3cbd6; border-radius: 3px; padding: 3px 9px;"
    " background: #f7f9fb; }"
    "QToolButton:hover { background: #e8eef5; }"
    "QToolButton:disabled { color: #8a8f98; background: #f2f4f7; }"
)


def _shortcut(parent: QWidget, keys, slot, text: str) -> QAction:
    action = QAction(text, parent)
    sequences = [QKeySequence(k) for k in (keys if isinstance(keys, list | tuple) else [keys])]
    action.setShortcuts(sequences)
    action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    action.triggered.connect(slot)
    parent.addAction(action)
    return action


class ExceptionsPage(QWidget):
    """The clerk's queue (left) and the match workspace (right).

    Signals:
        record_changed(object): the record the workspace shows (id or None).
    """

    record_changed = Signal(object)
    # Below this many open lines every count is a quick index scan: no facet counts needed.
    FACETS_FROM = 100_000

    def __init__(self, ctx, parent=None, *, today: dt.date | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.source = ExceptionSource(today)
        self.filter_bar = ExceptionFilterBar(ctx.actor)
        self.model = SqlTableModel(
            self.source, ctx.session, filters=self.filter_bar.filters(), page_size=200, parent=self
        )
        self.table = QueueTable(self.model, SETTINGS_GROUP, hidden=DEFAULT_HIDDEN)
        self.table.setObjectName("exceptions_table")
        self.workspace = MatchWorkspace(ctx)
        self.workspace.reselect = self.table.keep_place.want
        self._workspace_closed = False
        self._facets_seq = 0
        self._reload_due = False
        self._loaded_on = dt.date.today()

        self.count_label = QLabel()
        self.count_label.setObjectName("count_chip")
        self.order_label = QLabel()
        self.order_label.setObjectName("muted")
        self.order_label.setMinimumWidth(20)  # elided by the layout in a narrow window
        self.saved = SavedFilters(ctx, "exceptions", lambda: self.model.filters)

        # A tool bar: in a narrow window the buttons that do not fit move into its » menu.
        self.toolbar = QToolBar("Exceptions")
        self.toolbar.setObjectName("exceptions_toolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.setStyleSheet(TOOLBAR_STYLE)

        def tool(text: str, tip: str, name: str) -> QToolButton:
            action = self.toolbar.addAction(text)
            action.setIconText(text)  # keep the "…" of a button that asks something
            action.setToolTip(tip)
            button = self.toolbar.widgetForAction(action)
            button.setObjectName(name)
            return button

        self.reconcile_button = tool(
            "Reconcile now",
            "Run the match cascade over every open line in the background (Ctrl+Shift+R)",
            "reconcile_button",
        )
        self.rules_button = tool(
            "Rules…", "The match rules in order: enable, auto-confirm, simulate", "rules_button"
        )
        self.toolbar.addSeparator()
        self.assign_button = tool("Assign…", "Assign the selected cases", "assign_button")
        self.pending_button = tool(
            "Pending", "Mark the selected cases as waiting on someone", "pending_button"
        )
        self.resolve_button = tool(
            "Resolve…", "Resolve the selected cases with a reason", "resolve_button"
        )
        self.reopen_button = tool("Reopen", "Reopen the selected resolved cases", "reopen_button")
        self.panel = ReconcilePanel()
        self.reconciler = ReconcileController(ctx, self.panel, self)
        self.rules_dialog: RulesDialog | None = None
        self.filter_bar.add_tail(self.saved)

        tools = QHBoxLayout()
        tools.setSpacing(6)
        tools.addWidget(self.toolbar, 1)
        tools.addWidget(self.count_label)
        tools.addWidget(self.order_label)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("exceptions_splitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.workspace)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setCollapsible(0, False)
        self.splitter.splitterMoved.connect(self._remember_splitter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 10)
        layout.addWidget(
            page_header(
                "Exceptions",
                "Lines the rules could not reconcile and matches waiting for a clerk. Select a "
                "line to see its candidates and why each one does not fit.",
            )
        )
        layout.addLayout(tools)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.panel)
        layout.addWidget(self.splitter, 1)

        self.filter_bar.changed.connect(self.set_filters)
        self.saved.loaded.connect(lambda f: self.filter_bar.set_filters(f))
        self.model.reloaded.connect(self._reloaded)
        self.model.fetch_failed.connect(lambda text: ctx.notify(f"Exceptions: {text}"))
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.open_requested.connect(self.open_workspace)
        self.table.doubleClicked.connect(lambda _i: self.open_workspace())
        self.workspace.close_requested.connect(self.close_workspace)
        # the tool bar's actions (a button, or an item of its » menu in a narrow window)
        for button, slot in (
            (self.reconcile_button, self.reconcile_now),
            (self.rules_button, self.show_rules),
            (self.assign_button, lambda: self.assign_selected()),
            (self.pending_button, lambda: self.pending_selected()),
            (self.resolve_button, lambda: self.resolve_selected()),
            (self.reopen_button, lambda: self.reopen_selected()),
        ):
            button.defaultAction().triggered.connect(slot)
        run = self.reconcile_button.defaultAction()
        self.reconciler.started.connect(lambda: run.setEnabled(False))
        self.reconciler.finished.connect(lambda _r: run.setEnabled(True))
        ctx.data_changed.connect(self._data_changed)

        ws = self.workspace
        self.match_action = _shortcut(self, "Ctrl+M", ws.match_checked, "Match ticked")
        self.confirm_action = _shortcut(
            self, ["Ctrl+Return", "Ctrl+Enter"], ws.confirm, "Confirm suggestion"
        )
        self.reject_action = _shortcut(self, "Ctrl+R", ws.reject, "Reject suggestion")
        self.unmatch_action = _shortcut(self, "Ctrl+U", ws.unmatch, "Unmatch")
        self.writeoff_action = _shortcut(self, "Ctrl+W", ws.write_off, "Write off")
        self.reconcile_action = _shortcut(self, "Ctrl+Shift+R", self.reconcile_now, "Reconcile")
        self.back_action = _shortcut(self, "Esc", self.focus_table, "Back to the list")

        self._update_labels()
        self._update_buttons()
        self._restore_splitter()
        QTimer.singleShot(0, self._load_choices)

    # -- data ------------------------------------------------------------------------------------
    def _load_choices(self) -> None:
        with self.ctx.session() as s:
            accounts = [(int(i), str(n)) for i, n in s.execute(select(Source.id, Source.name))]
            currencies = sorted({str(c) for c in s.scalars(select(Source.currency)) if c})
            logins = [u.login for u in list_users(s)]
        self.filter_bar.set_accounts(sorted(accounts, key=lambda a: a[1]))
        self.filter_bar.set_currencies(currencies)
        self.filter_bar.set_users(logins)
        self._load_facets()

    def _load_facets(self) -> None:
        """Facet counts in the background; filters on source/currency/kind then count instantly."""
        self._facets_seq += 1
        seq = self._facets_seq
        with self.ctx.session() as s:
            if self.source.count(s, ExceptionFilters()) < self.FACETS_FROM:
                return

        def done(facets) -> None:
            if not shiboken6.isValid(self) or seq != self._facets_seq:
                return  # gone, or the data changed while they were read
            self.source.facets = facets
            known = {
                self.filter_bar.currency.itemData(i)
                for i in range(self.filter_bar.currency.count())
            }
            more = [c for c in facets.currencies() if c not in known]
            if more:
                self.filter_bar.set_currencies(sorted((known - {None}) | set(more)))

        self.ctx.tasks.run(
            lambda session, progress: load_facets(session),
            done,
            lambda exc: None,
            label="Counting open lines",
            commit=False,
            cancellable=False,
        )

    def _data_changed(self, kind: str) -> None:
        if kind not in WATCHED:
            return
        if kind != CASES:  # facets do not hold case fields
            self.source.facets = None
            self._facets_seq += 1
        if not self._reload_due:
            self._reload_due = True
            QTimer.singleShot(0, self._reload_now)

    def _reload_now(self) -> None:
        self._reload_due = False
        self.model.reload()
        if self.source.facets is None:
            QTimer.singleShot(0, self._load_facets)

    def set_filters(self, filters) -> None:
        self.model.set_filters(filters)

    def reload(self) -> None:
        self.model.reload()

    def apply_filters(self, data: dict) -> None:
        """Drill-down from the dashboard: source, currency, age_bucket, booked_from, booked_to,
        state, as_of and any ExceptionFilters field."""
        try:
            with self.ctx.session() as s:
                filters = drill.exception_filters(s, dict(data))
        except UserError as exc:
            messages.show_error(self, exc)
            return
        self.filter_bar.set_filters(filters)

    def _reloaded(self) -> None:
        self._loaded_on = dt.date.today()
        self._update_labels()
        self._current_changed()

    def _update_labels(self) -> None:
        n = self.model.rowCount()
        self.count_label.setText(f"{n:,} open line{'s' if n != 1 else ''}")
        self.order_label.setText(self.table.sort_description("Oldest first"))

    # -- selection and the workspace ---------------------------------------------------------
    def current_row(self) -> dict | None:
        return self.table.current_row()

    def current_record_id(self) -> int | None:
        row = self.current_row()
        return None if row is None else int(row["id"])

    def select_record(self, record_id: int) -> bool:
        return self.table.select_id(record_id)

    def select_row(self, r: int) -> None:
        self.table.keep_place.select_row(r)

    def _current_changed(self, *_args) -> None:
        row = self.current_row()
        if row is None:
            self.workspace.clear()
        elif not self._workspace_closed:
            self.workspace.show_record(row)
        self._update_buttons()
        self.record_changed.emit(None if row is None else int(row["id"]))

    def open_workspace(self) -> None:
        self._workspace_closed = False
        self.workspace.show()
        row = self.current_row()
        if row is not None:
            self.workspace.show_record(row)
            self.workspace.focus_candidates()

    def close_workspace(self) -> None:
        self._workspace_closed = True
        self.workspace.hide()
        self.focus_table()

    def focus_table(self) -> None:
        self.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _remember_splitter(self, *_args) -> None:
        QSettings().setValue(f"{SETTINGS_GROUP}/splitter", self.splitter.saveState())

    def _restore_splitter(self) -> None:
        state = QSettings().value(f"{SETTINGS_GROUP}/splitter")
        if state is not None:
            self.splitter.restoreState(state)
        else:
            self.splitter.setSizes([560, 640])

    # -- bulk case work --------------------------------------------------------------------------
    def selected_rows(self) -> list[dict]:
        rows = []
        selection = self.table.selectionModel()
        for rng in selection.selection():
            for r in range(rng.top(), rng.bottom() + 1):
                row = self.model.row(r)
                if row is not None:
                    rows.append(row)
                if len(rows) >= BULK_LIMIT:
                    return rows
        return rows

    def selected_case_ids(self) -> list[int]:
        return sorted({int(r["case_id"]) for r in self.selected_rows() if r.get("case_id")})

    def _update_buttons(self) -> None:
        has = self.table.selectionModel().hasSelection()
        for button in (
            self.assign_button,
            self.pending_button,
            self.resolve_button,
            self.reopen_button,
        ):
            button.defaultAction().setEnabled(has)

    def _case_ids_or_say(self) -> list[int]:
        ids = self.selected_case_ids()
        if not ids:
            self.ctx.notify("The selected lines have no case yet (run Reconcile now)")
        return ids

    def assign_selected(self, login: str | None = None):
        """Assign the selected cases (asks whom when `login` is None; "" unassigns)."""
        ids = self._case_ids_or_say()
        if not ids:
            return None
        if login is None:
            with self.ctx.session() as s:
                logins = [u.login for u in list_users(s)]
            login = prompts.choose_assignee(self, logins, len(ids))
            if login is None:
                return None
        who = login or None
        return run_case_action(
            self.ctx,
            f"Assign {len(ids)} case(s) to {who or 'nobody'}",
            lambda s: cases.assign(s, ids, who, actor=self.ctx.actor),
        )

    def pending_selected(self):
        ids = self._case_ids_or_say()
        if not ids:
            return None
        return run_case_action(
            self.ctx,
            f"Mark {len(ids)} case(s) pending",
            lambda s: cases.set_pending(s, ids, actor=self.ctx.actor),
        )

    def resolve_selected(self, resolution: str | None = None):
        """Resolve the selected cases; asks for the reason when `resolution` is None."""
        ids = self._case_ids_or_say()
        if not ids:
            return None
        resolution = resolution or prompts.choose_resolution(self, len(ids))
        if not resolution:
            return None
        return run_case_action(
            self.ctx,
            f"Resolve {len(ids)} case(s) as {resolution}",
            lambda s: cases.resolve(s, ids, resolution, actor=self.ctx.actor),
        )

    def reopen_selected(self):
        ids = self._case_ids_or_say()
        if not ids:
            return None
        return run_case_action(
            self.ctx,
            f"Reopen {len(ids)} case(s)",
            lambda s: cases.reopen(s, ids, actor=self.ctx.actor),
        )

    # -- reconcile -------------------------------------------------------------------------------
    def reconcile_now(self):
        return self.reconciler.run()

    def show_rules(self) -> RulesDialog:
        if self.rules_dialog is None:
            self.rules_dialog = RulesDialog(self.ctx, self)
        else:
            self.rules_dialog.reload()
        self.rules_dialog.show()
        self.rules_dialog.raise_()
        return self.rules_dialog

    # -- main window hooks -----------------------------------------------------------------------
    def page_shown(self) -> None:
        if self._loaded_on != dt.date.today():  # ages and due dates moved
            self.model.reload()

    def export_table(self, path: Path | str | None = None):
        """Write the table as shown (filters, order, visible columns) to .xlsx or .csv."""
        target = (
            Path(path)
            if path is not None
            else ask_path(self, "Export exceptions", "exceptions.xlsx")
        )
        if target is None:
            return None
        today = self.source.today
        return export_table(
            self.ctx,
            make_source=lambda: ExceptionSource(today),
            columns=visible_columns(self.table),
            filters=self.model.active_filters,
            sort=self.model.sort_spec,
            path=target,
            title="Exceptions",
        )
