"""The money trail as a tree: order -> PSP line -> payout -> bank line (or the other way round).

`TrailModel` is a small read-only tree model over `Trail.outline()`; `TrailView` shows it with the
trail's notes above and tells its host what the user opened (double-click or Enter on a node):
`open_record(id)` for an order, PSP or bank line, `open_payout(id)`, `open_dispute(id)`. A trail
is a handful of rows read with a few indexed queries (a few milliseconds on the demo), so the
view loads it synchronously on a short main-thread session.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTreeView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from ...errors import UserError
from ...money import format_minor
from ...services.settlement import trail as trail_service
from ...services.settlement.trail import OutlineRow, Trail, TrailNode

COLUMNS = ("Node", "Account", "Date", "Amount", "Cur.", "Status")
# Per node type: marker letter, colour and the word shown before the label.
MARKERS: dict[str, tuple[str, str, str]] = {
    "order": ("O", "#2f6fb0", "Order"),
    "psp": ("P", "#7a4fb5", "PSP"),
    "payout": ("$", "#2c8a4b", "Payout"),
    "bank": ("B", "#b5651d", "Bank"),
    "dispute": ("D", "#b32d2d", "Dispute"),
    "other": ("·", "#5f6670", "Line"),
}
NEGATIVE = "#a11d1d"
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
NODE_ROLE = int(Qt.ItemDataRole.UserRole) + 1  # the TrailNode
RELATION_ROLE = int(Qt.ItemDataRole.UserRole) + 2  # how it relates to its parent

_icons: dict[str, QIcon] = {}


def marker_icon(node_type: str) -> QIcon:
    """A small round marker with the type's letter (drawn once per type)."""
    icon = _icons.get(node_type)
    if icon is None:
        letter, colour, _word = MARKERS.get(node_type, MARKERS["other"])
        pix = QPixmap(16, 16)
        pix.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pix)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor(colour))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(1, 1, 14, 14)
        font = QFont()
        font.setPixelSize(10)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(QRectF(0, 0, 16, 16), Qt.AlignmentFlag.AlignCenter, letter)
        painter.end()
        icon = _icons[node_type] = QIcon(pix)
    return icon


def node_text(node: TrailNode) -> str:
    """`Order ORD-1000356`, `PSP charge txn_…`, `Bank credit BR…`."""
    word = MARKERS.get(node.type, MARKERS["other"])[2]
    kind = (node.kind or "").replace("_", " ")
    if node.type == "bank" and kind.startswith("bank "):
        kind = kind[5:]
    if kind and kind != node.type:
        return f"{word} {kind} {node.label}"
    return f"{word} {node.label}"


def cell_text(node: TrailNode, column: int) -> str:
    if column == 0:
        return node_text(node)
    if column == 1:
        return node.account or ""
    if column == 2:
        return node.booked_on.isoformat() if node.booked_on else ""
    if column == 3:
        if node.amount_minor is None:
            return ""
        return format_minor(int(node.amount_minor), node.currency)
    if column == 4:
        return node.currency or ""
    return (node.status or "").replace("_", " ")


class _Item:
    __slots__ = ("children", "node", "parent", "relation", "row")

    def __init__(self, node: TrailNode | None, relation: str | None, parent: _Item | None) -> None:
        self.node = node
        self.relation = relation
        self.parent = parent
        self.children: list[_Item] = []
        self.row = 0


