"""Crash dialog for bugs, message boxes for user errors, and the background task runner."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton
from sqlalchemy import func, select

from workstation.errors import UserError
from workstation.models import User
from workstation.views import crash
from workstation.views.tasks import TaskState


@pytest.fixture
def crash_reports(monkeypatch):
    """Crash dialogs record their report instead of blocking in exec()."""
    reports: list[str] = []

    def fake_exec(self):
        reports.append(self.report)
        return 0

    monkeypatch.setattr(crash.CrashDialog, "exec", fake_exec)
    crash.install()
    yield reports
    crash.uninstall()


def _user_error_boxes() -> list[QMessageBox]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "user_error_box" and w.isVisible()
    ]


def _close_boxes() -> None:
    for box in _user_error_boxes():
        box.close()


def _count_users(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(User))


@pytest.mark.qt_no_exception_capture
def test_bug_in_a_slot_shows_crash_dialog_and_app_keeps_running(main_window, qtbot, crash_reports):
    def broken_slot():
        raise RuntimeError("boom in a slot")

    button = QPushButton("Break", main_window)
    button.clicked.connect(broken_slot)
    button.show()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert len(crash_reports) == 1
    assert "RuntimeError: boom in a slot" in crash_reports[0]
    assert "broken_slot" in crash_reports[0]  # the traceback, not just the message
    # still alive: navigation works and the window is shown
    main_window.show_page("imports")
    assert main_window.current_page_key() == "imports"
    assert main_window.isVisible()


@pytest.mark.qt_no_exception_capture
def test_user_error_in_a_slot_is_a_message_not_a_crash(main_window, qtbot, crash_reports):
    def slot():
        raise UserError("the file is empty", file="x.csv")

    button = QPushButton("Go", main_window)
    button.clicked.connect(slot)
    button.click()
    assert crash_reports == []
    boxes = _user_error_boxes()
    assert len(boxes) == 1 and boxes[0].text() == "x.csv: the file is empty"
    _close_boxes()


def test_crash_dialog_copy_button(qtbot):
    try:
        raise ValueError("copy me")
    except ValueError as exc:
        report = crash.format_report(exc)
    dialog = crash.CrashDialog(report)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert "ValueError: copy me" in QGuiApplication.clipboard().text()
    assert "Python" in dialog.report.splitlines()[0]
    dialog.append_report("second error")
    assert dialog.report.endswith("second error")


def test_task_commits_its_own_session_and_reports_progress(app_ctx, qtbot):
    seen_threads = []

    def op(session, progress):
        seen_threads.append(threading.current_thread())
        for i in range(3):
            progress(i + 1, 3, f"step {i + 1}")
        session.add(User(login="worker", display_name="Worker", role="clerk"))
        return "done"

    results, progress = [], []
    task = app_ctx.tasks.run(op, results.append, label="Adding a user")
    task.progressed.connect(lambda d, t, x: progress.append((d, t, x)))
    with qtbot.waitSignal(task.finished, timeout=5000):
        pass
    assert results == ["done"]
    assert task.state is TaskState.SUCCEEDED
    assert seen_threads[0] is not threading.main_thread()
    assert progress and progress[-1] == (3, 3, "step 3")
    assert _count_users(app_ctx.db) == 1


def test_cancel_rolls_back(app_ctx, qtbot):
    started = threading.Event()

    def op(session, progress):
        session.add(User(login="never", display_name="Never", role="clerk"))
        session.flush()
        started.set()
        for i in range(1000):
            progress(i, 1000, "working")
            threading.Event().wait(0.01)
        return "finished"

    results, cancelled = [], []
    task = app_ctx.tasks.run(
        op, results.append, label="Long job", on_cancelled=lambda: cancelled.append(True)
    )
    assert started.wait(5)
    assert app_ctx.tasks.active() == [task]
    task.cancel()
    with qtbot.waitSignal(task.finished, timeout=5000):
        pass
    assert task.state is TaskState.CANCELLED
    assert results == [] and cancelled == [True]
    assert _count_users(app_ctx.db) == 0
    assert app_ctx.tasks.active() == []


def test_user_error_goes_to_on_failure_and_rolls_back(app_ctx, qtbot):
    def op(session, progress):
        session.add(User(login="half", display_name="Half", role="clerk"))
        session.flush()
        raise UserError("no such account", field="account")

    failures = []
    task = app_ctx.tasks.run(op, lambda r: None, failures.append, label="Failing job")
    with qtbot.waitSignal(task.finished, timeout=5000):
        pass
    assert task.state is TaskState.FAILED
    assert [f.describe() for f in failures] == ["field account: no such account"]
    assert _count_users(app_ctx.db) == 0


def test_user_error_without_handler_shows_a_message_box(main_window, app_ctx, qtbot):
    def op(session, progress):
        raise UserError("database is locked; try again")

    task = app_ctx.tasks.run(op, lambda r: None, label="Locked")
    with qtbot.waitSignal(task.finished, timeout=5000):
        pass
    boxes = _user_error_boxes()
    assert [b.text() for b in boxes] == ["database is locked; try again"]
    _close_boxes()


def test_bug_in_a_task_opens_the_crash_dialog(app_ctx, qtbot, crash_reports):
    def op(session, progress):
        return 1 / 0

    task = app_ctx.tasks.run(op, lambda r: None, lambda e: None, label="Dividing")
    with qtbot.waitSignal(task.finished, timeout=5000):
        pass
    qtbot.waitUntil(lambda: len(crash_reports) == 1)
    assert "ZeroDivisionError" in crash_reports[0]
    assert task.state is TaskState.FAILED


def test_status_bar_follows_tasks_and_cancels(main_window, app_ctx, qtbot):
    release = threading.Event()

    def op(session, progress):
        for i in range(500):
            progress(i, 500, f"row {i}")
            if release.wait(0.01):
                break
        return None

    status = main_window.task_status
    assert not status.isVisible()
    task = app_ctx.tasks.run(op, None, label="Crunching")
    qtbot.waitUntil(lambda: status.isVisible() and status.bar.maximum() == 500)
    assert status.label.text().startswith("Crunching")
    assert status.cancel_button.isVisible()
    with qtbot.waitSignal(task.finished, timeout=5000):
        qtbot.mouseClick(status.cancel_button, Qt.MouseButton.LeftButton)
    assert task.state is TaskState.CANCELLED
    assert not status.isVisible()
    qtbot.waitUntil(lambda: "cancelled" in main_window.statusBar().currentMessage())


def test_many_tasks_keep_reference_counts(app_ctx, qtbot):
    """QThreadPool.start(callable) in PySide6 6.12.0 drops a reference to None per run (an abort
    after a few thousand tasks); the runner's workers must not."""
    import gc
    import sys

    finished = [0]

    def count(_result) -> None:
        finished[0] += 1

    def run(n: int) -> int:
        finished[0] = 0
        for _ in range(n):
            app_ctx.tasks.run(lambda session, progress: None, count, label="noop")
        qtbot.waitUntil(lambda: finished[0] == n, timeout=20000)
        qtbot.wait(10)  # deleteLater of the finished tasks
        gc.collect()
        return sys.getrefcount(None)

    before = run(50)  # warm up: worker threads, connection pool
    after = run(500)
    assert after - before > -100
