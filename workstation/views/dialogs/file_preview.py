"""One file in the import dialog: what is known about it, and the preview of what it adds.

A file with bad lines is imported only once the user ticks "skip the bad rows"; a statement
whose balances do not add up only once the user ticks "Accept unbalanced statement" and gives a
reason (kept with the import batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...services.imports.file_import import FileReport
from ..models.table import Column, RowsTableModel, is_missing

PREVIEW_COLUMNS = (
    Column("line_no", "Line", "int", tooltip="Line or row in the file"),
    Column("booked_on", "Booked", "date"),
    Column("value_on", "Value date", "date"),
    Column("amount_minor", "Amount", "money"),
    Column("currency", "Currency"),
    Column("fee_minor", "Fee", "money"),
    Column("kind", "Kind"),
    Column("counterparty", "Counterparty"),
    Column("description", "Description"),
    Column("external_id", "Reference", tooltip="The id the source gives the line"),
    Column("payout_ref", "Payout"),
    Column("account", "Account"),
)
OPTIONAL_COLUMNS = {"value_on", "fee_minor", "counterparty", "payout_ref", "external_id"}
OVERLAP_COLUMNS = (
    Column("line_no", "Line", "int", tooltip="Line or row in the file"),
    Column("booked_on", "Booked", "date"),
    Column("amount_minor", "Amount", "money"),
    Column("currency", "Currency"),
    Column("reference", "Reference"),
    Column("status", "Status", tooltip="Already stored: not added; new: added"),
    Column("matched_by", "Matched by"),
    Column("stored_file", "Stored in"),
    Column("stored_line_no", "Stored line", "int"),
)
PROBLEM_COLUMNS = (
    Column("file", "File"),
    Column("line", "Line", "int"),
    Column("field", "Field"),
    Column("effect", "Effect", tooltip="Bad lines are left out; warnings keep the line"),
    Column("message", "Problem"),
)
CHIPS = {
    "new": ("new", "new"),
    "duplicates": ("duplicate", "duplicates"),
    "problems": ("bad line", "bad lines"),
    "masked_pans": ("card number masked", "card numbers masked"),
    "rows_total": ("line in file", "lines in file"),
}


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 line`, `1,234 lines` (or the given plural)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


@dataclass
class FileEntry:
    """One file in the dialog and what is known about it."""

    path: Path
    state: str = "waiting"  # waiting, previewing, ready, failed, importing, imported, cancelled
    report: FileReport | None = None
    error: str | None = None
    imported: FileReport | None = None
    skip_bad_rows: bool = False
    accept_unbalanced: bool = False
    accept_reason: str = ""
    accept_overlap: bool = False  # the user saw a partial overlap line by line and agreed

    @property
    def reason(self) -> str | None:
        """The reason to import an unbalanced statement anyway, once the user gave one."""
        r = self.report
        if r is None or not r.unbalanced or not self.accept_unbalanced:
            return None
        return " ".join(self.accept_reason.split()) or None

    @property
    def importable(self) -> bool:
        r = self.report
        if self.state != "ready" or r is None or r.already_imported:
            return False
        if r.unbalanced and self.reason is None:
            return False
        if partial_overlaps(r) and not self.accept_overlap:
            return False
        return r.problems == 0 or self.skip_bad_rows

    def reset_decisions(self) -> None:
        """A new preview: what the user agreed to for the last one no longer holds."""
        self.skip_bad_rows = False
        self.accept_unbalanced = False
        self.accept_reason = ""
        self.accept_overlap = False


def partial_overlaps(report: FileReport) -> list:
    """Statements of the file that are partly stored already (some lines stored, some new)."""
    return [o for o in getattr(report, "overlaps", []) or [] if o.partial]


def _table(model) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().hide()
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return view


class FilePreview(QWidget):
    """What one file will add: summary, checks, problems and the first new rows."""

    skip_changed = Signal(bool)
    accept_changed = Signal()  # the unbalanced checkbox or its reason changed

    def __init__(self, entry: FileEntry, parent=None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.format_label = QLabel()
        self.account_label = QLabel()
        self.account_label.setWordWrap(True)
        self.account_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("File:", QLabel(str(entry.path)))
        form.addRow("Format:", self.format_label)
        form.addRow("Account:", self.account_label)

        self.counts: dict[str, QLabel] = {}
        counts = QHBoxLayout()
        counts.setSpacing(8)
        for key, (_one, many) in CHIPS.items():
            label = QLabel()
            label.setObjectName("count_chip")
            label.setProperty("kind", key)
            label.setToolTip(many)
            self.counts[key] = label
            counts.addWidget(label)
        counts.addStretch(1)

        self.checks_label = QLabel()
        self.checks_label.setObjectName("checks")
        self.checks_label.setWordWrap(True)

        self.unbalanced = self._unbalanced_box()
        self.overlap = self._overlap_box()

        self.problems_title = QLabel("Problems")
        self.problems_title.setObjectName("section_title")
        self.problems_model = RowsTableModel(PROBLEM_COLUMNS, parent=self)
        self.problems_view = _table(self.problems_model)
        self.problems_view.setMaximumHeight(150)
        self.skip_box = QCheckBox()
        self.skip_box.toggled.connect(self._on_skip)

        self.preview_title = QLabel()
        self.preview_title.setObjectName("section_title")
        self.preview_model = RowsTableModel(PREVIEW_COLUMNS, parent=self)
        self.preview_view = _table(self.preview_model)

        self.details = QWidget()
        dl = QVBoxLayout(self.details)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addLayout(counts)
        dl.addWidget(self.checks_label)
        dl.addWidget(self.unbalanced)
        dl.addWidget(self.overlap)
        dl.addWidget(self.problems_title)
        dl.addWidget(self.problems_view)
        dl.addWidget(self.skip_box)
        dl.addWidget(self.preview_title)
        dl.addWidget(self.preview_view, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(form)
        layout.addWidget(self.details, 1)
        layout.addStretch(0)  # takes the space while the details are hidden
        self.show_entry()

    def _overlap_box(self) -> QWidget:
        """A partial overlap with stored statements, line by line, and the agreement it needs."""
        box = QWidget()
        box.setObjectName("overlap_box")
        self.overlap_title = QLabel()
        self.overlap_title.setObjectName("section_title")
        self.overlap_label = QLabel()
        self.overlap_label.setWordWrap(True)
        self.overlap_model = RowsTableModel(OVERLAP_COLUMNS, parent=self)
        self.overlap_view = _table(self.overlap_model)
        self.overlap_view.setMaximumHeight(170)
        self.overlap_accept = QCheckBox()
        self.overlap_accept.setObjectName("accept_overlap")
        self.overlap_accept.toggled.connect(self._on_overlap)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.overlap_title, self.overlap_label, self.overlap_view, self.overlap_accept):
            layout.addWidget(w)
        box.setVisible(False)
        return box

    def _on_overlap(self, checked: bool) -> None:
        self.entry.accept_overlap = checked
        self.accept_changed.emit()

    def _show_overlap(self, r: FileReport) -> None:
        partial = partial_overlaps(r)
        self.overlap.setVisible(bool(partial))
        if not partial:
            return
        stored = sum(o.already_stored for o in partial)
        new = sum(o.new_in_overlap for o in partial)
        self.overlap_title.setText(
            f"Partly imported already: {plural(stored, 'line')} taken as already stored, "
            f"{plural(new, 'line')} new in the overlap"
        )
        periods = "; ".join(
            f"{o.account}: this file {o.first} – {o.last}, stored "
            + ", ".join(f"{p.file_name} {p.first} – {p.last}" for p in o.stored_periods)
            for o in partial
        )
        left_out = sum(o.lines_left_out for o in partial)
        self.overlap_label.setText(
            periods + (f" ({left_out:,} more lines not listed)" if left_out else "")
        )
        rows = [
            {
                **line.__dict__,
                "amount_minor": line.amount_minor,
                "status": "already stored" if line.status == "stored" else "new",
            }
            for o in partial
            for line in o.lines
        ]
        self.overlap_model.set_rows(rows)
        self.overlap_view.resizeColumnsToContents()
        self.overlap_accept.setText(
            f"Import the {plural(new, 'new line')} of the overlap; "
            f"{plural(stored, 'line')} already stored {'is' if stored == 1 else 'are'} skipped"
        )

    def _unbalanced_box(self) -> QWidget:
        """Failed balance checks, and the checkbox with the reason that lets the file in."""
        box = QWidget()
        box.setObjectName("unbalanced_box")
        self.unbalanced_title = QLabel()
        self.unbalanced_title.setObjectName("section_title")
        self.unbalanced_label = QLabel()
        self.unbalanced_label.setObjectName("unbalanced")
        self.unbalanced_label.setWordWrap(True)
        self.unbalanced_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.accept_box = QCheckBox("Accept unbalanced statement")
        self.accept_box.setObjectName("accept_unbalanced")
        self.accept_box.setToolTip(
            "Import the file although its balances do not add up; the import is marked with "
            "your name, the reason and the difference"
        )
        self.accept_box.toggled.connect(self._on_accept)
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("unbalanced_reason")
        self.reason_edit.setPlaceholderText(
            "Reason (required), e.g. bank confirmed the closing balance, ticket 4711"
        )
        self.reason_edit.setMaxLength(500)
        self.reason_edit.setClearButtonEnabled(True)
        self.reason_edit.setEnabled(False)
        self.reason_edit.textChanged.connect(self._on_reason)
        self.reason_hint = QLabel()
        self.reason_hint.setObjectName("muted")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.accept_box)
        row.addWidget(QLabel("Reason:"))
        row.addWidget(self.reason_edit, 1)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addWidget(self.unbalanced_title)
        layout.addWidget(self.unbalanced_label)
        layout.addLayout(row)
        layout.addWidget(self.reason_hint)
        box.setVisible(False)
        return box

    def _on_accept(self, checked: bool) -> None:
        self.entry.accept_unbalanced = checked
        self.reason_edit.setEnabled(checked and self.accept_box.isEnabled())
        if checked:
            self.reason_edit.setFocus()
        self._show_reason_hint()
        self.accept_changed.emit()

    def _on_reason(self, text: str) -> None:
        self.entry.accept_reason = text
        self._show_reason_hint()
        self.accept_changed.emit()

    def _show_reason_hint(self) -> None:
        e = self.entry
        if not e.accept_unbalanced:
            text = "Without it this file is not imported."
        elif e.reason is None:
            text = "Give the reason to import this file anyway."
        else:
            text = "The import will be marked as accepted unbalanced, with this reason."
        self.reason_hint.setText(text)

    def set_decisions_enabled(self, enabled: bool) -> None:
        """While importing nothing about the file can change."""
        ready = enabled and self.entry.state == "ready"
        self.skip_box.setEnabled(ready)
        self.accept_box.setEnabled(ready)
        self.overlap_accept.setEnabled(ready)
        self.reason_edit.setEnabled(ready and self.accept_box.isChecked())

    def _sync_decisions(self) -> None:
        """The checkboxes and the reason as the entry has them (a new preview resets them)."""
        e = self.entry
        for box, value in (
            (self.skip_box, e.skip_bad_rows),
            (self.accept_box, e.accept_unbalanced),
            (self.overlap_accept, e.accept_overlap),
        ):
            if box.isChecked() != value:
                box.blockSignals(True)
                box.setChecked(value)
                box.blockSignals(False)
        if self.reason_edit.text() != e.accept_reason:
            self.reason_edit.blockSignals(True)
            self.reason_edit.setText(e.accept_reason)
            self.reason_edit.blockSignals(False)
        self.set_decisions_enabled(True)
        self._show_reason_hint()

    def _show_unbalanced(self, r: FileReport) -> None:
        self.unbalanced.setVisible(bool(r.unbalanced))
        if not r.unbalanced:
            return
        n = len(r.unbalanced)
        self.unbalanced_title.setText(
            "Balances do not add up" if n == 1 else f"Balances of {n} statements do not add up"
        )
        self.unbalanced_label.setText("\n".join(f"⚠ {u.describe()}" for u in r.unbalanced))

    def _on_skip(self, checked: bool) -> None:
        self.entry.skip_bad_rows = checked
        self.skip_changed.emit(checked)

    def _set_banner(self, text: str, kind: str = "info") -> None:
        self.banner.setText(text)
        self.banner.setProperty("kind", kind)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.setVisible(bool(text))

    def show_entry(self) -> None:
        """Refresh from `entry` (state, report, error)."""
        e, r = self.entry, self.entry.report
        self.details.setVisible(r is not None and not r.already_imported)
        if e.state in ("waiting", "previewing"):
            self.format_label.setText("…")
            self.account_label.setText("…")
            self._set_banner("Reading the file…" if e.state == "previewing" else "Waiting…")
            self.details.setVisible(False)
            return
        if e.error:
            self._set_banner(f"Cannot import this file. {e.error}", "error")
        elif e.state == "imported" and e.imported is not None:
            i = e.imported
            accepted = i.accepted_unbalanced
            self._set_banner(
                f"Imported as batch {i.batch_id}: {plural(i.new, 'line')} added, "
                f"{plural(i.duplicates, 'duplicate')} skipped."
                + (
                    f" Accepted unbalanced (difference {accepted['difference']})."
                    if accepted
                    else ""
                ),
                "ok",
            )
        elif e.state == "cancelled":
            self._set_banner("Import cancelled: nothing from this file was written.", "warning")
        elif r is not None and r.already_imported:
            self._set_banner(
                f"Already imported as batch {r.batch_id}; importing it again adds nothing.",
                "info",
            )
        elif r is not None and r.new == 0:
            self._set_banner("Every line of this file is already stored.", "info")
        elif r is not None and r.unbalanced:
            self._set_banner(
                "The balances of this statement do not add up (opening balance + lines ≠ "
                "closing balance). It is imported only if you accept it, with a reason.",
                "warning",
            )
        elif r is not None and partial_overlaps(r):
            self._set_banner(
                "Part of this statement is already stored (from another file of the same "
                "account). Check the overlap below line by line before importing.",
                "warning",
            )
        else:
            self._set_banner("")
        if r is None:
            self.format_label.setText("—")
            self.account_label.setText("—")
            self.details.setVisible(False)
            return
        self.format_label.setText(r.format)
        self.account_label.setText(r.account or "—")
        values = {
            "new": r.new,
            "duplicates": r.duplicates,
            "problems": r.problems,
            "masked_pans": r.masked_pans,
            "rows_total": r.rows_total,
        }
        for key, label in self.counts.items():
            one, many = CHIPS[key]
            label.setText(f"<b>{values[key]:,}</b> {one if values[key] == 1 else many}")
            label.setProperty("alert", key == "problems" and r.problems > 0)
            label.style().unpolish(label)
            label.style().polish(label)
        shown_below = {id(u.check) for u in r.unbalanced}
        checks = [f"⚠ {c.describe()}" for c in r.checks if id(c) not in shown_below]
        # How the file was read (e.g. the decimal mark decided from the whole column).
        checks += [f"ℹ {note}" for note in r.notes]
        self.checks_label.setText("\n".join(checks))
        self.checks_label.setVisible(bool(checks))
        self._show_unbalanced(r)
        self._show_overlap(r)
        self._sync_decisions()
        file_name = Path(r.path).name
        problems = [
            {
                "file": file_name,
                "line": p.line,
                "field": p.field,
                "effect": "line left out" if p.severity == "error" else "warning",
                "message": p.message,
            }
            for p in r.problem_details
        ]
        self.problems_model.set_rows(problems)
        self.problems_view.resizeColumnsToContents()
        warnings = len(problems) - r.problems
        parts = [plural(r.problems, "bad line")] if r.problems else []
        if warnings:
            parts.append(plural(warnings, "warning"))
        self.problems_title.setText(f"Problems: {', '.join(parts)}")
        for w in (self.problems_title, self.problems_view):
            w.setVisible(bool(problems))
        self.skip_box.setText(f"Import the good rows and skip {plural(r.problems, 'bad row')}")
        self.skip_box.setVisible(r.problems > 0)
        shown = 0 if r.preview is None else len(r.preview)
        rows = [] if r.preview is None else r.preview.to_dict("records")
        self.preview_model.set_rows(rows)
        self.preview_view.resizeColumnsToContents()
        for col, column in enumerate(PREVIEW_COLUMNS):
            # optional columns the format does not fill would only be empty space
            empty = all(is_missing(row.get(column.key)) for row in rows)
            self.preview_view.setColumnHidden(col, empty and column.key in OPTIONAL_COLUMNS)
            if column.key in ("counterparty", "description"):
                self.preview_view.setColumnWidth(col, min(self.preview_view.columnWidth(col), 260))
        self.preview_title.setText(
            f"First {shown:,} of {r.new:,} new lines, as they will be stored"
            if shown < r.new
            else f"{plural(r.new, 'new line')}, as they will be stored"
        )
        self.preview_view.setVisible(shown > 0)
