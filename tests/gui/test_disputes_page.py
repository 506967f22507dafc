"""Disputes page: urgency queue, filters, claim next, assign, evidence by drop, autosave,
package export, submit lock, table export."""

from __future__ import annotations

import csv
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox
from sqlalchemy import select

from workstation.errors import UserError
from workstation.models import Dispute, User
from workstation.money import from_minor
from workstation.services.common.users import ensure_user
from workstation.services.demo.merchant_month import load_demo
from workstation.services.disputes.evidence import add_evidence_file
from workstation.services.disputes.queue import QueueFilters, list_disputes
from workstation.views import crash
from workstation.views.disputes.source import OPEN_STATUSES
from workstation.views.models.sql_table import ID_ROLE
from workstation.views.pages.disputes import DisputesPage

WAIT = 10_000


@pytest.fixture(autouse=True)
def crashes_fail(monkeypatch):
    """A bug in a slot or task fails the test instead of opening a modal crash dialog."""
    seen: list[BaseException] = []
    monkeypatch.setattr(crash, "show_crash", lambda exc, parent=None: seen.append(exc))
    yield seen
    assert not seen, seen


@pytest.fixture
def demo(db):
    """A small demo month (a few disputes, one overdue) and two more users."""
    with db.session() as s:
        load_demo(s, orders=400)
        ensure_user(s, "tester")
        ensure_user(s, "bob")
    return db


def settle(ctx, qtbot) -> None:
    """Wait until every background task finished and its callback ran."""
    qtbot.waitUntil(lambda: not ctx.tasks.active(), timeout=WAIT)


@pytest.fixture
def page(demo, app_ctx, qtbot):
    page = DisputesPage(app_ctx)
    page.resize(1500, 900)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.queue.header_counts is not None, timeout=WAIT)
    yield page
    settle(app_ctx, qtbot)  # callbacks still due run while the page exists
    page.close()
    page.deleteLater()


def queue_ids(page) -> list[int]:
    model = page.queue.model
    return [model.row_id_at(i) for i in range(model.rowCount())]


def service_ids(db, filters: QueueFilters) -> list[int]:
    with db.session() as s:
        return [r.id for r in list_disputes(s, filters, limit=1000).rows]


def open_case(page, qtbot, dispute_id: int) -> None:
    with qtbot.waitSignal(page.case.case_loaded, timeout=WAIT):
        page.open_case(dispute_id)


def most_urgent_open(db) -> int:
    return service_ids(db, QueueFilters(status=["needs_response"]))[0]


