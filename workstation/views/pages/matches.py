"""Matches page: every match (auto, confirmed, suggested; rejected on request) as a lazy SQL
table with filters and saved filters, and the selected match's lines beside it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QHBoxLayout
from sqlalchemy import select

from ...errors import UserError
from ...models import Match, Source
from ...services.reconcile import rules
from ..context import CASES, IMPORTS, MATCHES, RECORDS
from ..exceptions import drill
from ..matches.detail import MatchDetail
from ..matches.filter_bar import MatchFilterBar
from ..matches.source import DEFAULT_HIDDEN, MatchSource
from ..queue.page import QueuePage
from ..queue.pane import QueuePane, QueueSpec

QUEUE = QueueSpec(
    key="matches",
    noun=("match", "matches"),
    default_order="By match id",
    hidden=DEFAULT_HIDDEN,
    saved_filters=True,
    watched=(RECORDS, MATCHES, CASES, IMPORTS),
)


class MatchesPage(QueuePage):
    """The matches table (left) and the selected match's lines (right)."""

    TITLE = "Matches"
    SUBTITLE = (
        "How orders, PSP lines, payouts and bank lines were tied together: by which "
        "rule, how sure, and what difference is left."
    )
    SPLITTER_SIZES = (800, 520)

    def __init__(self, ctx, parent=None) -> None:
        queue = QueuePane(ctx, QUEUE, MatchSource(), MatchFilterBar())
        detail = MatchDetail(ctx)
        detail.reselect = queue.table.keep_place.want
        super().__init__(ctx, queue, detail, parent)
        self.detail: MatchDetail = detail
        self.order_label.setMinimumWidth(20)  # elided by the layout in a narrow window
        tools = QHBoxLayout()
        tools.addWidget(self.count_label)
        tools.addWidget(self.order_label, 1)
        self.lay_out(tools, self.filter_bar)

        d = self.detail
        self.confirm_action = self.shortcut(["Ctrl+Return", "Ctrl+Enter"], d.confirm, "Confirm")
        self.reject_action = self.shortcut("Ctrl+R", d.reject, "Reject")
        self.unmatch_action = self.shortcut("Ctrl+U", d.unmatch, "Unmatch")
        self.writeoff_action = self.shortcut("Ctrl+W", d.write_off, "Write off")

    def load_choices(self) -> None:
        with self.ctx.session() as s:
            names = [r.name for r in rules.load_rules(s)]
            used = {str(r) for r in s.scalars(select(Match.rule).distinct()) if r}
            currencies = sorted({str(c) for c in s.scalars(select(Source.currency)) if c})
        names += sorted(used - set(names))
        self.filter_bar.set_rules(names)
        self.filter_bar.set_currencies(currencies)

    def apply_filters(self, data: dict) -> None:
        """Drill-down: psp, booked_from, booked_to and any MatchFilters field."""
        self.show_filters(lambda: drill.match_filters(dict(data)), (UserError, TypeError))

    def current_match_id(self) -> int | None:
        row = self.current_row()
        return None if row is None else int(row["id"])

    def select_match(self, match_id: int) -> bool:
        return self.select_id(match_id)

    def show_current(self, row) -> None:
        self.detail.show_match(row)

    # -- main window hooks -----------------------------------------------------------------------
    def export_table(self, path: Path | str | None = None):
        """Write the table as shown (filters, order, visible columns) to .xlsx or .csv."""
        return self.export_shown(path)
