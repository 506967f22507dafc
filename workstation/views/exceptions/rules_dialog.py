"""Rules…: the match cascade in order, enabled / auto-confirm toggles, move up/down, Simulate."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
)

from ...errors import UserError
from ...services.reconcile import rules
from ...services.reconcile.rules import RuleSpec
from .. import messages
from .reconcile import ReconcileController, ReconcilePanel
from .workspace import select_only

HEADERS = ("#", "Rule", "Kind", "Enabled", "Auto-confirm", "Conditions")
ENABLED, AUTO = 3, 4
KIND_TEXT = {
    "reference": "shared reference",
    "payout": "payout grouping",
    "fx": "fee / FX aware",
    "window": "amount + date window",
    "subset": "subset sum",
}


def conditions(spec: RuleSpec) -> str:
    """The main parameters of a rule in words."""
    p = spec.params
    parts = []
    if spec.kind == "reference":
        parts.append(f"{p.get('mode', 'exact')} reference")
    if "days_before" in p or "days_after" in p:
        parts.append(f"date −{p.get('days_before', 0)}/+{p.get('days_after', 0)} d")
    abs_tol, ppm = spec.tolerance()
    if abs_tol or ppm:
        parts.append(f"tolerance {abs_tol} minor / {ppm / 10000:g} %")
    if spec.kind == "fx" and "fx_pct_tolerance" in p:
        parts.append(f"FX ±{p['fx_pct_tolerance']} %")
    if spec.kind == "subset":
        parts.append(f"≤ {p.get('max_members', 4)} members of {p.get('max_candidates', 20)}")
    pairs = spec.pairs()
    if pairs:
        parts.append(", ".join(f"{a}↔{b}" for a, b in pairs))
    return "; ".join(parts)


class RulesModel(QAbstractTableModel):
    """The cascade; ticking Enabled/Auto-confirm asks `toggled(name, column, on)`."""

    toggled = Signal(str, int, bool)

    def __init__(self, specs: list[RuleSpec], parent=None) -> None:
        super().__init__(parent)
        self.specs = list(specs)

    def set_specs(self, specs: list[RuleSpec]) -> None:
        self.beginResetModel()
        self.specs = list(specs)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.specs)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() in (ENABLED, AUTO):
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.specs):
            return None
        spec, c = self.specs[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            values: tuple[Any, ...] = (
                str(index.row() + 1),
                spec.name,
                KIND_TEXT.get(spec.kind, spec.kind),
                "",
                "",
                conditions(spec),
            )
            return values[c]
        if role == Qt.ItemDataRole.CheckStateRole and c in (ENABLED, AUTO):
            on = spec.enabled if c == ENABLED else spec.auto_confirm
            return Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole and c == AUTO and spec.kind == "subset":
            return "Subset-sum matches are never auto-confirmed"
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.CheckStateRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or index.column() not in (ENABLED, AUTO):
            return False
        state = Qt.CheckState(value) if isinstance(value, int) else value
        self.toggled.emit(
            self.specs[index.row()].name, index.column(), state == Qt.CheckState.Checked
        )
        return True

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(HEADERS)
        ):
            return HEADERS[section]
        return super().headerData(section, orientation, role)


class RulesDialog(QDialog):
    """The cascade as the engine runs it, top to bottom; changes are stored and audited at once."""

    rules_changed = Signal()

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("rules_dialog")
        self.setWindowTitle("Match rules")
        self.ctx = ctx
        intro = QLabel(
            "Rules run top to bottom; each record is used by the first rule that matches it. "
            "Auto-confirmed matches need no clerk; the others are suggestions in the "
            "exceptions queue. Simulate shows what this rule set would do, writing nothing."
        )
        intro.setWordWrap(True)
        self.model = RulesModel([], self)
        self.model.toggled.connect(self.toggle)
        self.table = QTableView()
        self.table.setObjectName("rules_table")
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.up_button = QPushButton("Move up")
        self.down_button = QPushButton("Move down")
        self.simulate_button = QPushButton("Simulate")
        self.simulate_button.setToolTip("Dry run of this rule set over the open records")
        self.up_button.clicked.connect(lambda: self.move(-1))
        self.down_button.clicked.connect(lambda: self.move(1))
        self.panel = ReconcilePanel()
        self.runner = ReconcileController(ctx, self.panel, self)
        self.simulate_button.clicked.connect(self.simulate)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.up_button)
        row.addWidget(self.down_button)
        row.addStretch(1)
        row.addWidget(self.simulate_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.panel)
        layout.addWidget(buttons)
        self.resize(860, 360)
        self.reload()

    def reload(self, select: str | None = None) -> None:
        with self.ctx.session() as s:
            specs = rules.load_rules(s)
        self.model.set_specs(specs)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        if select is not None:
            names = [r.name for r in specs]
            if select in names:
                select_only(self.table, names.index(select))

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.specs[rows[0].row()].name if rows else None

    def _change(self, fn, select: str | None) -> bool:
        try:
            with self.ctx.session() as s:
                fn(s)
        except UserError as exc:
            messages.show_error(self, exc)
            self.reload(select)
            return False
        self.reload(select)
        self.rules_changed.emit()
        return True

    def toggle(self, name: str, column: int, on: bool) -> bool:
        key = "enabled" if column == ENABLED else "auto_confirm"
        return self._change(
            lambda s: rules.update_rule(s, name, actor=self.ctx.actor, **{key: on}), name
        )

    def move(self, step: int, name: str | None = None) -> bool:
        name = name or self.selected_name()
        if name is None:
            return False
        names = [r.name for r in self.model.specs]
        pos = names.index(name) + 1 + step
        if not 1 <= pos <= len(names):
            return False
        return self._change(lambda s: rules.move_rule(s, name, pos, actor=self.ctx.actor), name)

    def simulate(self):
        return self.runner.run(dry_run=True)
