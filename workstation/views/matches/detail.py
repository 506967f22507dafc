"""The selected match: its lines (drill-down); confirm, reject, unmatch, split, write off."""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...money import format_minor
from ...services.reconcile import table_queries
from ..exceptions import prompts
from ..exceptions.check_model import CheckableRowsModel
from ..exceptions.commands import MatchActions
from ..exceptions.workspace import check_table
from ..models.table import Column

MEMBER_COLUMNS = (
    Column("side", "Side"),
    Column("source", "Source"),
    Column("kind", "Kind"),
    Column("booked_on", "Booked", "date"),
    Column("amount_minor", "Amount", "money"),
    Column("external_id", "External id"),
    Column("counterparty", "Counterparty"),
    Column("references", "References"),
)


class MatchDetail(QWidget):
    """Right-hand pane of the Matches page. `loaded(match_id)` after a match is shown."""

    loaded = Signal(int)

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("match_detail")
        self.ctx = ctx
        self.actions = MatchActions(ctx)
        self.match: dict[str, Any] | None = None
        self.reselect = None  # the page: reselect(match_id) after an undo
        self.title = QLabel()
        self.title.setObjectName("workspace_title")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.facts = QLabel()
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.members = CheckableRowsModel(MEMBER_COLUMNS, parent=self)
        self.members_view = check_table("match_members_table", self.members)
        self.confirm_button = QPushButton("Confirm")
        self.confirm_button.setToolTip("Accept the suggestion (Ctrl+Enter)")
        self.reject_button = QPushButton("Reject")
        self.reject_button.setToolTip("Turn the suggestion down (Ctrl+R)")
        self.unmatch_button = QPushButton("Unmatch")
        self.unmatch_button.setToolTip("Take the match apart; its lines become open (Ctrl+U)")
        self.split_button = QPushButton("Split off ticked")
        self.split_button.setToolTip("Take the ticked lines out of the match")
        self.writeoff_button = QPushButton("Write off…")
        self.writeoff_button.setToolTip(
            "Book the difference to rounding, bank fee or FX, within the limit (Ctrl+W)"
        )
        buttons = QGridLayout()
        buttons.addWidget(self.confirm_button, 0, 0)
        buttons.addWidget(self.reject_button, 0, 1)
        buttons.addWidget(self.unmatch_button, 0, 2)
        buttons.addWidget(self.split_button, 1, 0)
        buttons.addWidget(self.writeoff_button, 1, 1)
        buttons.setColumnStretch(3, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.facts)
        layout.addWidget(self.members_view, 1)
        layout.addLayout(buttons)
        self.confirm_button.clicked.connect(self.confirm)
        self.reject_button.clicked.connect(self.reject)
        self.unmatch_button.clicked.connect(self.unmatch)
        self.split_button.clicked.connect(self.split)
        self.writeoff_button.clicked.connect(self.write_off)
        self.members.checked_changed.connect(self._update_buttons)
        self.clear()

    def sizeHint(self) -> QSize:
        return QSize(560, 500)

    def minimumSizeHint(self) -> QSize:
        return QSize(300, 200)

    @property
    def match_id(self) -> int | None:
        return None if self.match is None else int(self.match["id"])

    def clear(self) -> None:
        self.match = None
        self.title.setText("<b>No match selected</b>")
        self.facts.setText("Select a match on the left to see its lines.")
        self.members.set_rows([])
        self._update_buttons()

    def show_match(self, row: dict[str, Any] | None) -> None:
        """Show the match of a table row (its members are read now: one indexed query)."""
        if row is None:
            self.clear()
            return
        mid = int(row["id"])
        with self.ctx.session() as s:
            members = table_queries.match_members(s, [mid]).get(mid, [])
            refs = table_queries.references_of(s, [m["record_id"] for m in members])
        self.match = dict(row)
        for m in members:
            m["references"] = "; ".join(refs.get(int(m["record_id"]), []))
            m["kind"] = str(m.get("kind") or "").replace("_", " ")
        cur = row.get("currency")
        diff = int(row.get("difference_minor") or 0)
        self.title.setText(
            f"<span style='font-size:13pt'><b>Match {mid}</b> · {escape(str(row.get('status')))}"
            f"</span><br><span style='color:#5f6670'>{escape(str(row.get('rule')))}</span>"
        )
        facts = [
            ("Confidence", str(row.get("confidence"))),
            ("Difference", f"<b>{format_minor(diff, cur)} {escape(str(cur))}</b>"),
            (
                "Written off",
                escape(
                    f"{format_minor(int(row['writeoff_minor']), cur)} as "
                    f"{prompts.REASON_TEXT.get(row['writeoff_reason'], row['writeoff_reason'])}"
                )
                if row.get("writeoff_reason")
                else "—",
            ),
            ("Created", escape(f"{row.get('created_by')}")),
            ("Confirmed", escape(str(row.get("confirmed_by") or "—"))),
            ("Note", escape(str(row.get("note") or "—"))),
        ]
        self.facts.setText(
            "<table cellspacing='0' cellpadding='1'>"
            + "".join(
                f"<tr><td style='color:#5f6670;padding-right:8px'>{k}</td><td>{v}</td></tr>"
                for k, v in facts
            )
            + "</table>"
        )
        self.members.set_rows(members)
        self.members_view.resizeColumnsToContents()
        self._update_buttons()
        self.loaded.emit(mid)

    def _update_buttons(self, *_args) -> None:
        status = None if self.match is None else self.match.get("status")
        self.confirm_button.setEnabled(status == "suggested")
        self.reject_button.setEnabled(status == "suggested")
        self.unmatch_button.setEnabled(status in ("auto", "confirmed", "suggested"))
        self.split_button.setEnabled(
            status in ("auto", "confirmed", "suggested") and bool(self.members.checked_rows())
        )
        self.writeoff_button.setEnabled(
            status in ("auto", "confirmed", "suggested")
            and int((self.match or {}).get("difference_minor") or 0) != 0
            and not (self.match or {}).get("writeoff_reason")
        )

    # -- actions -------------------------------------------------------------------------------
    def _hook(self):
        mid = self.match_id
        page_hook = self.reselect

        def hook(undone: bool) -> None:
            if undone and page_hook is not None and mid is not None:
                page_hook(mid)

        return hook

    def confirm(self):
        return self.actions.confirm(self.match_id, self._hook()) if self.match_id else None

    def reject(self):
        return self.actions.reject(self.match_id, self._hook()) if self.match_id else None

    def unmatch(self):
        return self.actions.unmatch(self.match_id, self._hook()) if self.match_id else None

    def split(self):
        if self.match_id is None:
            return None
        ids = [int(self.members.row(i)["record_id"]) for i in self.members.checked_rows()]
        if not ids:
            self.ctx.notify("Tick the lines to split off")
            return None
        return self.actions.split(self.match_id, ids, self._hook())

    def write_off(self):
        if self.match is None:
            return None
        diff = int(self.match.get("difference_minor") or 0)
        reason = prompts.choose_writeoff_reason(
            self, f"the difference {format_minor(diff, self.match.get('currency'))}"
        )
        if reason is None:
            return None
        return self.actions.write_off(int(self.match["id"]), reason, self._hook())
