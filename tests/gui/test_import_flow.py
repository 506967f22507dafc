"""Import flow: drop files, preview (format, account, counts, problems, rows), import, undo."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlalchemy import func, select

from workstation.models import ImportBatch, Record
from workstation.views import messages
from workstation.views.dialogs.file_preview import PREVIEW_COLUMNS
from workstation.views.dialogs.import_dialog import ImportDialog
from workstation.views.models.table import Column, RowsTableModel


def _drag_enter(pos: QPoint, mime: QMimeData) -> QDragEnterEvent:
    args = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    try:
        return QDragEnterEvent(
            QPointF(pos), *args
        )  # PySide6 >= 6.12 (the QPoint form is deprecated)
    except TypeError:
        return QDragEnterEvent(pos, *args)


def _drop(widget, paths: list[Path]) -> bool:
    """Simulate dragging files from a file manager and dropping them on `widget`."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = widget.rect().center()
    enter = _drag_enter(pos, mime)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(
        QPointF(pos),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def _records(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Record))


def _batches(db) -> list[tuple[str, str]]:
    with db.session() as s:
        return [(b.file_name, b.status) for b in s.scalars(select(ImportBatch))]


def _dialog_after_drop(main_window, qtbot, paths) -> ImportDialog:
    before = main_window.import_dialog
    assert _drop(main_window, paths)
    qtbot.waitUntil(lambda: main_window.import_dialog not in (None, before), timeout=3000)
    dialog = main_window.import_dialog
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10000)
    return dialog


def test_drop_preview_import_and_undo(
    main_window, app_ctx, qtbot, qtmodeltester, fake_importer, fake_statement, monkeypatch
):
    dialog = _dialog_after_drop(main_window, qtbot, [fake_statement])
    entry, preview = dialog.entries[0], dialog.previews[0]
    report = entry.report
    assert entry.state == "ready"
    # what the user sees before anything is written
    assert preview.format_label.text() == "fake"
    assert preview.account_label.text() == "Fake bank DE00FAKE"
    assert (report.new, report.duplicates, report.problems) == (4, 0, 1)
    assert report.masked_pans >= 1
    assert "<b>4</b> new" in preview.counts["new"].text()
    assert "<b>1</b> bad line" in preview.counts["problems"].text()
    assert preview.problems_title.text() == "Problems: 1 bad line"
    assert "closing balance" in preview.checks_label.text()
    assert preview.problems_model.rowCount() == 1
    problem = preview.problems_model.row(0)
    assert (problem["file"], problem["line"], problem["field"], problem["effect"]) == (
        "statement.fake",
        4,
        "date",
        "line left out",
    )
    assert preview.skip_box.isVisible()
    assert preview.skip_box.text() == "Import the good rows and skip 1 bad row"
    model = preview.preview_model
    qtmodeltester.check(model)
    qtmodeltester.check(preview.problems_model)
    assert model.rowCount() == 4
    amount_col = [c.key for c in PREVIEW_COLUMNS].index("amount_minor")
    assert model.data(model.index(0, amount_col)) == "1,250.00"
    assert model.data(model.index(1, amount_col)) == "-3.50"
    assert model.data(model.index(0, amount_col), Qt.ItemDataRole.TextAlignmentRole) == (
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    )
    description = model.data(model.index(1, [c.key for c in PREVIEW_COLUMNS].index("description")))
    assert "4111 1111 1111 1111" not in description and "411111" in description
    assert _records(app_ctx.db) == 0 and _batches(app_ctx.db) == []  # the preview wrote nothing

    # a file with problems is imported only when the user agrees to skip the bad rows
    assert not dialog.import_button.isEnabled()
    preview.skip_box.setChecked(True)
    assert dialog.import_button.isEnabled()
    with qtbot.waitSignal(dialog.import_finished, timeout=10000) as blocker:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    [imported] = blocker.args[0]
    assert imported.new == 4 and imported.batch_id is not None
    assert not dialog.isVisible()  # everything imported: the dialog closed
    assert _records(app_ctx.db) == 4

    # the Imports page lists the batch
    page = main_window.show_page("imports")
    qtmodeltester.check(page.model)
    assert page.model.rowCount() == 1
    row = page.model.row(0)
    assert (row["file_name"], row["format"], row["rows_new"], row["rows_problem"]) == (
        "statement.fake",
        "fake",
        4,
        1,
    )
    assert row["imported_by"] == "tester" and row["status_text"] == "Imported"
    assert "Imported 1 file" in main_window.statusBar().currentMessage()

    # undo, after confirming
    asked = []
    monkeypatch.setattr(messages, "ask", lambda *a, **k: asked.append(a[2]) or True)
    assert page.select_batch(imported.batch_id)
    assert page.undo_button.isEnabled()
    with qtbot.waitSignal(app_ctx.data_changed, timeout=5000):
        qtbot.mouseClick(page.undo_button, Qt.MouseButton.LeftButton)
    assert "Remove the 4 line(s)" in asked[0]
    assert _records(app_ctx.db) == 0
    qtbot.waitUntil(lambda: page.model.row(0)["status_text"] == "Undone")
    assert not page.undo_button.isEnabled()


