"""One dispute case: details, money trail, checklist, evidence, Visa CE 3.0, texts, timeline.

The case is read in the background (`services.disputes.case.case_view`) and shown section by
section (`case_overview`, `case_checklist`, `evidence`, `case_ce3`). Text fields autosave through
`DraftSaver`; evidence changes, notes, the package and the submission go through their services
in background tasks and reload the case afterwards.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...money import format_minor
from ...services.disputes.agent_actions import add_note
from ...services.disputes.case import case_view
from ...services.disputes.package import export_package, mark_submitted, preflight
from ...services.disputes.reason_codes import checklists
from .. import messages
from ..context import DISPUTES
from ..models.table import Column, RowsTableModel
from ..settlement.trail_view import TrailView
from .case_ce3 import Ce3Tab
from .case_checklist import ChecklistSection
from .case_overview import OverviewTab
from .case_widgets import banner, scrolled, set_kind, table_view, when_text
from .drafts import DraftSaver, saved_text
from .evidence import EvidencePanel
from .preflight_dialog import PreflightDialog
from .source import words

TEXT_FIELDS = ("product_description", "communication_summary", "rebuttal")
HINTS = {
    "fight": ("Suggestion: fight", "ok"),
    "gather_evidence": ("Suggestion: gather evidence, then fight", "warning"),
    "accept": ("Suggestion: accept", "info"),
    "none": ("No decision due", "info"),
}
TIMELINE_COLUMNS = (
    Column("at", "When", "datetime"),
    Column("actor", "Who"),
    Column("text", "What"),
)
STYLE = """
QLabel#case_title { font-size: 14pt; font-weight: 600; color: #1f2a37; }
QLabel#case_amount { font-size: 14pt; font-weight: 600; color: #1f2a37; }
QLabel#due_chip { border-radius: 9px; padding: 2px 9px; background: #eef2f7;
    border: 1px solid #d5dce6; }
QLabel#due_chip[state="overdue"] { background: #fde2e1; border-color: #e8a3a0; color: #7a1212;
    font-weight: 600; }
QLabel#due_chip[state="due_today"] { background: #fff0cc; border-color: #f0c98a;
    color: #5c3b00; font-weight: 600; }
QLabel#due_chip[state="none"] { background: transparent; border: none; color: #5f6670; }
QLabel#drop_area { border: 2px dashed #9fb3c8; border-radius: 6px; padding: 12px;
    color: #3b4a5c; background: #f6f9fc; }
