"""The match workspace: one record, its references and case, its suggested match, and ranked
candidates with the condition each one fails ("why not"); match, confirm, reject, unmatch, split
and write off from here, by mouse or keyboard."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

import shiboken6
from PySide6.QtCore import QItemSelectionModel, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ...money import format_minor
from ..models.table import Column
from ..settlement.trail_view import TrailView
from . import prompts, workspace_data
from .check_model import CheckableRowsModel
from .commands import MatchActions, run_add_note
from .source import words

CANDIDATE_COLUMNS = (
    Column("score", "Score", "int", tooltip="How well it fits (100: every condition holds)"),
    Column("amount_minor", "Amount", "money"),
    Column("booked_on", "Booked", "date"),
    Column("line", "Line", tooltip="Source and external id"),
    Column("why", "Why not", tooltip="The conditions that failed, and by how much"),
)
CANDIDATE_MAX_WIDTHS = (64, 96, 90, 130)  # the rest goes to "Why not"
MEMBER_COLUMNS = (
    Column("side", "Side"),
    Column("source", "Source"),
    Column("booked_on", "Booked", "date"),
    Column("amount_minor", "Amount", "money"),
    Column("external_id", "External id"),
)


def select_only(view: QTableView, r: int) -> None:
    """Make row `r` current and the only selected row (whatever modifier keys are held)."""
    index = view.model().index(r, 0)
    view.selectionModel().setCurrentIndex(
        index,
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    view.scrollTo(index)


class CheckTable(QTableView):
    """A candidates/members table: Space ticks the current row, J/K move."""

    def keyPressEvent(self, event) -> None:
        model = self.model()
        key = event.key()
        plain = not event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        )
        current = self.currentIndex()
        if plain and key == Qt.Key.Key_Space and isinstance(model, CheckableRowsModel):
            if current.isValid():
                model.toggle(current.row())
            return
        if plain and key in (Qt.Key.Key_J, Qt.Key.Key_K) and model.rowCount():
            r = current.row() if current.isValid() else -1
            r = max(0, min(model.rowCount() - 1, r + (1 if key == Qt.Key.Key_J else -1)))
            select_only(self, r)
            return
        super().keyPressEvent(event)


def check_table(name: str, model) -> CheckTable:
    view = CheckTable()
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().hide()
    view.setAlternatingRowColors(True)
    header = view.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return view


def _candidate_row(c) -> dict[str, Any]:
    return {
        "id": c.record_id,
        "score": c.score,
        "source": c.source,
        "side": c.side,
        "kind": c.kind,
        "external_id": c.external_id,
        "booked_on": c.booked_on,
        "amount_minor": c.amount_minor,
        "currency": c.currency,
        "state": c.state,
        "match_id": c.match_id,
        "line": f"{c.source} · {c.external_id or '—'}",
        "why": c.summary,
        "failed": [ch.text for ch in c.failed],
        "passed": [ch.text for ch in c.checks if ch.ok],
    }


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone() if value.tzinfo else value
    return local.strftime("%Y-%m-%d %H:%M")


class MatchWorkspace(QWidget):
    """The right-hand pane of the Exceptions page.

    Signals:
        loaded(int): candidates and match of this record id are shown.
        undo_hook: set by the page; called with the record id an undo should re-select.
    """

    loaded = Signal(int)
    close_requested = Signal()

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("match_workspace")
        self.ctx = ctx
        self.actions = MatchActions(ctx)
        self.data: workspace_data.WorkspaceData | None = None
        self.row: dict[str, Any] | None = None
        self.reselect = None  # the page: reselect(record_id) after an undo
        self._seq = 0
        self._pending_id: int | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(30)  # J/K held down: load only where the clerk stops
        self._timer.timeout.connect(self._load)

        self.title = QLabel()
        self.title.setObjectName("workspace_title")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.facts = QLabel()
        self.facts.setObjectName("workspace_facts")
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("Hide the workspace (Esc)")
        self.close_button.clicked.connect(self.close_requested)

        # suggested match
        self.match_box = QGroupBox("Suggested match")
        self.match_box.setObjectName("suggested_box")
        self.match_label = QLabel()
        self.match_label.setObjectName("match_label")
        self.match_label.setWordWrap(True)
        self.members = CheckableRowsModel(MEMBER_COLUMNS, parent=self)
        self.members_view = check_table("members_table", self.members)
        self.confirm_button = QPushButton("Confirm")
        self.confirm_button.setObjectName("confirm_button")
        self.confirm_button.setToolTip("Accept the suggested match (Ctrl+Enter)")
        self.reject_button = QPushButton("Reject")
        self.reject_button.setToolTip("Turn the suggestion down; it is not proposed again (Ctrl+R)")
        self.split_button = QPushButton("Split off ticked")
        self.split_button.setToolTip("Take the ticked members out of the match")
        mb = QHBoxLayout()
        mb.addWidget(self.confirm_button)
        mb.addWidget(self.reject_button)
        mb.addWidget(self.split_button)
        mb.addStretch(1)
        box = QVBoxLayout(self.match_box)
        box.addWidget(self.match_label)
        box.addWidget(self.members_view)
        box.addLayout(mb)

        # candidates
        self.candidates_box = QGroupBox("Candidates")
        self.candidates_box.setObjectName("candidates_box")
        self.candidates = CheckableRowsModel(CANDIDATE_COLUMNS, parent=self)
        self.candidates_view = check_table("candidates_table", self.candidates)
        self.candidates_view.setWordWrap(True)
        self.candidates_view.horizontalHeader().sectionResized.connect(
            lambda *_a: self.candidates_view.resizeRowsToContents()
        )
        self.candidates_hint = QLabel()
        self.candidates_hint.setObjectName("muted")
        self.candidates_hint.setWordWrap(True)
        self.match_button = QPushButton("Match ticked")
        self.match_button.setObjectName("match_button")
        self.match_button.setToolTip("Match this record with the ticked candidates (Ctrl+M)")
        self.unmatch_button = QPushButton("Unmatch")
        self.unmatch_button.setToolTip(
            "Take apart the match of the highlighted candidate, or this record's suggestion "
            "(Ctrl+U)"
        )
        self.writeoff_button = QPushButton("Write off…")
        self.writeoff_button.setToolTip(
            "Book the difference (or this small line) to rounding, bank fee or FX (Ctrl+W)"
        )
        cb = QHBoxLayout()
        cb.addWidget(self.match_button)
        cb.addWidget(self.unmatch_button)
        cb.addWidget(self.writeoff_button)
        cb.addStretch(1)
        box = QVBoxLayout(self.candidates_box)
        box.addWidget(self.candidates_view, 1)
        box.addWidget(self.candidates_hint)
        box.addLayout(cb)

        # notes
        self.notes_box = QGroupBox("Case notes")
        self.notes_view = QTextBrowser()
        self.notes_view.setObjectName("notes_view")
        self.notes_view.setMaximumHeight(90)
        self.note_edit = QLineEdit()
        self.note_edit.setObjectName("note_edit")
        self.note_edit.setPlaceholderText("Add a note and press Enter")
        self.note_edit.returnPressed.connect(self.add_note)
        box = QVBoxLayout(self.notes_box)
        box.addWidget(self.notes_view)
        box.addWidget(self.note_edit)

        # money trail of the record (order -> PSP line -> payout -> bank)
        self.trail_box = QGroupBox("Money trail")
        self.trail_box.setObjectName("trail_box")
        self.trail_view = TrailView(ctx)
        self.trail_view.tree.setMinimumHeight(110)
        self.trail_view.tree.setColumnWidth(0, 270)  # a narrow pane
        self.trail_view.open_payout.connect(lambda pid: ctx.navigate("payouts", {"payout_id": pid}))
        box = QVBoxLayout(self.trail_box)
        box.addWidget(self.trail_view)

        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        # In a short window the pane scrolls instead of squeezing its tables to nothing.
        inner = QWidget()
        inner.setObjectName("workspace_body")
        layout = QVBoxLayout(inner)
        layout.setContentsMargins(8, 0, 4, 0)
        layout.addLayout(head)
        layout.addWidget(self.facts)
        layout.addWidget(self.match_box)
        layout.addWidget(self.candidates_box, 1)
        layout.addWidget(self.notes_box)
        layout.addWidget(self.trail_box)
        self.candidates_view.setMinimumHeight(140)
        self.scroll = QScrollArea()
        self.scroll.setWidget(inner)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)

        self.confirm_button.clicked.connect(self.confirm)
        self.reject_button.clicked.connect(self.reject)
        self.split_button.clicked.connect(self.split)
        self.match_button.clicked.connect(self.match_checked)
        self.unmatch_button.clicked.connect(self.unmatch)
        self.writeoff_button.clicked.connect(self.write_off)
        self.candidates.checked_changed.connect(self._update_buttons)
        self.members.checked_changed.connect(self._update_buttons)
        self.candidates_view.selectionModel().currentRowChanged.connect(self._update_buttons)
        self.clear()

    def sizeHint(self) -> QSize:
        return QSize(560, 600)

    def minimumSizeHint(self) -> QSize:
        return QSize(320, 200)

    # -- loading -------------------------------------------------------------------------------
    @property
    def record_id(self) -> int | None:
        return None if self.row is None else int(self.row["id"])

    def show_record(self, row: dict[str, Any] | None) -> None:
        """Show `row` (a row of the exceptions table); candidates load in the background."""
        if row is None:
            self.clear()
            return
        same = self.row is not None and int(self.row["id"]) == int(row["id"])
        self.row = dict(row)
        self._show_header()
        if not same:
            self.data = None
            self.candidates.set_rows([])
            self.members.set_rows([])
            self.match_box.hide()
            self.candidates_hint.setText("Finding candidates…")
            self.notes_view.clear()
        self._pending_id = int(row["id"])
        self._timer.start()
        self._update_buttons()

    def refresh(self) -> None:
        if self.row is not None:
            self._pending_id = int(self.row["id"])
            self._timer.start()

    def _load(self) -> None:
        rid = self._pending_id
        if rid is None:
            return
        self._seq += 1
        seq = self._seq

        def op(session, progress):
            return workspace_data.load(session, rid)

        def done(data) -> None:
            if shiboken6.isValid(self) and seq == self._seq and self.record_id == rid:
                self._show(data)

        def failed(exc) -> None:
            if shiboken6.isValid(self) and seq == self._seq:
                self.candidates_hint.setText(str(exc))

        self.ctx.tasks.run(
            op, done, failed, label="Finding candidates", commit=False, cancellable=False
        )

    def clear(self) -> None:
        self.row = None
        self.data = None
        self._pending_id = None
        self._seq += 1
        self.title.setText("<b>No record selected</b>")
        self.facts.setText("Select a line on the left to see its candidates.")
        self.match_box.hide()
        self.candidates.set_rows([])
        self.members.set_rows([])
        self.candidates_hint.setText("")
        self.notes_view.clear()
        self.trail_view.clear()
        self._update_buttons()

    # -- showing -------------------------------------------------------------------------------
    def _show_header(self) -> None:
        r = self.row or {}
        kind = words(r.get("kind")) or "record"
        amount = format_minor(int(r.get("amount_minor") or 0), r.get("currency"))
        self.title.setText(
            f"<span style='font-size:13pt'><b>{escape(amount)} {escape(str(r.get('currency')))}"
            f"</b> · {escape(kind)} {int(r['id'])}</span><br>"
            f"<span style='color:#5f6670'>{escape(str(r.get('source') or ''))} · booked "
            f"{r.get('booked_on')} ({r.get('age_days', '?')} d ago) · "
            f"{escape(words(r.get('state')))}</span>"
        )
        case = "no case"
        if r.get("case_id") is not None:
            case = (
                f"case {r['case_id']}: <b>{escape(words(r.get('case_status')))}</b>, priority "
                f"{r.get('priority')}, due {r.get('due_on') or '—'}, "
                f"{escape(r.get('assignee') or 'unassigned')}"
            )
        refs = ""
        if self.data is not None and self.data.record_id == int(r["id"]):
            refs = ", ".join(escape(x) for x in self.data.references) or "none"
        rows = [
            ("External id", escape(str(r.get("external_id") or "—"))),
            ("Counterparty", escape(str(r.get("counterparty") or "—"))),
            ("Description", escape(str(r.get("description") or "—"))),
            ("References", refs or "…"),
            ("Case", case),
        ]
        self.facts.setText(
            "<table cellspacing='0' cellpadding='1'>"
            + "".join(
                f"<tr><td style='color:#5f6670;padding-right:8px'>{k}</td><td>{v}</td></tr>"
                for k, v in rows
            )
            + "</table>"
        )

    def _show(self, data: workspace_data.WorkspaceData) -> None:
        self.data = data
        self._show_header()
        rows = [_candidate_row(c) for c in data.candidates]
        self.candidates.set_rows(rows)
        self.candidates_view.resizeColumnsToContents()
        header = self.candidates_view.horizontalHeader()
        for i, most in enumerate(CANDIDATE_MAX_WIDTHS):
            header.resizeSection(i, min(header.sectionSize(i), most))
        self.candidates_view.resizeRowsToContents()
        if rows:
            select_only(self.candidates_view, 0)
            self.candidates_hint.setText(
                "Tick candidates (Space) and press Match (Ctrl+M). "
                "“Why not” names each condition the engine's rules failed."
            )
        else:
            self.candidates_hint.setText(
                "No candidate shares a reference or has a close amount in the date range."
            )
        if data.match is not None:
            m = data.match
            diff = int(m.get("difference_minor") or 0)
            self.match_box.setTitle(f"Suggested match {m['id']}")
            self.match_label.setText(
                f"{escape(str(m.get('rule')))} · confidence {m.get('confidence')} · difference "
                f"<b>{format_minor(diff, m.get('currency'))} {escape(str(m.get('currency')))}</b>"
                + (f" · {escape(str(m.get('note')))}" if m.get("note") else "")
            )
            self.members.set_rows(data.members)
            self.members_view.resizeColumnsToContents()
            self.members_view.setFixedHeight(
                self.members_view.horizontalHeader().height()
                + self.members_view.verticalHeader().defaultSectionSize()
                * max(2, min(5, len(data.members)))
                + 4
            )
            self.match_box.show()
        else:
            self.members.set_rows([])
            self.match_box.hide()
        notes = "".join(
            f"<p><b>{escape(author)}</b> <span style='color:#5f6670'>{_when(when)}</span><br>"
            f"{escape(text)}</p>"
            for _id, author, text, when in data.notes
        )
        self.notes_view.setHtml(notes or "<p style='color:#5f6670'>No notes yet.</p>")
        self.notes_box.setEnabled(data.case is not None)
        self._show_trail(data.record_id)
        self._update_buttons()
        self.loaded.emit(data.record_id)

    def _show_trail(self, record_id: int) -> None:
        # A few indexed reads; the workspace must not fail when the trail cannot be built.
        try:
            self.trail_view.show_record(record_id)
        except Exception as exc:
            self.trail_view.clear(f"The money trail could not be read: {exc}")

    def _update_buttons(self, *_args) -> None:
        has = self.data is not None and self.row is not None
        match = self.data.match if has and self.data is not None else None
        self.confirm_button.setEnabled(match is not None)
        self.reject_button.setEnabled(match is not None)
        self.split_button.setEnabled(match is not None and bool(self.members.checked_rows()))
        self.match_button.setEnabled(has and bool(self.candidates.checked_rows()))
        self.unmatch_button.setEnabled(
            has and (match is not None or self._current_match() is not None)
        )
        self.writeoff_button.setEnabled(has)

    # -- what is ticked ------------------------------------------------------------------------
    def checked_candidates(self) -> list[int]:
        return [int(self.candidates.row(i)["id"]) for i in self.candidates.checked_rows()]

    def check_candidate(self, record_id: int, on: bool = True) -> bool:
        for i, row in enumerate(self.candidates.rows()):
            if int(row["id"]) == int(record_id):
                self.candidates.set_checked(i, on)
                return True
        return False

    def toggle_current_candidate(self) -> None:
        current = self.candidates_view.currentIndex()
        if current.isValid():
            self.candidates.toggle(current.row())

    def focus_candidates(self) -> None:
        self.candidates_view.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if self.candidates.rowCount() and not self.candidates_view.currentIndex().isValid():
            select_only(self.candidates_view, 0)

    def _current_match(self) -> int | None:
        """The active match of the highlighted candidate, when it is matched elsewhere."""
        current = self.candidates_view.currentIndex()
        if not current.isValid() or current.row() >= self.candidates.rowCount():
            return None
        row = self.candidates.row(current.row())
        if row.get("state") in ("matched", "written_off") and row.get("match_id") is not None:
            return int(row["match_id"])
        return None

    # -- actions -------------------------------------------------------------------------------
    def _hook(self):
        rid = self.record_id

        def hook(undone: bool) -> None:
            if undone and self.reselect is not None and rid is not None:
                self.reselect(rid)

        return hook

    def match_checked(self):
        ids = self.checked_candidates()
        if self.record_id is None or not ids:
            self.ctx.notify("Tick at least one candidate to match with")
            return None
        return self.actions.manual_match([self.record_id, *ids], self._hook())

    def confirm(self):
        if self.data is None or self.data.match is None:
            return None
        return self.actions.confirm(int(self.data.match["id"]), self._hook())

    def reject(self):
        if self.data is None or self.data.match is None:
            return None
        return self.actions.reject(int(self.data.match["id"]), self._hook())

    def unmatch(self):
        other = self._current_match()
        if other is not None:
            return self.actions.unmatch(other, self._hook())
        if self.data is not None and self.data.match is not None:
            return self.actions.unmatch(int(self.data.match["id"]), self._hook())
        return None

    def split(self):
        if self.data is None or self.data.match is None:
            return None
        ids = [int(self.members.row(i)["record_id"]) for i in self.members.checked_rows()]
        if not ids:
            self.ctx.notify("Tick the members to split off")
            return None
        return self.actions.split(int(self.data.match["id"]), ids, self._hook())

    def write_off(self):
        """Write off: ticked candidates are matched first; else the suggestion is confirmed
        first; else this lone line is written off. The service refuses anything over the
        write-off limit (its message is shown, nothing is written)."""
        if self.record_id is None or self.data is None:
            return None
        ids = self.checked_candidates()
        match = self.data.match
        if ids:
            what = "the difference of this match"
        elif match is not None:
            diff = int(match.get("difference_minor") or 0)
            what = f"the difference {format_minor(diff, match.get('currency'))}"
        else:
            what = "this line"
        reason = prompts.choose_writeoff_reason(self, what)
        if reason is None:
            return None
        if ids:
            return self.actions.manual_match([self.record_id, *ids], self._hook(), write_off=reason)
        if match is not None:
            return self.actions.write_off(int(match["id"]), reason, self._hook())
        return self.actions.write_off_record(self.record_id, reason, self._hook())

    def add_note(self):
        text = self.note_edit.text().strip()
        if not text or self.data is None or self.data.case is None:
            return None
        command = run_add_note(self.ctx, int(self.data.case["id"]), text)
        if command is not None:
            self.note_edit.clear()
        return command