def test_undo_refused_when_lines_are_matched(
    main_window, app_ctx, qtbot, fake_importer, fake_statement, monkeypatch
):
    from workstation.models import Match, MatchMember

    dialog = _dialog_after_drop(main_window, qtbot, [fake_statement])
    dialog.previews[0].skip_box.setChecked(True)
    with qtbot.waitSignal(dialog.import_finished, timeout=10000):
        dialog.start_import()
    with app_ctx.db.session() as s:
        record = s.scalar(select(Record).limit(1))
        match = Match(
            status="confirmed", rule="manual", confidence=100, currency="EUR", created_by="tester"
        )
        s.add(match)
        s.flush()
        s.add(
            MatchMember(
                match_id=match.id,
                record_id=record.id,
                side="bank",
                amount_minor=record.amount_minor,
            )
        )
    page = main_window.show_page("imports")
    page.select_batch(page.model.row(0)["id"])
    monkeypatch.setattr(messages, "ask", lambda *a, **k: True)
    shown = []
    monkeypatch.setattr(
        messages, "show_error", lambda parent, exc, title="": shown.append(str(exc))
    )
    page.undo_selected()
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert "matched lines" in shown[0]
    assert _records(app_ctx.db) == 4


def test_cancel_import_writes_nothing(
    main_window, app_ctx, qtbot, fake_importer, make_fake, tmp_path
):
    rows = [f"2024-03-{1 + i % 28:02d};{i}.00;Line {i};REF{i}" for i in range(200)]
    slow = make_fake(tmp_path / "slow.fake", rows, slow=0.004)
    dialog = _dialog_after_drop(main_window, qtbot, [slow])
    assert dialog.entries[0].report.new == 200
    dialog.start_import()
    assert dialog.busy and dialog.cancel_button.isVisible()
    # the UI thread is free while the import runs: progress arrives, Cancel can be pressed
    qtbot.waitUntil(
        lambda: dialog.progress_bar.maximum() == 200 and dialog.progress_bar.value() > 0
    )
    with qtbot.waitSignal(dialog.import_finished, timeout=10000) as blocker:
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [[]]
    assert dialog.entries[0].state == "cancelled"
    assert "nothing from this file was written" in dialog.previews[0].banner.text()
    assert _records(app_ctx.db) == 0 and _batches(app_ctx.db) == []
    assert dialog.isVisible() and not dialog.busy