class TrailModel(QAbstractItemModel):
    """A trail's outline as a tree (read-only)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._root = _Item(None, None, None)
        self._negative = QBrush(QColor(NEGATIVE))
        self._bold = QFont()
        self._bold.setBold(True)

    # -- ours --------------------------------------------------------------------------------
    def set_outline(self, outline: list[OutlineRow]) -> None:
        self.beginResetModel()
        root = _Item(None, None, None)
        stack: list[_Item] = [root]
        for o in outline:
            depth = max(0, int(o.depth))
            del stack[depth + 1 :]
            parent = stack[-1]
            item = _Item(o.node, o.relation, parent)
            item.row = len(parent.children)
            parent.children.append(item)
            stack.append(item)
        self._root = root
        self.endResetModel()

    def clear(self) -> None:
        self.set_outline([])

    def node(self, index: QModelIndex | QPersistentModelIndex) -> TrailNode | None:
        item = self._item(index)
        return None if item is self._root else item.node

    def walk(self) -> list[tuple[int, str | None, TrailNode]]:
        """(depth, relation, node) depth first, as shown."""
        out: list[tuple[int, str | None, TrailNode]] = []

        def visit(item: _Item, depth: int) -> None:
            for child in item.children:
                assert child.node is not None
                out.append((depth, child.relation, child.node))
                visit(child, depth + 1)

        visit(self._root, 0)
        return out

    def _item(self, index: QModelIndex | QPersistentModelIndex) -> _Item:
        if index.isValid():
            item = index.internalPointer()
            if isinstance(item, _Item):
                return item
        return self._root

    # -- Qt ----------------------------------------------------------------------------------
    def index(self, row: int, column: int, parent=QModelIndex()) -> QModelIndex:  # noqa: B008
        if column < 0 or column >= len(COLUMNS) or row < 0:
            return QModelIndex()
        if parent.isValid() and parent.column() != 0:
            return QModelIndex()
        item = self._item(parent)
        if row >= len(item.children):
            return QModelIndex()
        return self.createIndex(row, column, item.children[row])

    def parent(self, index=QModelIndex()):  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        item = self._item(index)
        up = item.parent
        if up is None or up is self._root:
            return QModelIndex()
        return self.createIndex(up.row, 0, up)

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._item(parent).children)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        item = self._item(index)
        node = item.node
        if node is None:
            return None
        c = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(node, c)
        if role == Qt.ItemDataRole.DecorationRole and c == 0:
            return marker_icon(node.type)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if c == 3 else _LEFT
        if role == Qt.ItemDataRole.ForegroundRole:
            if c == 3 and node.amount_minor is not None and int(node.amount_minor) < 0:
                return self._negative
            return None
        if role == Qt.ItemDataRole.FontRole:
            return self._bold if c == 0 and item.parent is self._root else None
        if role == Qt.ItemDataRole.ToolTipRole:
            rel = f"{item.relation} → " if item.relation else ""
            return f"{rel}{node_text(node)}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            rel = f"{item.relation}: " if item.relation and c == 0 else ""
            return f"{COLUMNS[c]}: {rel}{cell_text(node, c)}"
        if role == NODE_ROLE:
            return node
        if role == RELATION_ROLE:
            return item.relation
        return None

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return _RIGHT if section == 3 else _LEFT
            return None
        return super().headerData(section, orientation, role)


class _TrailTree(QTreeView):
    activated_node = Signal(object)  # TrailNode; Enter or double-click

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        ):
            node = self.model().data(self.currentIndex(), NODE_ROLE)
            if node is not None:
                self.activated_node.emit(node)
                return
        super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        index = self.indexAt(event.position().toPoint())
        node = self.model().data(index, NODE_ROLE) if index.isValid() else None
        if node is not None:
            self.activated_node.emit(node)
            return
        super().mouseDoubleClickEvent(event)


class TrailView(QWidget):
    """Notes above a tree of the trail.

    Signals:
        open_record(int): an order, PSP line or bank line was opened.
        open_payout(int): a payout was opened.
        open_dispute(int): a dispute was opened.
    """

    open_record = Signal(int)
    open_payout = Signal(int)
    open_dispute = Signal(int)

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("trail_view")
        self.ctx = ctx
        self.trail: Trail | None = None
        self.model = TrailModel(self)
        self.notes = QLabel()
        self.notes.setObjectName("trail_notes")
        self.notes.setTextFormat(Qt.TextFormat.RichText)
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tree = _TrailTree()
        self.tree.setObjectName("trail_tree")
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setIndentation(16)
        self.tree.setToolTip("Enter or double-click opens the node")
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for i, width in enumerate((400, 120, 84, 90, 40, 80)):
            self.tree.setColumnWidth(i, width)
        self.tree.activated_node.connect(self._open)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.notes)
        layout.addWidget(self.tree, 1)
        self.clear()

    # -- loading -------------------------------------------------------------------------------
    def clear(self, text: str = "No trail to show.") -> None:
        self.trail = None
        self.model.clear()
        self.notes.setText(f"<span style='color:#5f6670'>{escape(text)}</span>")

    def _load(self, read: Callable[[Session], Trail]) -> Trail | None:
        try:
            with self.ctx.session() as s:
                found = read(s)
        except UserError as exc:
            self.clear(str(exc))
            return None
        self.set_trail(found)
        return found

    def show_ident(self, ident: str) -> Trail | None:
        """The trail of an order number, charge id, payout id, bank reference or dispute id."""
        return self._load(lambda s: trail_service.trail(s, ident))

    def show_record(self, record_id: int) -> Trail | None:
        return self._load(lambda s: trail_service.trail_for_record(s, int(record_id)))

    def show_payout(self, payout_id: int) -> Trail | None:
        return self._load(lambda s: trail_service.trail_for_payout(s, int(payout_id)))

    def show_dispute(self, dispute_id: int) -> Trail | None:
        return self._load(lambda s: trail_service.trail_for_dispute(s, int(dispute_id)))

    def set_trail(self, found: Trail) -> None:
        self.trail = found
        self.model.set_outline(found.outline())
        self.tree.expandAll()
        if self.model.rowCount():
            self.tree.setCurrentIndex(self.model.index(0, 0))
        self.notes.setText(notes_html(found))

    # -- opening -------------------------------------------------------------------------------
    def current_node(self) -> TrailNode | None:
        return self.model.node(self.tree.currentIndex())

    def _open(self, node: TrailNode) -> None:
        if node.type == "payout":
            self.open_payout.emit(int(node.id))
        elif node.type == "dispute":
            self.open_dispute.emit(int(node.id))
        else:
            self.open_record.emit(int(node.id))


def notes_html(found: Trail) -> str:
    """The line above the tree: does the money reach the bank, and the trail's notes."""
    if found.reaches_bank:
        head = "<b style='color:#1e6b36'>Reaches the bank</b>"
    else:
        head = "<b style='color:#8a5300'>Not at the bank yet</b>"
    parts = [head] + [escape(n) for n in found.notes]
    if found.truncated:
        parts.append("only the first lines of a big payout are listed")
    return " · ".join(parts)
