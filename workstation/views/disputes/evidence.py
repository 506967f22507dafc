"""Evidence of a case: the file list, kind, preview, and adding files by drop or dialog."""

from __future__ import annotations

import io
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QImageReader, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...errors import UserError
from ...services.disputes.evidence import (
    add_evidence_file,
    preview,
    remove_evidence,
    set_evidence_kind,
)
from ...services.disputes.evidence_content import size_text as _size_text
from ...services.disputes.reason_codes import evidence_kinds
from .. import messages
from ..dialogs.dropped_files import local_files
from ..models.table import Column, RowsTableModel

FILE_FILTER = "Evidence (*.pdf *.png *.jpg *.jpeg *.txt *.eml *.csv *.xlsx);;All files (*)"
ACCEPTED = "PDF, PNG/JPEG, TXT, EML, CSV or XLSX"
PREVIEW_MAX = QSize(1600, 1600)
MEDIA_SHORT = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "text/plain": "Text",
    "message/rfc822": "E-mail",
    "text/csv": "CSV",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
}
COLUMNS = (
    Column("file_name", "File"),
    Column("kind_label", "Kind"),
    Column("type", "Type"),
    Column("size_text", "Size", tooltip="File size"),
    Column("added_by", "Added by"),
    Column("added_at", "Added", "datetime"),
)


def pdf_first_page_text(data: bytes, limit: int = 6000) -> str:
    """Text of a PDF's first page (pypdf; no rendering engine in PySide6-Essentials)."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        text = reader.pages[0].extract_text() if reader.pages else ""
    except Exception as exc:  # a damaged PDF still has a list entry; say why there is no text
        return f"(no text: {type(exc).__name__})"
    text = (text or "").strip()
    return text[:limit] if text else "(the first page has no text layer, e.g. a scan)"


def load_preview(session, evidence_id: int) -> dict:
    """Everything the preview pane shows, computed off the GUI thread."""
    p = preview(session, evidence_id)
    out = {"id": p.evidence_id, "name": p.file_name, "kind": p.kind, "pages": p.pages}
    if p.kind == "image":
        out["data"] = p.data
    elif p.kind == "pdf":
        out["text"] = pdf_first_page_text(p.data or b"")
    else:
        out["text"] = p.text or ""
    return out


def decode_image(data: bytes, box: QSize = PREVIEW_MAX) -> QImage:
    """Decode an image at most `box` large (decoding at the smaller size is much faster)."""
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QBuffer.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and (size.width() > box.width() or size.height() > box.height()):
        reader.setScaledSize(size.scaled(box, Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


class ImagePreview(QWidget):
    """An image drawn as large as fits, keeping its proportions, at any size of the pane."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("evidence_image")
        self.image = QImage()
        self.setMinimumSize(80, 60)

    def set_image(self, image: QImage) -> None:
        self.image = image
        self.update()

    def is_empty(self) -> bool:
        return self.image.isNull()

    def paintEvent(self, event) -> None:
        if self.image.isNull():
            return
        area = self.rect().adjusted(6, 6, -6, -6)
        size = self.image.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        if size.width() > self.image.width():  # never blow small images up
            size = self.image.size()
        x = area.x() + (area.width() - size.width()) // 2
        y = area.y() + (area.height() - size.height()) // 2
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(QRect(x, y, size.width(), size.height()), self.image)
        painter.setPen(QColor("#c9d1db"))
        painter.drawRect(QRect(x, y, size.width() - 1, size.height() - 1))
        painter.end()


