"""Exceptions page: every unmatched line and suggested match as a lazy SQL table, with filters,
saved filters, bulk case work, Reconcile now / Rules…, and the match workspace beside it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QToolBar, QToolButton
from sqlalchemy import select

from ...errors import UserError
from ...models import Source
from ...services.common.users import list_users
from ...services.reconcile import cases
from ...services.reconcile.queue_counts import load_facets
from ...services.reconcile.table_queries import ExceptionFilters
from ..context import CASES, IMPORTS, MATCHES, RECORDS
from ..exceptions import drill, prompts
from ..exceptions.commands import ServiceCommand, run_case_action
from ..exceptions.filter_bar import ExceptionFilterBar
from ..exceptions.reconcile import ReconcileController, ReconcilePanel
from ..exceptions.rules_dialog import RulesDialog
from ..exceptions.source import DEFAULT_HIDDEN, ExceptionSource
from ..exceptions.workspace import MatchWorkspace
from ..queue.page import QueuePage
from ..queue.pane import QueuePane, QueueSpec

WATCHED = (RECORDS, MATCHES, CASES, IMPORTS)
QUEUE = QueueSpec(
    key="exceptions",
    noun=("open line", "open lines"),
    default_order="Oldest first",
    hidden=DEFAULT_HIDDEN,
    saved_filters=True,
    watched=WATCHED,
)
BULK_LIMIT = 5000  # rows a bulk case action takes at once
TOOLBAR_STYLE = (
    "QToolBar { border: none; spacing: 6px; padding: 0; }"
    "QToolButton { border: 1px solid #c3cbd6; border-radius: 3px; padding: 3px 9px;"
    " background: #f7f9fb; }"
    "QToolButton:hover { background: #e8eef5; }"
    "QToolButton:disabled { color: #8a8f98; background: #f2f4f7; }"
)


class ExceptionsPage(QueuePage):
    """The clerk's queue (left) and the match workspace (right).

    Signals:
        record_changed(object): the record the workspace shows (id or None).
    """

    TITLE = "Exceptions"
    SUBTITLE = (
        "Lines the rules could not reconcile and matches waiting for a clerk. Select a "
        "line to see its candidates and why each one does not fit."
    )
    SPLITTER_SIZES = (560, 640)
    record_changed = Signal(object)
    # Below this many open lines every count is a quick index scan: no facet counts needed.
    FACETS_FROM = 100_000

    def __init__(self, ctx, parent=None, *, today: dt.date | None = None) -> None:
        queue = QueuePane(ctx, QUEUE, ExceptionSource(today), ExceptionFilterBar(ctx.actor))
        workspace = MatchWorkspace(ctx)
        workspace.reselect = queue.table.keep_place.want
        super().__init__(ctx, queue, workspace, parent)
        self.workspace = workspace
        self._workspace_closed = False
        self._facets_seq = 0
        self._loaded_on = dt.date.today()
        self.order_label.setMinimumWidth(20)  # elided by the layout in a narrow window

        # A tool bar: in a narrow window the buttons that do not fit move into its » menu.
        self.toolbar = QToolBar("Exceptions")
        self.toolbar.setObjectName("exceptions_toolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.setStyleSheet(TOOLBAR_STYLE)
        self.reconcile_button = self._tool(
            "Reconcile now",
            "Run the match cascade over every open line in the background (Ctrl+Shift+R)",
            "reconcile_button",
            self.reconcile_now,
        )
        self.rules_button = self._tool(
            "Rules…",
            "The match rules in order: enable, auto-confirm, simulate",
            "rules_button",
            self.show_rules,
        )
        self.toolbar.addSeparator()
        self.assign_button = self._tool(
            "Assign…", "Assign the selected cases", "assign_button", lambda: self.assign_selected()
        )
        self.pending_button = self._tool(
            "Pending",
            "Mark the selected cases as waiting on someone",
            "pending_button",
            lambda: self.pending_selected(),
        )
        self.resolve_button = self._tool(
            "Resolve…",
            "Resolve the selected cases with a reason",
            "resolve_button",
            lambda: self.resolve_selected(),
        )
        self.reopen_button = self._tool(
            "Reopen",
            "Reopen the selected resolved cases",
            "reopen_button",
            lambda: self.reopen_selected(),
        )
        self.panel = ReconcilePanel()
        self.reconciler = ReconcileController(ctx, self.panel, self)
        self.rules_dialog: RulesDialog | None = None

        tools = QHBoxLayout()
        tools.setSpacing(6)
        tools.addWidget(self.toolbar, 1)
        tools.addWidget(self.count_label)
        tools.addWidget(self.order_label)
        self.lay_out(tools, self.filter_bar, self.panel)

        self.model.reloaded.connect(self._reloaded)
        self.queue.data_reloaded.connect(self._data_reloaded)
        self.table.open_requested.connect(self.open_workspace)
        self.table.doubleClicked.connect(lambda _i: self.open_workspace())
        self.workspace.close_requested.connect(self.close_workspace)
        run = self.reconcile_button.defaultAction()
        self.reconciler.started.connect(lambda: run.setEnabled(False))
        self.reconciler.finished.connect(lambda _r: run.setEnabled(True))
        ctx.data_changed.connect(self._data_changed)

        ws = self.workspace
        self.match_action = self.shortcut("Ctrl+M", ws.match_checked, "Match ticked")
        self.confirm_action = self.shortcut(
            ["Ctrl+Return", "Ctrl+Enter"], ws.confirm, "Confirm suggestion"
        )
        self.reject_action = self.shortcut("Ctrl+R", ws.reject, "Reject suggestion")
        self.unmatch_action = self.shortcut("Ctrl+U", ws.unmatch, "Unmatch")
        self.writeoff_action = self.shortcut("Ctrl+W", ws.write_off, "Write off")
        self.reconcile_action = self.shortcut("Ctrl+Shift+R", self.reconcile_now, "Reconcile")
        self.back_action = self.shortcut("Esc", self.focus_table, "Back to the list")
        self._update_buttons()

    def _tool(self, text: str, tip: str, name: str, slot: Callable[[], object]) -> QToolButton:
        """A tool bar button (or, in a narrow window, an item of the bar's » menu)."""
        action = self.toolbar.addAction(text)
        action.setIconText(text)  # keep the "…" of a button that asks something
        action.setToolTip(tip)
        action.triggered.connect(slot)
        button = self.toolbar.widgetForAction(action)
        button.setObjectName(name)
        return button

    # -- data ------------------------------------------------------------------------------------
    def load_choices(self) -> None:
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
        if kind in WATCHED and kind != CASES:  # facets do not hold case fields
            self.source.facets = None
            self._facets_seq += 1

    def _data_reloaded(self) -> None:
        if self.source.facets is None:
            QTimer.singleShot(0, self._load_facets)

    def apply_filters(self, data: dict) -> None:
        """Drill-down from the dashboard: source, currency, age_bucket, booked_from, booked_to,
        state, as_of and any ExceptionFilters field."""

        def make() -> ExceptionFilters:
            with self.ctx.session() as s:
                return drill.exception_filters(s, dict(data))

        self.show_filters(make, (UserError,))

    def _reloaded(self) -> None:
        self._loaded_on = dt.date.today()

    # -- selection and the workspace ---------------------------------------------------------
    def current_record_id(self) -> int | None:
        row = self.current_row()
        return None if row is None else int(row["id"])

    def select_record(self, record_id: int) -> bool:
        return self.select_id(record_id)

    def select_row(self, r: int) -> None:
        self.table.keep_place.select_row(r)

    def show_current(self, row) -> None:
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

    def _change_selected(
        self,
        text: Callable[[int, Any], str],
        change: Callable[..., list],
        answer: Any = None,
        ask: Callable[[int], Any] | None = None,
    ) -> ServiceCommand | None:
        """`change(session, case_ids, answer, actor=...)` on the selected cases as one undoable
        command named `text(count, answer)`; without an `answer`, `ask(count)` gives it (None:
        the clerk cancelled)."""
        ids = self._case_ids_or_say()
        if not ids:
            return None
        if answer is None and ask is not None:
            answer = ask(len(ids))
            if answer is None:
                return None
        return run_case_action(
            self.ctx,
            text(len(ids), answer),
            lambda s: change(s, ids, answer, actor=self.ctx.actor),
        )

    def _ask_assignee(self, count: int) -> str | None:
        with self.ctx.session() as s:
            logins = [u.login for u in list_users(s)]
        return prompts.choose_assignee(self, logins, count)

    def assign_selected(self, login: str | None = None):
        """Assign the selected cases (asks whom when `login` is None; "" unassigns)."""
        return self._change_selected(
            lambda n, who: f"Assign {n} case(s) to {who or 'nobody'}",
            lambda s, ids, who, actor: cases.assign(s, ids, who or None, actor=actor),
            login,
            self._ask_assignee,
        )

    def pending_selected(self):
        return self._change_selected(
            lambda n, _: f"Mark {n} case(s) pending",
            lambda s, ids, _, actor: cases.set_pending(s, ids, actor=actor),
        )

    def resolve_selected(self, resolution: str | None = None):
        """Resolve the selected cases; asks for the reason when `resolution` is None."""
        return self._change_selected(
            lambda n, why: f"Resolve {n} case(s) as {why}",
            lambda s, ids, why, actor: cases.resolve(s, ids, why, actor=actor),
            resolution or None,
            lambda n: prompts.choose_resolution(self, n) or None,
        )

    def reopen_selected(self):
        return self._change_selected(
            lambda n, _: f"Reopen {n} case(s)",
            lambda s, ids, _, actor: cases.reopen(s, ids, actor=actor),
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
        return self.export_shown(path)

    def export_source(self) -> ExceptionSource:
        return ExceptionSource(self.source.today)
