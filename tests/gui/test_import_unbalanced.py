"""Import preview of a statement whose balances do not add up: accept it, with a reason, or not.

Uses the real camt.053 sample whose closing balance is 434.16 EUR off (../shared/samples). The
test also writes docs/screenshots/import_unbalanced.png (the preview with the checkbox).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import func, select

from workstation.models import ImportBatch, Record
from workstation.views.dialogs.import_dialog import ImportDialog
from workstation.views.pages.imports import BALANCE_COLUMN

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "import_unbalanced.png"
UNBALANCED = Path("camt") / "oca_camt053_001_02.xml"
BALANCED = Path("camt") / "genkgo_camt053_001_02_multi_statement.xml"


def _counts(db) -> tuple[int, int]:
    with db.session() as s:
        return (
            int(s.scalar(select(func.count()).select_from(ImportBatch)) or 0),
            int(s.scalar(select(func.count()).select_from(Record)) or 0),
        )


def _dialog(app_ctx, qtbot, paths) -> ImportDialog:
    dialog = ImportDialog(app_ctx, paths)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=15000)
    return dialog


def test_unbalanced_file_needs_the_checkbox_and_a_reason(app_ctx, qtbot, samples):
    dialog = _dialog(app_ctx, qtbot, [samples / UNBALANCED])
    entry, preview = dialog.entries[0], dialog.previews[0]
    assert entry.state == "ready", entry.error
    assert len(entry.report.unbalanced) == 1
    # the failed check is shown with the expected and the found balance
    assert preview.unbalanced.isVisible()
    text = preview.unbalanced_label.text()
    assert "statement 1234Test/1 of NL77ABNA0574908765" in text
    assert "expected closing balance 15,555.28 EUR" in text and "found 15,121.12 EUR" in text
    assert "difference -434.16 EUR" in text
    assert "do not add up" in preview.banner.text()
    assert preview.accept_box.isVisible() and not preview.accept_box.isChecked()
    assert preview.accept_box.text() == "Accept unbalanced statement"
    assert not preview.reason_edit.isEnabled()
    assert not dialog.import_button.isEnabled()
    assert "accept the unbalanced statement" in dialog.status_label.text()

    # ticked without a reason: still nothing to import
    preview.accept_box.setChecked(True)
    assert preview.reason_edit.isEnabled()
    assert not dialog.import_button.isEnabled()
    qtbot.keyClicks(preview.reason_edit, "   ")
    assert not dialog.import_button.isEnabled()
    preview.reason_edit.clear()
    qtbot.keyClicks(preview.reason_edit, "Bank confirmed the closing balance, ticket 4711")
    assert dialog.import_button.isEnabled()
    assert "marked as accepted unbalanced" in preview.reason_hint.text()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SCREENSHOT))

    # unticked again: the reason alone does not let the file in
    preview.accept_box.setChecked(False)
    assert not dialog.import_button.isEnabled() and not preview.reason_edit.isEnabled()
    assert _counts(app_ctx.db) == (0, 0)  # previews write nothing
    preview.accept_box.setChecked(True)
    assert dialog.import_button.isEnabled()

    with qtbot.waitSignal(dialog.import_finished, timeout=20000) as blocker:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    [report] = blocker.args[0]
    assert report.accepted_unbalanced["reason"] == "Bank confirmed the closing balance, ticket 4711"
    assert report.accepted_unbalanced["by"] == "tester"
    assert _counts(app_ctx.db) == (1, 3)


def test_only_the_unbalanced_file_waits_for_a_decision(app_ctx, qtbot, samples):
    dialog = _dialog(app_ctx, qtbot, [samples / BALANCED, samples / UNBALANCED])
    good, bad = dialog.entries
    assert not good.report.unbalanced and bad.report.unbalanced
    assert not dialog.previews[0].unbalanced.isVisibleTo(dialog.previews[0])
    assert dialog.importable() == [good]
    assert dialog.import_button.text() == "Import"
    dialog.previews[1].accept_box.setChecked(True)
    dialog.previews[1].reason_edit.setText("known bank error")
    assert dialog.importable() == [good, bad]
    assert dialog.import_button.text() == "Import 2 files"
    dialog.previews[1].reason_edit.setText("")
    with qtbot.waitSignal(dialog.import_finished, timeout=20000) as blocker:
        dialog.start_import()
    assert [r.accepted_unbalanced for r in blocker.args[0]] == [None]
    assert bad.state == "ready" and _counts(app_ctx.db)[0] == 1


def test_imports_page_marks_accepted_unbalanced_batches(
    main_window, app_ctx, qtbot, qtmodeltester, samples
):
    from workstation.services.imports.file_import import import_file

    with app_ctx.db.session() as s:
        import_file(s, samples / BALANCED, actor="tester")
    with app_ctx.db.session() as s:
        import_file(
            s, samples / UNBALANCED, actor="tester", accept_unbalanced="bank error, ticket 4711"
        )
    page = main_window.show_page("imports")
    page.refresh()
    model = page.model
    qtmodeltester.check(model)
    assert model.rowCount() == 2
    marked, plain = model.index(0, BALANCE_COLUMN), model.index(1, BALANCE_COLUMN)
    assert model.data(marked) == "Accepted unbalanced (-434.16 EUR)"
    assert not model.data(marked, Qt.ItemDataRole.DecorationRole).isNull()
    tip = model.data(marked, Qt.ItemDataRole.ToolTipRole)
    assert "Accepted unbalanced by tester" in tip
    assert "Reason: bank error, ticket 4711" in tip and "Difference: -434.16 EUR" in tip
    assert "expected closing balance 15,555.28 EUR, found 15,121.12 EUR" in tip
    assert model.data(plain) == ""
    assert model.data(plain, Qt.ItemDataRole.DecorationRole) is None
    assert model.data(plain, Qt.ItemDataRole.ToolTipRole) is None


@pytest.fixture(autouse=True)
def _no_real_dialogs(monkeypatch):
    """Nothing here should ask the user; a question box would block the test."""
    from workstation.views import messages

    monkeypatch.setattr(messages, "ask", lambda *a, **k: pytest.fail("unexpected question"))