def test_reimport_and_bad_file_are_explained(
    main_window, app_ctx, qtbot, fake_importer, make_fake, tmp_path
):
    good = make_fake(tmp_path / "good.fake", ["2024-03-01;5.00;A;R1", "2024-03-02;6.00;B;R2"])
    dialog = _dialog_after_drop(main_window, qtbot, [good])
    with qtbot.waitSignal(dialog.import_finished, timeout=10000):
        dialog.start_import()

    overlap = make_fake(tmp_path / "overlap.fake", ["2024-03-02;6.00;B;R2", "2024-03-03;7.00;C;R3"])
    broken = tmp_path / "broken.fake"
    broken.write_text("FAKE NOTHING=1\n", encoding="utf-8")
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    dialog = _dialog_after_drop(main_window, qtbot, [good, overlap, broken, garbage])
    assert [e.state for e in dialog.entries] == ["ready", "ready", "failed", "failed"]
    assert "Already imported as batch" in dialog.previews[0].banner.text()
    assert (dialog.entries[1].report.new, dialog.entries[1].report.duplicates) == (1, 1)
    assert "line 1, field ACCOUNT: no ACCOUNT in the header" in dialog.entries[2].error
    assert "binary file" in dialog.entries[3].error
    assert dialog.importable() == [dialog.entries[1]]
    assert dialog.import_button.text() == "Import"
    with qtbot.waitSignal(dialog.import_finished, timeout=10000) as blocker:
        dialog.start_import()
    assert [r.new for r in blocker.args[0]] == [1]
    assert _records(app_ctx.db) == 3


def test_drop_of_folder_or_remote_url_is_refused(main_window, tmp_path):
    assert not _drop(main_window, [tmp_path])
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/statement.xml")])
    enter = _drag_enter(QPoint(5, 5), mime)
    QApplication.sendEvent(main_window, enter)
    assert not enter.isAccepted()
    assert main_window.import_dialog is None


def test_mapping_profiles_are_offered(app_ctx, qtbot, fake_importer, fake_statement, monkeypatch):
    from workstation.services.imports.mapping_profiles import save_profile
    from workstation.views.dialogs import import_dialog

    with app_ctx.db.session() as s:
        save_profile(s, "Shop orders", {"amount": "Total"})
    seen = []
    real_import_file = import_dialog.import_file

    def recording_import_file(session, path, **kwargs):
        seen.append(kwargs["options"])
        return real_import_file(session, path, **kwargs)

    monkeypatch.setattr(import_dialog, "import_file", recording_import_file)
    dialog = ImportDialog(app_ctx, [fake_statement])
    qtbot.addWidget(dialog)
    items = [dialog.profile_combo.itemText(i) for i in range(dialog.profile_combo.count())]
    assert items == ["Automatic column mapping", "Shop orders"]
    assert dialog.format_combo.itemData(1) == "fake"
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10000)
    assert seen[-1].profile is None and seen[-1].format is None
    dialog.profile_combo.setCurrentIndex(1)  # reads the file again with the profile
    qtbot.waitUntil(lambda: len(seen) == 2 and not dialog.busy, timeout=10000)
    assert seen[-1].profile == {"amount": "Total"}
    assert seen[-1].profile_name == "Shop orders"
    dialog.profile_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: len(seen) == 3 and not dialog.busy, timeout=10000)
    dialog.format_combo.setCurrentIndex(1)  # an explicit format instead of detection
    qtbot.waitUntil(lambda: len(seen) == 4 and not dialog.busy, timeout=10000)
    assert (seen[-1].format, seen[-1].profile) == ("fake", None)
    assert dialog.entries[0].state == "ready"


def test_changing_an_option_while_reading_restarts_the_preview(
    app_ctx, qtbot, fake_importer, make_fake, tmp_path
):
    rows = [f"2024-03-{1 + i % 28:02d};{i}.00;Line {i};REF{i}" for i in range(100)]
    slow = make_fake(tmp_path / "slow.fake", rows, slow=0.01)
    dialog = ImportDialog(app_ctx, [slow])
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.progress_bar.value() > 0, timeout=5000)
    assert dialog.entries[0].state == "previewing"
    dialog.format_combo.setCurrentIndex(1)  # cancels the running read and starts again
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10000)
    entry = dialog.entries[0]
    assert entry.state == "ready" and entry.report.new == 100
    assert dialog.import_button.isEnabled()