def drop_files(widget, paths: list[Path]) -> bool:
    """Drag files over `widget` and drop them, as the window system would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = QPointF(widget.rect().center())
    enter = QDragEnterEvent(
        widget.rect().center(),  # QDragEnterEvent takes an integer QPoint, QDropEvent a QPointF
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(
        centre,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, drop)
    return enter.isAccepted() and drop.isAccepted()


def png_file(path: Path) -> Path:
    image = QImage(320, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("#3a7bd5"))
    assert image.save(str(path), "PNG")
    return path


def pdf_file(path: Path, text: str) -> Path:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    c.drawString(72, 720, text)
    c.showPage()
    c.drawString(72, 720, "page two")
    c.save()
    return path


def set_kind(combo, key: str) -> None:
    combo.setCurrentIndex(combo.findData(key))
    assert combo.currentData() == key


# ----------------------------------------------------------------------------- queue


def test_queue_in_urgency_order_with_counts_and_highlight(page, demo, qtmodeltester):
    model = page.queue.model
    qtmodeltester.check(model)
    assert model.sort_spec is None
    assert queue_ids(page) == service_ids(demo, QueueFilters(status=list(OPEN_STATUSES)))
    first = model.row(0)
    assert first.due_state == "overdue" and first.status == "needs_response"
    brush = model.data(model.index(0, 0), Qt.ItemDataRole.BackgroundRole)
    assert brush is not None and brush.color().name() == "#fde2e1"
    due_col = [c.header for c in model.columns].index("Due")
    assert model.data(model.index(0, due_col)).startswith("overdue")
    amount_col = [c.header for c in model.columns].index("Amount")
    assert model.data(model.index(0, amount_col), Qt.ItemDataRole.TextAlignmentRole) == (
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    )
    counts = page.queue.header_counts
    assert page.queue.counts.text() == f"{counts['total']} cases"
    assert page.queue.overdue_chip.text() == f"{counts['overdue']} overdue"
    assert page.queue.order_label.text() == "Most urgent first"
    # Header click: a new SQL query by amount; Urgency order goes back.
    page.queue.table.horizontalHeader().setSortIndicator(amount_col, Qt.SortOrder.DescendingOrder)
    amounts = [model.row(i).amount_minor for i in range(model.rowCount())]
    assert amounts == sorted(amounts, reverse=True)
    assert page.queue.order_label.text() == "By amount, descending"
    page.queue.urgency_button.click()
    assert model.sort_spec is None
    assert queue_ids(page) == service_ids(demo, QueueFilters(status=list(OPEN_STATUSES)))


def test_filters_narrow_the_queue(page, demo, qtbot):
    bar = page.queue.filter_bar
    model = page.queue.model
    bar.status.setCurrentIndex(bar.status.findText("All statuses"))
    everything = model.rowCount()
    assert everything == len(service_ids(demo, QueueFilters()))
    bar.network.setCurrentIndex(bar.network.findData("Visa"))
    visa = model.rowCount()
    assert 0 < visa < everything
    assert {model.row(i).network for i in range(visa)} == {"Visa"}
    bar.category.setCurrentIndex(bar.category.findData("fraud"))
    assert all(model.row(i).reason_category == "fraud" for i in range(model.rowCount()))
    bar.reset()
    bar.due.setCurrentIndex(bar.due.findText("Overdue"))
    assert model.rowCount() >= 1
    qtbot.waitUntil(lambda: page.queue.header_counts["total"] == model.rowCount(), timeout=WAIT)
    assert page.queue.header_counts["overdue"] == model.rowCount()
    assert all(model.row(i).due_state == "overdue" for i in range(model.rowCount()))
    bar.reset()
    bar.psp.setCurrentIndex(bar.psp.findData("adyen"))
    assert all(model.row(i).psp == "adyen" for i in range(model.rowCount()))
    bar.reset()
    target = model.row(0)
    bar.search.setText(target.psp_dispute_id[:10])
    bar.search.returnPressed.emit()
    assert target.id in queue_ids(page) and model.rowCount() <= everything
    bar.search.clear()
    assert queue_ids(page) == service_ids(demo, QueueFilters(status=list(OPEN_STATUSES)))


def test_claim_next_assigns_and_opens_the_most_urgent_case(page, demo, app_ctx, qtbot):
    assert page.queue.claim_action.shortcut() == QKeySequence("Ctrl+Shift+N")
    expected = most_urgent_open(demo)
    with qtbot.waitSignal(page.case.case_loaded, timeout=WAIT) as opened:
        page.queue.claim_action.trigger()
    assert opened.args == [expected]
    with demo.session() as s:
        assignee = s.scalar(
            select(User.login)
            .join(Dispute, Dispute.assignee_id == User.id)
            .where(Dispute.id == expected)
        )
    assert assignee == app_ctx.actor
    assert "assigned to tester" in page.case.subtitle.text()
    selected = page.queue.selected_ids()
    assert selected == [expected]
    row = page.queue.model.find_row(expected)
    assert page.queue.model.row(row).assignee == "tester"
    # Filter "Mine" now shows the claimed case.
    bar = page.queue.filter_bar
    bar.assignee.setCurrentIndex(bar.assignee.findText("Mine"))
    assert queue_ids(page) == [expected]


def test_bulk_assign_selected_cases(page, demo, qtbot):
    table = page.queue.table
    table.selectRow(0)
    table.selectionModel().select(
        page.queue.model.index(1, 0),
        table.selectionModel().SelectionFlag.Select | table.selectionModel().SelectionFlag.Rows,
    )
    ids = page.queue.selected_ids()
    assert len(ids) == 2 and page.queue.assign_button.isEnabled()
    page.queue._fill_assign_menu()
    names = [a.text() for a in page.queue.assign_menu.actions() if a.text()]
    assert "bob" in names and names[0] == "Assign to me (tester)" and names[-1] == "Unassign"
    with qtbot.waitSignal(page.queue.model.reloaded, timeout=WAIT):
        page.queue.assign_selected("bob")
    model = page.queue.model
    assert {model.row(model.find_row(i)).assignee for i in ids} == {"bob"}
    assert sorted(page.queue.selected_ids()) == sorted(ids)  # the selection survived the reload


# ----------------------------------------------------------------------------- case view


def test_case_view_shows_details_trail_timeline_and_models(page, demo, qtbot, qtmodeltester):
    case_id = most_urgent_open(demo)
    open_case(page, qtbot, case_id)
    case = page.case
    v = case.view
    assert case.title.text() == v.psp_dispute_id
    assert case.amount.text() == v.amount_text
    assert case.due.text().startswith(v.countdown)
    assert case.hint.text().startswith("<b>Suggestion") or "decision" in case.hint.text()
    assert case.trail_model.rowCount() == len(v.trail.lines)
    assert case.timeline_model.rowCount() == len(v.timeline) >= 1
    assert case.findChild(type(case.amount), "trail_net").text().endswith(v.currency)
    for model in (
        case.trail_model,
        case.timeline_model,
        case.evidence.model,
        case.ce3_model,
    ):
        qtmodeltester.check(model)
    # Notes go to the timeline.
    case.note_edit.setPlainText("Called the customer; awaiting tracking number")
    before = case.timeline_model.rowCount()
    with qtbot.waitSignal(case.case_loaded, timeout=WAIT):
        case.add_note()
    assert case.timeline_model.rowCount() == before + 1
    assert case.timeline_model.row(0)["text"] == "Called the customer; awaiting tracking number"


def test_ce3_panel_for_visa_10_4(page, demo, qtbot):
    with demo.session() as s:
        case_id = s.scalar(
            select(Dispute.id).where(Dispute.network == "Visa", Dispute.reason_code == "10.4")
        )
    assert case_id is not None
    open_case(page, qtbot, case_id)
    case = page.case
    assert case.tabs.isTabVisible(case.ce3_index)
    ce3 = case.view.ce3
    assert ("Eligible" if ce3.eligible else "Not eligible") in case.ce3_summary.text()
    assert case.ce3_model.rowCount() == len(ce3.transactions)
    assert "IP or device" in case.ce3_detail.text()


def test_drop_evidence_updates_list_checklist_and_preview(page, demo, qtbot, tmp_path):
    case_id = most_urgent_open(demo)
    open_case(page, qtbot, case_id)
    case = page.case
    case.tabs.setCurrentIndex(1)
    panel = case.evidence
    items = {i.id: i for i in case.view.checklist.items}
    # A kind the checklist wants and does not have yet.
    item = next(i for i in items.values() if i.kinds and not i.done)
    kind = item.kinds[0]
    assert case.checklist_state()[item.id] is False
    set_kind(panel.new_kind, kind)
    png = png_file(tmp_path / "screenshot.png")
    with qtbot.waitSignal(case.case_loaded, timeout=WAIT):
        assert drop_files(panel, [png])
    assert panel.model.rowCount() == 1
    assert panel.model.row(0)["file_name"] == "screenshot.png"
    assert panel.model.row(0)["kind"] == kind
    assert case.checklist_state()[item.id] is True
    assert "Added screenshot.png" in panel.message.text()
    assert page.queue.model.row(page.queue.model.find_row(case_id)).evidence_count == 1
    # Preview of the image.
    panel.table.selectRow(0)
    qtbot.waitUntil(lambda: panel.preview_stack.currentWidget() is panel.image, timeout=WAIT)
    assert (panel.image.image.width(), panel.image.image.height()) == (320, 200)
    assert "320 × 200" in panel.preview_title.text()
    # A PDF, and a file that only pretends to be one: the fake is refused with the reason.
    pdf = pdf_file(tmp_path / "delivery.pdf", "Delivered to the front door")
    fake = tmp_path / "invoice.pdf"
    fake.write_bytes(png.read_bytes())
    set_kind(panel.new_kind, "receipt")
    with qtbot.waitSignal(case.case_loaded, timeout=WAIT):
        assert drop_files(panel, [pdf, fake])
    assert panel.model.rowCount() == 2
    text = panel.message.text()
    assert "Added delivery.pdf" in text and "Refused invoice.pdf" in text
    assert panel.message.property("kind") == "error"
    panel.table.selectRow(1)
    qtbot.waitUntil(lambda: panel.preview_stack.currentWidget() is panel.text, timeout=WAIT)
    assert "Delivered to the front door" in panel.text.toPlainText()
    assert "2 pages" in panel.preview_title.text()
    # Changing the kind of a file updates the checklist too.
    with qtbot.waitSignal(case.case_loaded, timeout=WAIT):
        panel.set_kind(panel.model.row(1)["id"], "uncategorized")
    assert panel.model.row(1)["kind"] == "uncategorized"


def test_add_files_dialog_uses_the_chosen_kind(page, demo, qtbot, tmp_path, monkeypatch):
    open_case(page, qtbot, most_urgent_open(demo))
    panel = page.case.evidence
    note = tmp_path / "chat.txt"
    note.write_text("Customer: thanks, the parcel arrived.\n", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(note)], "Evidence"))
    set_kind(panel.new_kind, "customer_communication")
    with qtbot.waitSignal(page.case.case_loaded, timeout=WAIT):
        panel.add_button.click()
    assert panel.model.row(0)["kind"] == "customer_communication"
    panel.table.selectRow(0)
    qtbot.waitUntil(lambda: "parcel arrived" in panel.text.toPlainText(), timeout=WAIT)


def test_autosave_writes_the_draft_and_never_loses_it(page, demo, qtbot):
    first, second = service_ids(demo, QueueFilters(status=["needs_response"]))[:2]
    open_case(page, qtbot, first)
    case = page.case
    editor = case.editors["rebuttal"]
    editor.setFocus()
    qtbot.keyClicks(editor, "The cardholder signed for the parcel")
    assert case.saved_label.text() == "Unsaved changes…"

    def stored(case_id: int, field: str) -> str | None:
        with demo.session() as s:
            return s.scalar(select(getattr(Dispute, field)).where(Dispute.id == case_id))

    qtbot.waitUntil(
        lambda: stored(first, "rebuttal") == "The cardholder signed for the parcel", timeout=WAIT
    )
    qtbot.waitUntil(lambda: case.saved_label.text().startswith("Saved "), timeout=WAIT)
    qtbot.waitUntil(lambda: case.checklist_state().get("rebuttal") is True, timeout=WAIT)
    # Typed and switched away at once: saved before the other case opens, no timer needed.
    case.editors["product_description"].setPlainText("Blue wool scarf, 180 cm")
    open_case(page, qtbot, second)
    assert stored(first, "product_description") == "Blue wool scarf, 180 cm"
    assert case.editors["product_description"].toPlainText() == (
        stored(second, "product_description") or ""
    )
    # Card numbers are masked before they are stored; hiding the page (window closed,
    # another page shown) saves at once.
    case.editors["communication_summary"].setPlainText("Paid with 4111 1111 1111 1111")
    page.hide()
    masked = stored(second, "communication_summary")
    assert masked is not None and "4111 1111 1111 1111" not in masked and "1111" in masked
    assert not page.saver.has_unsaved()


def test_build_package_shows_preflight_then_exports_zip(page, demo, qtbot, tmp_path, monkeypatch):
    case_id = most_urgent_open(demo)
    open_case(page, qtbot, case_id)
    case = page.case
    with qtbot.waitSignal(case.case_loaded, timeout=WAIT):
        case.evidence.add_files([png_file(tmp_path / "label.png")], kind="shipping_documentation")
    case.editors["rebuttal"].setPlainText("Delivered and signed for.")
    target = tmp_path / "out" / "package.zip"
    target.parent.mkdir()
    asked: list[str] = []

    def save_name(parent, title, name, filters):
        asked.append(name)
        return str(target), "ZIP archive (*.zip)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    case.package_button.click()
    qtbot.waitUntil(lambda: case.preflight_dialog is not None, timeout=WAIT)
    dialog = case.preflight_dialog
    assert "pages" in dialog.findChild(type(case.note_edit), "preflight_text").toPlainText()
    with qtbot.waitSignal(case.case_loaded, timeout=WAIT):
        dialog.save_button.click()
        qtbot.waitUntil(lambda: target.exists(), timeout=WAIT)
    assert asked == [f"{case.view.psp_dispute_id}.zip"]
    with zipfile.ZipFile(target) as z:
        names = z.namelist()
        manifest = json.loads(z.read(next(n for n in names if n.endswith(".json"))))
    assert any(n.endswith(".pdf") for n in names)
    assert any(n.endswith("label.png") for n in names)
    assert "label.png" in json.dumps(manifest)
    assert case.last_package == target
    assert any("Package built" in t.text for t in case.view.timeline)
    with demo.session() as s:
        assert s.scalar(select(Dispute.rebuttal).where(Dispute.id == case_id)) == (
            "Delivered and signed for."
        )


def test_mark_submitted_locks_the_evidence(page, demo, qtbot, tmp_path, monkeypatch):
    case_id = most_urgent_open(demo)
    open_case(page, qtbot, case_id)
    case = page.case
    panel = case.evidence
    with qtbot.waitSignal(case.case_loaded, timeout=WAIT):
        panel.add_files([png_file(tmp_path / "receipt.png")], kind="receipt")
    panel.table.selectRow(0)
    assert panel.remove_button.isEnabled() and panel.add_button.isEnabled()
    questions: list[str] = []

    def answer(parent, title, text, *args, **kwargs):
        questions.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    with qtbot.waitSignal(case.case_loaded, timeout=WAIT):
        case.submit_button.click()
    assert questions and "locked" in questions[0]
    assert case.locked
    assert case.lock_label.isVisibleTo(case) and "Locked" in case.lock_label.text()
    assert not case.submit_button.isEnabled()
    assert not panel.add_button.isEnabled()
    assert not panel.remove_button.isEnabled()
    assert not panel.item_kind.isEnabled()
    assert all(e.isReadOnly() for e in case.editors.values())
    assert panel.drop_area.property("locked") == "true"
    assert case.view.status == "under_review"
    # A drop is refused in the panel, and the service refuses on its own.
    drop_files(panel, [png_file(tmp_path / "late.png")])
    assert "locked" in panel.message.text()
    assert panel.model.rowCount() == 1
    with demo.session() as s, pytest.raises(UserError, match="locked"):
        add_evidence_file(s, case_id, tmp_path / "late.png", kind="receipt", actor="tester")


def test_decline_submit_changes_nothing(page, demo, qtbot, monkeypatch):
    case_id = most_urgent_open(demo)
    open_case(page, qtbot, case_id)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    assert page.case.mark_submitted() is None
    with demo.session() as s:
        assert s.scalar(select(Dispute.evidence_locked).where(Dispute.id == case_id)) is False


# ----------------------------------------------------------------------------- main window


def test_export_table_from_the_file_menu(demo, main_window, app_ctx, qtbot, tmp_path, monkeypatch):
    page = main_window.show_page("disputes")
    assert isinstance(page, DisputesPage)
    assert main_window.export_action.isEnabled()
    target = tmp_path / "queue.csv"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV (*.csv)")
    )
    main_window.export_current_table()
    qtbot.waitUntil(target.exists, timeout=WAIT)
    with target.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:3] == ["Case", "Due", "Amount"]
    model = page.queue.model
    assert [r[0] for r in rows[1:]] == [
        model.row(i).psp_dispute_id for i in range(model.rowCount())
    ]
    first = model.row(0)
    assert Decimal(rows[1][2]) == from_minor(first.amount_minor, first.currency)


def test_page_on_an_empty_store(app_ctx, qtbot, qtmodeltester):
    page = DisputesPage(app_ctx)
    qtbot.addWidget(page)
    page.show()
    assert page.queue.model.rowCount() == 0
    assert page.queue.counts.text() == "0 cases"
    qtmodeltester.check(page.queue.model)
    task = page.queue.claim_next()
    settle(app_ctx, qtbot)
    assert task.result is None and page._case is None  # nothing to claim, nothing opened
    assert page.queue.model.data(page.queue.model.index(0, 0), ID_ROLE) is None