QLabel#drop_area[locked="true"] { border-color: #d0d4da; color: #5f6670; background: #f3f4f6; }
"""


class CaseView(QWidget):
    """The open case (right-hand pane of the Disputes page).

    Signals:
        case_loaded(int): a case was (re)loaded and shown.
        close_requested(): the user closed the pane.
    """

    case_loaded = Signal(int)
    close_requested = Signal()

    def __init__(self, ctx, saver: DraftSaver | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("case_view")
        self.setStyleSheet(STYLE)
        self.ctx = ctx
        self.saver = saver or DraftSaver(ctx, self)
        self.dispute_id: int | None = None
        self.view = None  # the last CaseView data shown
        self._loading_for: int | None = None
        self._load_seq = 0
        self._setting_text = False
        self.preflight_dialog: PreflightDialog | None = None
        self.last_package: Path | None = None

        # -- header
        self.title = QLabel("No case open")
        self.title.setObjectName("case_title")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Long PSP ids may be cut when the pane is narrow (the tooltip has the whole id).
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.subtitle = QLabel()
        self.subtitle.setObjectName("muted")
        self.subtitle.setWordWrap(True)
        self.amount = QLabel()
        self.amount.setObjectName("case_amount")
        self.due = QLabel()
        self.due.setObjectName("due_chip")
        self.close_button = QToolButton()
        self.close_button.setText("Close")
        self.close_button.setToolTip("Close the case")
        self.close_button.clicked.connect(self.close_requested)
        self.lock_label = banner("lock_banner")
        self.lock_label.hide()
        self.hint = banner()
        self.hint.setObjectName("banner")
        self.package_button = QPushButton("Build package…")
        self.package_button.setObjectName("build_package")
        self.package_button.setToolTip(
            "Check the package against the PSP's limits, then save the PDF and ZIP"
        )
        self.package_button.clicked.connect(self.build_package)
        self.submit_button = QPushButton("Mark as submitted…")
        self.submit_button.setObjectName("mark_submitted")
        self.submit_button.setToolTip("Record that the evidence went to the PSP and lock it")
        self.submit_button.clicked.connect(self.mark_submitted)

        head_row = QHBoxLayout()
        head_row.addWidget(self.title, 1)
        head_row.addWidget(self.amount)
        head_row.addWidget(self.close_button)
        sub_row = QHBoxLayout()
        sub_row.addWidget(self.subtitle, 1)
        sub_row.addWidget(self.due)
        action_row = QHBoxLayout()
        action_row.addWidget(self.hint, 1)
        action_row.addWidget(self.package_button)
        action_row.addWidget(self.submit_button)

        # -- tabs
        self.tabs = QTabWidget()
        self.tabs.setObjectName("case_tabs")
        self.tabs.setDocumentMode(True)
        self.overview = OverviewTab(self)
        self.tabs.addTab(self.overview.widget, "Overview")
        self.tabs.addTab(scrolled(self._build_evidence()), "Evidence")
        self.tabs.addTab(scrolled(self._build_texts()), "Response")
        self.tabs.addTab(self._build_timeline(), "Timeline")
        self.ce3 = Ce3Tab(self)
        self.ce3_tab = self.ce3.widget
        self.ce3_index = self.tabs.addTab(self.ce3_tab, "Visa CE 3.0")
        self.tabs.setTabVisible(self.ce3_index, False)
        self.money_trail = TrailView(ctx)
        self.money_trail.open_payout.connect(
            lambda pid: ctx.navigate("payouts", {"payout_id": pid})
        )
        self.money_trail_index = self.tabs.addTab(self.money_trail, "Money trail")
        # the sections' models and labels, as callers of the view know them
        self.trail_model = self.overview.trail_model
        self.ce3_model = self.ce3.model
        self.ce3_summary = self.ce3.summary
        self.ce3_detail = self.ce3.detail

        self.body = QWidget()
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(6)
        body.addLayout(head_row)
        body.addLayout(sub_row)
        body.addWidget(self.lock_label)
        body.addLayout(action_row)
        body.addWidget(self.tabs, 1)
        self.empty = QLabel("Open a case from the queue (double-click or Enter), or Claim next.")
        self.empty.setObjectName("muted")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 0, 0, 0)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.body, 1)
        self.body.hide()

        ctx.data_changed.connect(self._data_changed)
        self.saver.saved.connect(self._draft_saved)
        self.saver.failed.connect(self._draft_failed)
        self.evidence.changed.connect(self._evidence_changed)

    # -- building --------------------------------------------------------------------------------
    def _build_evidence(self) -> QWidget:
        self.checklist = ChecklistSection()
        self.evidence = EvidencePanel(self.ctx)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.checklist.title)
        layout.addWidget(self.checklist.list)
        layout.addWidget(self.evidence, 1)
        return page

    def _build_texts(self) -> QWidget:
        labels = checklists()["text_fields"]
        self.editors: dict[str, QPlainTextEdit] = {}
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 6, 0, 0)
        self.saved_label = QLabel()
        self.saved_label.setObjectName("muted")
        self.saved_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        hint = QLabel("Drafts save as you type; card numbers are masked before they are stored.")
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(hint, 1)
        top.addWidget(self.saved_label)
        layout.addLayout(top)
        for field in TEXT_FIELDS:
            label = QLabel(labels.get(field, words(field).capitalize()))
            label.setObjectName("section_title")
            editor = QPlainTextEdit()
            editor.setObjectName(f"text_{field}")
            editor.setTabChangesFocus(True)
            editor.textChanged.connect(lambda f=field: self._text_edited(f))
            editor.installEventFilter(self)
            label.setBuddy(editor)
            self.editors[field] = editor
            layout.addWidget(label)
            layout.addWidget(editor, 2 if field == "rebuttal" else 1)
        save_now = QAction("Save drafts now", page)
        save_now.setShortcut(QKeySequence(QKeySequence.StandardKey.Save))
        save_now.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        save_now.triggered.connect(self.saver.save_soon)
        page.addAction(save_now)
        return page

    def _build_timeline(self) -> QWidget:
        self.timeline_model = RowsTableModel(TIMELINE_COLUMNS, parent=self)
        self.timeline_table = table_view("timeline", self.timeline_model)
        self.note_edit = QPlainTextEdit()
        self.note_edit.setObjectName("note_edit")
        self.note_edit.setPlaceholderText("Add a note for the team…")
        self.note_edit.setMaximumHeight(70)
        self.note_edit.setTabChangesFocus(True)
        self.note_button = QPushButton("Add note")
        self.note_button.setObjectName("add_note")
        self.note_button.clicked.connect(self.add_note)
        row = QHBoxLayout()
        row.addWidget(self.note_edit, 1)
        row.addWidget(self.note_button, 0, Qt.AlignmentFlag.AlignBottom)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.timeline_table, 1)
        layout.addLayout(row)
        return page

    # -- loading ---------------------------------------------------------------------------------
    def open_case(self, dispute_id: int) -> None:
        """Show case `dispute_id` (drafts of the case shown before are saved first)."""
        if self.dispute_id is not None and dispute_id != self.dispute_id:
            self.saver.flush_now(self.dispute_id)
        self._loading_for = int(dispute_id)
        self._load_seq += 1
        seq = self._load_seq

        def op(session, progress):
            return case_view(session, dispute_id)

        def loaded(v) -> None:
            if seq == self._load_seq:  # only the newest load is shown
                self._loaded(v)

        self.ctx.tasks.run(op, loaded, self._load_failed, label="Opening case", commit=False)

    def reload(self) -> None:
        if self.dispute_id is not None:
            self.open_case(self.dispute_id)

    def clear(self) -> None:
        if self.dispute_id is not None:
            self.saver.flush_now(self.dispute_id)
        self.dispute_id = None
        self.view = None
        self._loading_for = None
        self._load_seq += 1
        self.evidence.clear()
        self.body.hide()
        self.empty.show()

    def _load_failed(self, exc) -> None:
        self.ctx.notify(exc.describe())

    def _loaded(self, v) -> None:
        if v.id != self._loading_for:
            return  # another case was opened meanwhile
        same = v.id == self.dispute_id
        self.dispute_id = v.id
        self.view = v
        self._show_header(v)
        self.overview.show(v)
        self.checklist.show(v.checklist)
        self.evidence.show_case(v, same_case=same)
        self._show_texts(v, same_case=same)
        self._show_timeline(v)
        self._show_ce3(v)
        self._show_money_trail(v.id)
        self._apply_lock(v.locked)
        self.empty.hide()
        self.body.show()
        self.case_loaded.emit(v.id)

    # -- showing ---------------------------------------------------------------------------------
    def _show_money_trail(self, dispute_id: int) -> None:
        # A few indexed reads; the case must open even when the trail cannot be built.
        try:
            self.money_trail.show_dispute(dispute_id)
        except Exception as exc:
            self.money_trail.clear(f"The money trail could not be read: {exc}")

    def _show_header(self, v) -> None:
        self.title.setText(v.psp_dispute_id)
        self.title.setToolTip(f"{v.psp} dispute {v.psp_dispute_id} (case #{v.id})")
        parts = [
            " ".join(p for p in (v.network, v.reason_code) if p),
            words(v.reason_category),
            words(v.stage),
            words(v.status),
            f"PSP {v.psp}",
            f"assigned to {v.assignee}" if v.assignee else "unassigned",
        ]
        self.subtitle.setText(" · ".join(p for p in parts if p))
        self.amount.setText(v.amount_text)
        if v.countdown:
            self.due.setText(f"{v.countdown} (due {when_text(v.due_by)})")
        elif v.due_by is not None:
            self.due.setText(f"due {when_text(v.due_by)}")
        else:
            self.due.setText("")
        self.due.setProperty("state", v.due_state)
        self.due.style().unpolish(self.due)
        self.due.style().polish(self.due)
        h = v.hint
        title, kind = HINTS.get(h.hint, (h.hint, "info"))
        if h.hint == "none":
            summary = f"<b>{escape(title)}</b>: the case is {escape(words(v.status))}"
        else:
            gain = format_minor(h.gain_minor, v.currency, symbol=True)
            summary = (
                f"<b>{escape(title)}</b> · win likelihood {h.likelihood:.0%} · "
                f"expected gain of fighting {escape(gain)}"
            )
        self.hint.setText(summary)
        self.hint.setToolTip("\n".join(f"• {r}" for r in h.reasons))
        self.hint_reasons = list(h.reasons)
        set_kind(self.hint, kind)

    def checklist_state(self) -> dict[str, bool]:
        """Checklist item id -> done, as shown (tests, accessibility)."""
        return self.checklist.state()

    def _show_texts(self, v, *, same_case: bool) -> None:
        if same_case:
            return  # the editors hold what the user typed; the saver keeps the store in step
        self._setting_text = True
        try:
            for field, editor in self.editors.items():
                editor.setPlainText(v.texts.get(field, ""))
        finally:
            self._setting_text = False
        self.saved_label.setText("")

    def _show_timeline(self, v) -> None:
        self.timeline_model.set_rows(
            [{"at": t.at, "actor": t.actor, "text": t.text} for t in reversed(v.timeline)]
        )
        self.timeline_table.resizeColumnToContents(0)
        self.timeline_table.resizeColumnToContents(1)

    def _show_ce3(self, v) -> None:
        self.tabs.setTabVisible(self.ce3_index, v.ce3 is not None)
        self.ce3.show(v.ce3)

    def _apply_lock(self, locked: bool) -> None:
        v = self.view
        for editor in self.editors.values():
            editor.setReadOnly(locked)
        self.submit_button.setEnabled(not locked)
        if locked and v is not None:
            who = f" by {v.submitted_by}" if v.submitted_by else ""
            self.lock_label.setText(
                f"<b>Locked</b> · submitted {when_text(v.submitted_at)}{who}. Evidence and texts "
                "can no longer be changed."
            )
            set_kind(self.lock_label, "warning")
            self.lock_label.show()
        else:
            self.lock_label.hide()

    @property
    def locked(self) -> bool:
        return bool(self.view is not None and self.view.locked)

    # -- texts -----------------------------------------------------------------------------------
    def _text_edited(self, field: str) -> None:
        if self._setting_text or self.dispute_id is None or self.locked:
            return
        self.saver.edited(self.dispute_id, field, self.editors[field].toPlainText())
        self.saved_label.setText("Unsaved changes…")

    def eventFilter(self, obj, event) -> bool:
        if (
            event.type() == QEvent.Type.FocusOut
            and obj in self.editors.values()
            and self.dispute_id is not None
            and self.saver.has_unsaved(self.dispute_id)
        ):
            self.saver.save_soon()
        return super().eventFilter(obj, event)

    def _draft_saved(self, dispute_id: int, field: str, result) -> None:
        if dispute_id != self.dispute_id:
            return
        if not self.saver.has_unsaved(dispute_id):
            self.saved_label.setText(saved_text(result.saved_at))
        if result.masked:
            self.ctx.notify(f"{result.masked} card number(s) masked in the {words(field)}")
        self.reload()  # checklist, hint and timeline follow the text

    def _draft_failed(self, dispute_id: int, field: str, message: str) -> None:
        if dispute_id == self.dispute_id:
            self.saved_label.setText("Not saved")
        messages.show_error(self, f"The {words(field)} was not saved: {message}")

    def hideEvent(self, event) -> None:
        if self.dispute_id is not None and self.saver.has_unsaved(self.dispute_id):
            self.saver.flush_now(self.dispute_id)
        super().hideEvent(event)

    # -- actions ---------------------------------------------------------------------------------
    def _data_changed(self, kind: str) -> None:
        if kind == DISPUTES:
            self.reload()

    def _evidence_changed(self) -> None:
        self.ctx.changed(DISPUTES)  # the queue's evidence count and this case reload

    def add_note(self):
        text = self.note_edit.toPlainText().strip()
        if not text or self.dispute_id is None:
            return None
        dispute_id, actor = self.dispute_id, self.ctx.actor

        def op(session, progress):
            add_note(session, dispute_id, actor, text)

        def done(_result) -> None:
            self.note_edit.clear()
            self.reload()

        return self.ctx.tasks.run(op, done, label="Adding note", cancellable=False)

    def build_package(self):
        """Pre-flight first (shown to the user), then a file name, then the export."""
        if self.dispute_id is None or self.view is None:
            return None
        self.saver.flush_now(self.dispute_id)  # the rebuttal typed a second ago goes in
        dispute_id, name = self.dispute_id, self.view.psp_dispute_id

        def op(session, progress):
            progress(0, 0, "Checking the package")
            return preflight(session, dispute_id)

        def checked(report) -> None:
            self.package_button.setEnabled(True)
            if dispute_id != self.dispute_id:
                return
            dialog = PreflightDialog(report, name, self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.accepted.connect(lambda: self._save_package(report, name))
            dialog.destroyed.connect(lambda: setattr(self, "preflight_dialog", None))
            self.preflight_dialog = dialog
            dialog.open()

        self.package_button.setEnabled(False)
        task = self.ctx.tasks.run(op, checked, label="Pre-flight check", commit=False)
        task.finished.connect(lambda: self.package_button.setEnabled(True))
        return task

    def _save_package(self, report, name: str):
        path_text, _ = QFileDialog.getSaveFileName(
            self, "Save representment package", f"{name}.zip", "ZIP archive (*.zip)"
        )
        if not path_text:
            return None
        path = Path(path_text)
        if path.suffix.lower() != ".zip":
            path = path.with_name(path.name + ".zip")
        dispute_id, actor, force = report.dispute_id, self.ctx.actor, not report.ok

        def op(session, progress):
            progress(0, 0, f"Writing {path.name}")
            return export_package(
                session, dispute_id, path, actor=actor, force=force, report=report
            )

        def done(result) -> None:
            self.last_package = result.path
            self.ctx.notify(f"Package saved: {result.path} ({result.report.pages} pages)")
            self.reload()  # the timeline shows the package

        return self.ctx.tasks.run(op, done, label=f"Saving package {path.name}")

    def mark_submitted(self):
        """Ask, then record the submission and lock the evidence."""
        if self.dispute_id is None or self.view is None or self.locked:
            return None
        name = self.view.psp_dispute_id
        question = (
            f"Mark case {name} as submitted to {self.view.psp}?\n\n"
            "Its evidence and texts are locked afterwards (a manager can unlock them)."
        )
        if not messages.ask(self, "Mark as submitted", question):
            return None
        self.saver.flush_now(self.dispute_id)
        dispute_id, actor = self.dispute_id, self.ctx.actor

        def op(session, progress):
            mark_submitted(session, dispute_id, actor, confirm=True)

        def done(_result) -> None:
            self.ctx.notify(f"{name} marked as submitted; evidence locked")
            self.ctx.changed(DISPUTES)

        return self.ctx.tasks.run(op, done, label="Marking as submitted", cancellable=False)