def test_table_model_formats_money_and_passes_modeltester(qtmodeltester):
    frame = pd.DataFrame(
        {
            "line_no": [1, 2, 3],
            "amount_minor": [123456, -5, 1000],
            "currency": ["EUR", "JPY", "BHD"],
            "description": ["a\nb", None, "x" * 60],
        }
    )
    columns = [
        Column("line_no", "Line", "int"),
        Column("amount_minor", "Amount", "money"),
        Column("currency", "Currency"),
        Column("description", "Description"),
    ]
    model = RowsTableModel.from_frame(columns, frame)
    qtmodeltester.check(model)
    assert [model.data(model.index(r, 1)) for r in range(3)] == ["1,234.56", "-5", "1.000"]
    assert model.data(model.index(0, 3)) == "a b"
    assert model.data(model.index(1, 3)) == ""
    assert model.data(model.index(2, 3), Qt.ItemDataRole.ToolTipRole) == "x" * 60
    assert model.data(model.index(1, 1), Qt.ItemDataRole.ForegroundRole) is not None
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Amount"


def test_real_camt_file_previews_and_imports(main_window, app_ctx, qtbot, samples):
    pytest.importorskip("workstation.importers.camt")
    path = samples / "camt" / "oca_camt053_001_02.xml"
    dialog = _dialog_after_drop(main_window, qtbot, [path])
    entry = dialog.entries[0]
    assert entry.state == "ready", entry.error
    assert entry.report.format.startswith("camt")
    assert entry.report.new > 0
    assert dialog.previews[0].preview_model.rowCount() == min(entry.report.new, 50)
    # its closing balance is 434.16 off: imported only once accepted, with a reason
    assert entry.report.unbalanced and not dialog.import_button.isEnabled()
    dialog.previews[0].accept_box.setChecked(True)
    dialog.previews[0].reason_edit.setText("sample file of a parser test suite")
    assert dialog.import_button.isEnabled()
    with qtbot.waitSignal(dialog.import_finished, timeout=20000) as blocker:
        dialog.start_import()
    [report] = blocker.args[0]
    assert _records(app_ctx.db) == report.new == entry.report.new


def test_user_error_box_is_not_modal_blocking(qtbot):
    box = messages.show_error(None, "just a note")
    assert isinstance(box, QMessageBox) and box.isVisible()
    box.close()


def test_imports_page_exports_its_table(
    main_window, app_ctx, qtbot, fake_importer, fake_statement, tmp_path
):
    dialog = _dialog_after_drop(main_window, qtbot, [fake_statement])
    dialog.previews[0].skip_box.setChecked(True)
    with qtbot.waitSignal(dialog.import_finished, timeout=10000):
        dialog.start_import()
    page = main_window.show_page("imports")
    target = tmp_path / "imports.csv"
    page.export_table(target)
    qtbot.waitUntil(lambda: target.is_file() and not app_ctx.tasks.active(), timeout=5000)
    lines = target.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("Batch,File,Format,Imported,By,Lines,New")
    assert "statement.fake" in lines[1] and len(lines) == 2


def test_preview_states_the_decimal_mark_it_read(main_window, qtbot, tmp_path):
    """A column that only ever uses a comma is read as decimal comma, and the preview says so."""
    path = tmp_path / "orders_de.csv"
    path.write_text(
        "order_id,date,amount,currency,customer\n"
        'A1,2026-11-02,"12,34",EUR,Gödel\n'
        'A2,2026-11-03,"5,00",EUR,Bob\n',
        encoding="utf-8",
    )
    dialog = _dialog_after_drop(main_window, qtbot, [path])
    entry = dialog.entries[0]
    assert entry.state == "ready", entry.error
    assert any("decimal mark" in n for n in entry.report.notes)
    text = dialog.previews[0].checks_label.text()
    assert "decimal mark" in text
    assert dialog.previews[0].preview_model.rowCount() == 2