class DropArea(QLabel):
    """The visible target for dropped files (the whole panel accepts drops)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("drop_area")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.set_locked(False)

    def set_locked(self, locked: bool) -> None:
        self.setProperty("locked", "true" if locked else "false")
        if locked:
            self.setText("Evidence is locked: the case was submitted.")
        else:
            self.setText(f"Drop evidence files here ({ACCEPTED}) or use Add files…")
        self.style().unpolish(self)
        self.style().polish(self)


class EvidencePanel(QWidget):
    """Evidence files of one case.

    Signals:
        changed(): evidence was added, removed or re-classified (reload the case).
    """

    changed = Signal()

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.dispute_id: int | None = None
        self.locked = False
        self._preview_for: int | None = None
        self.setAcceptDrops(True)
        self.kinds = evidence_kinds()

        self.model = RowsTableModel(COLUMNS, parent=self)
        self.table = QTableView()
        self.table.setObjectName("evidence_table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(120)
        self.table.setMaximumHeight(190)

        self.new_kind = QComboBox()
        self.new_kind.setObjectName("new_evidence_kind")
        self.new_kind.setToolTip("Kind given to files added next (change it per file below)")
        self.new_kind.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.new_kind.setMinimumContentsLength(16)
        for key, label in self.kinds.items():
            self.new_kind.addItem(label, key)
        self.new_kind.setCurrentIndex(max(0, self.new_kind.findData("uncategorized")))
        self.add_button = QPushButton("Add files…")
        self.add_button.setObjectName("add_evidence")
        self.add_button.clicked.connect(self.choose_files)
        self.item_kind = QComboBox()
        self.item_kind.setObjectName("evidence_kind")
        self.item_kind.setToolTip("Kind of the selected file")
        self.item_kind.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.item_kind.setMinimumContentsLength(16)
        for key, label in self.kinds.items():
            self.item_kind.addItem(label, key)
        self.item_kind.activated.connect(self._kind_chosen)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("remove_evidence")
        self.remove_button.clicked.connect(self.remove_selected)
        self.drop_area = DropArea()
        self.message = QLabel()
        self.message.setObjectName("banner")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        self.preview_title = QLabel()
        self.preview_title.setObjectName("section_title")
        self.image = ImagePreview()
        self.text = QPlainTextEdit()
        self.text.setObjectName("evidence_text")
        self.text.setReadOnly(True)
        self.placeholder = QLabel("Select a file to preview it.")
        self.placeholder.setObjectName("muted")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_stack = QStackedWidget()
        self.preview_stack.addWidget(self.placeholder)
        self.preview_stack.addWidget(self.image)
        self.preview_stack.addWidget(self.text)
        self.preview_stack.setMinimumHeight(160)

        add_row = QHBoxLayout()
        add_row.addWidget(QLabel("New files as"))
        add_row.addWidget(self.new_kind, 1)
        add_row.addWidget(self.add_button)
        item_row = QHBoxLayout()
        item_row.addWidget(QLabel("Selected file is"))
        item_row.addWidget(self.item_kind, 1)
        item_row.addWidget(self.remove_button)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.drop_area)
        top_layout.addLayout(add_row)
        top_layout.addWidget(self.message)
        top_layout.addWidget(self.table, 1)
        top_layout.addLayout(item_row)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.preview_title)
        bottom_layout.addWidget(self.preview_stack, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._update_actions()

    # -- data ------------------------------------------------------------------------------------
    def show_case(self, view, *, same_case: bool) -> None:
        """Show the evidence of a loaded `CaseView`."""
        selected = self.selected_item() if same_case else None
        self.dispute_id = view.id
        self.locked = bool(view.locked)
        rows = [
            {
                "id": e.id,
                "file_name": e.file_name,
                "kind": e.kind,
                "kind_label": e.kind_label,
                "type": MEDIA_SHORT.get(e.media_type, e.media_type),
                "size_text": _size_text(e.size),
                "added_by": e.added_by,
                "added_at": e.added_at,
            }
            for e in view.evidence
        ]
        self.model.set_rows(rows)
        self.table.resizeColumnsToContents()
        if not same_case:
            self.message.hide()
            self._clear_preview()
        self.drop_area.set_locked(self.locked)
        if selected is not None:
            for i, row in enumerate(rows):
                if row["id"] == selected["id"]:
                    self.table.selectRow(i)
                    break
        self._update_actions()

    def clear(self) -> None:
        self.dispute_id = None
        self.model.set_rows([])
        self.message.hide()
        self._clear_preview()

    def selected_item(self) -> dict | None:
        rows = self.table.selectionModel().selectedRows()
        return dict(self.model.row(rows[0].row())) if rows else None

    def _update_actions(self) -> None:
        item = self.selected_item()
        editable = self.dispute_id is not None and not self.locked
        self.add_button.setEnabled(editable)
        self.new_kind.setEnabled(editable)
        self.item_kind.setEnabled(editable and item is not None)
        self.remove_button.setEnabled(editable and item is not None)
        if item is not None:
            self.item_kind.setCurrentIndex(max(0, self.item_kind.findData(item["kind"])))

    def _selection_changed(self, *_args) -> None:
        self._update_actions()
        item = self.selected_item()
        if item is None:
            self._clear_preview()
        elif item["id"] != self._preview_for:
            self.load_preview(item["id"])

    def show_message(self, text: str, kind: str = "info") -> None:
        self.message.setText(text)
        self.message.setProperty("kind", kind)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.show()

    # -- preview ---------------------------------------------------------------------------------
    def _clear_preview(self) -> None:
        self._preview_for = None
        self.image.set_image(QImage())
        self.preview_title.setText("Preview")
        self.preview_stack.setCurrentWidget(self.placeholder)

    def load_preview(self, evidence_id: int) -> None:
        self._preview_for = evidence_id

        def op(session, progress):
            return load_preview(session, evidence_id)

        self.ctx.tasks.run(op, self._show_preview, label="Preview", commit=False)

    def _show_preview(self, p: dict) -> None:
        if p["id"] != self._preview_for:
            return  # the user moved on
        if p["kind"] == "image":
            image = decode_image(p["data"] or b"")
            self.image.set_image(image)
            size = f"{image.width()} × {image.height()}" if not image.isNull() else "unreadable"
            self.preview_title.setText(f"Preview: {p['name']} ({size})")
            self.preview_stack.setCurrentWidget(self.image)
            return
        self.image.set_image(QImage())
        if p["kind"] == "pdf":
            pages = p.get("pages") or 0
            self.preview_title.setText(
                f"Preview: {p['name']} (PDF, {pages} page{'s' if pages != 1 else ''}; "
                "text of page 1)"
            )
        else:
            self.preview_title.setText(f"Preview: {p['name']}")
        self.text.setPlainText(p.get("text") or "")
        self.preview_stack.setCurrentWidget(self.text)

    # -- adding ----------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if local_files(event.mimeData()) and self.dispute_id is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        paths = local_files(event.mimeData())
        if not paths or self.dispute_id is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_files(paths)

    def choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Add evidence", "", FILE_FILTER)
        if names:
            self.add_files([Path(n) for n in names])

    def add_files(self, paths: list[Path], kind: str | None = None):
        """Attach files (each checked by the service); refusals are listed, not raised."""
        if self.dispute_id is None:
            return None
        if self.locked:
            self.show_message(
                "Evidence is locked: this case was submitted. Nothing was added.", "error"
            )
            return None
        dispute_id = self.dispute_id
        kind = kind or self.new_kind.currentData()
        actor = self.ctx.actor
        files = [Path(p) for p in paths]

        def op(session, progress):
            added, refused = [], []
            for i, path in enumerate(files):
                progress(i, len(files), path.name)
                try:
                    ev = add_evidence_file(session, dispute_id, path, kind=kind, actor=actor)
                    added.append(ev.file_name)
                except UserError as exc:  # checked before anything is written: go on
                    refused.append((path.name, exc.describe()))
            return added, refused

        def done(result) -> None:
            added, refused = result
            lines = []
            if added:
                lines.append(f"Added {', '.join(added)} as {self.kinds.get(kind, kind)}.")
            lines += [f"Refused {name}: {why}" for name, why in refused]
            self.show_message("\n".join(lines), "error" if refused else "ok")
            if added:
                self.changed.emit()

        return self.ctx.tasks.run(op, done, label="Adding evidence")

    # -- changing --------------------------------------------------------------------------------
    def _kind_chosen(self, _index: int) -> None:
        item = self.selected_item()
        kind = self.item_kind.currentData()
        if item is None or kind == item["kind"]:
            return
        self.set_kind(item["id"], kind)

    def set_kind(self, evidence_id: int, kind: str):
        actor = self.ctx.actor

        def op(session, progress):
            set_evidence_kind(session, evidence_id, kind, actor)

        def refused(exc: UserError) -> None:
            self.show_message(exc.describe(), "error")

        return self.ctx.tasks.run(
            op, lambda _r: self.changed.emit(), refused, label="Changing evidence kind"
        )

    def remove_selected(self):
        item = self.selected_item()
        if item is None:
            return None
        if not messages.ask(self, "Remove evidence", f"Remove {item['file_name']} from the case?"):
            return None
        evidence_id, actor = item["id"], self.ctx.actor

        def op(session, progress):
            remove_evidence(session, evidence_id, actor)

        def refused(exc: UserError) -> None:
            self.show_message(exc.describe(), "error")

        return self.ctx.tasks.run(
            op, lambda _r: self.changed.emit(), refused, label="Removing evidence"
        )
