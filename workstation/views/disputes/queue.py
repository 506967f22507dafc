"""The disputes queue: filter bar, header counts, urgency-ordered lazy table, claim and assign."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import select

from ...models import Dispute
from ...services.common.users import list_users
from ...services.disputes.queue import QueueFilters, assign, claim_next
from ...services.disputes.reason_codes import CATEGORIES
from ..context import DISPUTES
from ..models.sql_table import ID_ROLE
from ..queue.filter_bar import QueueFilterBar
from ..queue.pane import QueuePane, QueueSpec
from ..queue.table_view import LazyTableView
from .source import NETWORKS, OPEN_STATUSES, STAGES, DisputeQuery, DisputeQueueSource, words

STATUS_CHOICES: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("Open", OPEN_STATUSES),
    ("Needs response", ("needs_response",)),
    ("Under review", ("under_review",)),
    ("Won", ("won",)),
    ("Lost", ("lost",)),
    ("Accepted", ("accepted",)),
    ("Expired", ("expired",)),
    ("All statuses", None),
)
DUE_CHOICES: tuple[tuple[str, float | None, bool], ...] = (
    ("Any due date", None, False),
    ("Overdue", None, True),
    ("Due within 1 day", 1, False),
    ("Due within 3 days", 3, False),
    ("Due within 7 days", 7, False),
    ("Due within 14 days", 14, False),
    ("Due within 30 days", 30, False),
)
ME, UNASSIGNED, ANYONE = "\x00me", "\x00none", None
WARM_DELAY_MS = 300
QUEUE = QueueSpec(
    key="disputes",
    noun=("case", "cases"),
    default_order="Most urgent first",
    page_size=100,  # a page is whole cases (ORM rows): small pages paint sooner
)


def _combo(name: str, tip: str, items: list[tuple[str, object]]) -> QComboBox:
    # Compact: the closed box shows about 7 characters; the list shows everything.
    return QueueFilterBar.combo(name, tip, items, 7, min_width=None)


class FilterBar(QueueFilterBar):
    """One compact row of filters; `changed` carries the new `QueueFilters`."""

    def __init__(self, actor: str, parent=None) -> None:
        super().__init__(parent)
        self.actor = actor
        self.status = _combo("filter_status", "Status", [(t, v) for t, v in STATUS_CHOICES])
        self.stage = _combo(
            "filter_stage", "Stage", [("All stages", None)] + [(words(s), s) for s in STAGES]
        )
        self.category = _combo(
            "filter_category",
            "Reason category",
            [("All reasons", None)] + [(words(c).capitalize(), c) for c in CATEGORIES],
        )
        self.network = _combo(
            "filter_network", "Card network", [("All networks", None)] + [(n, n) for n in NETWORKS]
        )
        self.psp = _combo("filter_psp", "Payment service provider", [("All PSPs", None)])
        self.assignee = _combo(
            "filter_assignee",
            "Assignee",
            [("Anyone", ANYONE), ("Mine", ME), ("Unassigned", UNASSIGNED)],
        )
        self.due = _combo(
            "filter_due", "Due date", [(t, i) for i, (t, _, _) in enumerate(DUE_CHOICES)]
        )
        # `search` is placed by the owner (next to the actions, where there is room).
        self.search = self.search_box("filter_search", "Case, charge or order id", 140)
        self.search.setMaximumWidth(320)
        self.reset_button = self.reset_control()

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.boxes = (
            self.status,
            self.stage,
            self.category,
            self.network,
            self.psp,
            self.assignee,
            self.due,
        )
        for box in self.boxes:
            layout.addWidget(box)
        layout.addWidget(self.reset_button)
        layout.addStretch(1)
        self.watch([*self.boxes, self.search])

    def set_psps(self, psps: list[str]) -> None:
        self.refill(self.psp, 1, [(p.capitalize() if p.islower() else p, p) for p in psps])

    def set_users(self, logins: list[str]) -> None:
        self.refill(self.assignee, 3, [(login, login) for login in logins])

    def reset(self) -> None:
        with self.quiet():
            for box in self.boxes:
                box.setCurrentIndex(0)
            self.search.clear()
        self._emit()

    def filters(self) -> QueueFilters:
        who = self.assignee.currentData()
        _, within, overdue = DUE_CHOICES[int(self.due.currentData() or 0)]
        one = lambda box: (box.currentData(),) if box.currentData() else None  # noqa: E731
        return QueueFilters(
            status=self.status.currentData(),
            stage=one(self.stage),
            category=one(self.category),
            network=one(self.network),
            psp=one(self.psp),
            assignee=self.actor
            if who == ME
            else (who if who not in (ANYONE, UNASSIGNED) else None),
            unassigned=who == UNASSIGNED,
            due_within_days=within,
            overdue=overdue,
            search=self.search.text().strip() or None,
        )


class DisputeQueue(QueuePane):
    """Filter bar, counts, actions and the queue table.

    Signals:
        case_activated(int): a case was opened (double click, Enter, claim next).
        selection_changed(list): ids of the selected cases.
    """

    case_activated = Signal(int)
    selection_changed = Signal(list)
    counts_updated = Signal(dict)  # total, overdue, due_today, unassigned

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, QUEUE, DisputeQueueSource(), FilterBar(ctx.actor), parent)
        self.header_counts: dict[str, int] | None = None
        self._count_seq = 0
        self.model.watch(ctx.data_changed, [DISPUTES])
        self.table.sort_refused.connect(
            lambda header: ctx.notify(f"The queue cannot be sorted by {header}")
        )
        self.counts = self.count_label
        self.overdue_chip = QLabel()
        self.overdue_chip.setObjectName("count_chip")
        self.today_chip = QLabel()
        self.today_chip.setObjectName("count_chip")
        self.overdue_chip.hide()  # until the background count is in
        self.today_chip.hide()

        self.claim_button = QPushButton("Claim next")
        self.claim_button.setObjectName("claim_next")
        self.claim_button.setToolTip(
            "Assign the most urgent unassigned case to you and open it (Ctrl+Shift+N)"
        )
        self.claim_button.clicked.connect(self.claim_next)
        self.claim_action = QAction("Claim next case", self)
        self.claim_action.setShortcut(QKeySequence("Ctrl+Shift+N"))
        self.claim_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.claim_action.triggered.connect(self.claim_next)
        self.addAction(self.claim_action)

        self.assign_button = QPushButton("Assign…")
        self.assign_button.setObjectName("assign_button")
        self.assign_button.setToolTip("Assign the selected cases to a colleague")
        self.assign_menu = QMenu(self.assign_button)
        self.assign_menu.aboutToShow.connect(self._fill_assign_menu)
        self.assign_button.setMenu(self.assign_menu)
        self.urgency_button = QPushButton("Urgency order")
        self.urgency_button.setToolTip(
            "Most urgent first: overdue, then money at risk per hour left"
        )
        self.urgency_button.clicked.connect(self.urgency_order)

        chips = QHBoxLayout()
        chips.setSpacing(6)
        chips.addWidget(self.counts)
        chips.addWidget(self.overdue_chip)
        chips.addWidget(self.today_chip)
        chips.addSpacing(8)
        chips.addWidget(self.order_label)
        chips.addStretch(1)
        chips.addWidget(self.filter_bar.search, 1)
        chips.addWidget(self.urgency_button)
        chips.addWidget(self.assign_button)
        chips.addWidget(self.claim_button)

        # Filters and actions span the page above the splitter (`controls`); the table is ours.
        self.controls = QWidget()
        self.controls.setObjectName("disputes_controls")
        controls = QVBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        controls.setSpacing(8)
        controls.addWidget(self.filter_bar)
        controls.addLayout(chips)

        self.model.reloaded.connect(self._count_later)
        # Background work after a load starts once the first screen is painted, so it never
        # competes with it (Python threads share one interpreter lock).
        self._warm_timer = QTimer(self)
        self._warm_timer.setSingleShot(True)
        self._warm_timer.setInterval(WARM_DELAY_MS)
        self._warm_timer.timeout.connect(self._warm)
        self.model.reloaded.connect(self._warm_timer.start)
        self.table.activated.connect(self._activated)
        self.table.doubleClicked.connect(self._activated)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._count_later()
        self._warm_timer.start()
        self._update_actions()

    def create_table(self) -> LazyTableView:
        return LazyTableView(self.model)

    def query(self, filters: QueueFilters) -> DisputeQuery:
        return DisputeQuery(filters)

    def sizeHint(self) -> QSize:
        return QSize(760, 500)

    def minimumSizeHint(self) -> QSize:
        return QSize(320, 200)

    # -- data ------------------------------------------------------------------------------------
    def load_choices(self) -> None:
        """PSPs and users for the filter bar (after the first screen is up)."""
        with self.ctx.session() as s:
            psps = sorted(p for p in s.scalars(select(Dispute.psp).distinct()) if p)
            logins = [u.login for u in list_users(s)]
        self.filter_bar.set_psps(psps)
        self.filter_bar.set_users(logins)

    def urgency_order(self) -> None:
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.model.sort(-1)

    def _count_later(self) -> None:
        """The header chips, counted in the background once the event loop comes round."""
        self._count_seq += 1
        QTimer.singleShot(0, self, partial(self._count_chips, self._count_seq))

    def _count_chips(self, seq: int) -> None:
        if seq != self._count_seq:
            return  # filters changed again before the event loop came round
        query = self.model.active_filters

        def op(session, progress):
            return DisputeQueueSource.header_counts(session, query)

        def counted(c: dict[str, int]) -> None:
            if seq == self._count_seq:  # only the newest filters' counts
                self.header_counts = c
                self._show_chips()
                self.counts_updated.emit(c)

        # The chips read every selected case: after the first screen, in the background.
        self.ctx.tasks.run(op, counted, label="Counting cases", commit=False)

    def _warm(self) -> None:
        """Read the order of the whole snapshot in the background: pages anywhere then cost
        their own rows (see `DisputeQueueSource.warm`)."""
        source, query, sort = self.source, self.model.active_filters, self.model.sort_spec

        def op(session, progress):
            return source.warm(session, query, sort)

        self.ctx.tasks.run(op, None, label="Reading the queue order", commit=False)

    def _show_chips(self) -> None:
        c = self.header_counts
        self.overdue_chip.setText(f"{c['overdue']:,} overdue")
        self.overdue_chip.setProperty("alert", "true" if c["overdue"] else "false")
        self.today_chip.setText(f"{c['due_today']:,} due in 24 h")
        self.today_chip.setProperty("alert", "true" if c["due_today"] else "false")
        for chip in (self.overdue_chip, self.today_chip):
            chip.setVisible(True)
            chip.style().unpolish(chip)
            chip.style().polish(chip)

    # -- selection -------------------------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows()
        return [int(i) for i in (self.model.data(r, ID_ROLE) for r in rows) if i is not None]

    def select_case(self, dispute_id: int) -> bool:
        row = self.model.find_row(dispute_id, near=0)
        if row < 0:
            self.table.clearSelection()
            return False
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))
        return True

    def _selection_changed(self, *_args) -> None:
        self._update_actions()
        self.selection_changed.emit(self.selected_ids())

    def _update_actions(self) -> None:
        self.assign_button.setEnabled(self.table.selectionModel().hasSelection())

    def _activated(self, index) -> None:
        rid = self.model.data(index, ID_ROLE)
        if rid is not None:
            self.case_activated.emit(int(rid))

    # -- actions ---------------------------------------------------------------------------------
    def claim_next(self):
        """Assign the most urgent unassigned case needing a response to me; then open it."""
        actor = self.ctx.actor
        filters = self.model.active_filters.filters

        def op(session, progress):
            case = claim_next(session, actor, filters)
            return None if case is None else (int(case.id), case.psp_dispute_id)

        def done(result) -> None:
            self.claim_button.setEnabled(True)
            if result is None:
                self.ctx.notify("No unassigned case needs a response")
                return
            case_id, name = result
            self.ctx.notify(f"Claimed {name}")
            self.ctx.changed(DISPUTES)
            self.select_case(case_id)
            self.case_activated.emit(case_id)

        self.claim_button.setEnabled(False)
        task = self.ctx.tasks.run(op, done, label="Claiming the next case", cancellable=False)
        task.finished.connect(lambda: self.claim_button.setEnabled(True))
        return task

    def _fill_assign_menu(self) -> None:
        self.assign_menu.clear()
        with self.ctx.session() as s:
            logins = [u.login for u in list_users(s)]
        me = self.assign_menu.addAction(f"Assign to me ({self.ctx.actor})")
        me.triggered.connect(lambda: self.assign_selected(self.ctx.actor))
        self.assign_menu.addSeparator()
        for login in logins:
            if login == self.ctx.actor:
                continue
            action = self.assign_menu.addAction(login)
            action.triggered.connect(lambda _=False, who=login: self.assign_selected(who))
        self.assign_menu.addSeparator()
        none = self.assign_menu.addAction("Unassign")
        none.triggered.connect(lambda: self.assign_selected(None))

    def assign_selected(self, login: str | None):
        """Assign the selected cases to `login` (None: unassign) in the background."""
        ids = self.selected_ids()
        if not ids:
            return None
        actor = self.ctx.actor

        def op(session, progress):
            return assign(session, ids, login, actor)

        def done(changed: int) -> None:
            who = login or "nobody"
            self.ctx.notify(f"{changed:,} case{'s' if changed != 1 else ''} assigned to {who}")
            self.ctx.changed(DISPUTES)

        return self.ctx.tasks.run(op, done, label="Assigning cases", cancellable=False)
