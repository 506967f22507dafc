"""Start-up: database errors are explained, the user is registered, the demo is offered once."""

from __future__ import annotations

import sys
import types

import pytest
from sqlalchemy import select

from workstation.db import Database
from workstation.models import User
from workstation.views import app as app_module
from workstation.views import messages
from workstation.views.main_window import MainWindow


@pytest.fixture
def started(qtbot):
    """Windows opened by `open_main_window`, closed after the test with their work stopped."""
    windows: list[MainWindow] = []
    yield windows
    for window in windows:
        window.ctx.tasks.shutdown()
        qtbot.waitUntil(lambda w=window: not w.ctx.tasks.active(), timeout=10000)
        window.close()
        window.ctx.db.dispose()
        window.deleteLater()
    qtbot.wait(1)


def test_unopenable_database_shows_a_message_not_a_crash(monkeypatch, tmp_path):
    shown = []
    monkeypatch.setattr(messages, "critical", lambda parent, title, text: shown.append(text))
    window = app_module.open_main_window(f"sqlite:///{tmp_path}/missing/folder/ws.db", "tester")
    assert window is None
    assert "folder for the database does not exist" in shown[0]
    assert "WORKSTATION_DB" in shown[0]


def test_start_registers_user_and_offers_demo_on_empty_store(monkeypatch, tmp_path, qtbot, started):
    calls = []

    def load_demo(session, *, orders=2000, seed=7, actor="demo", progress=None, force=False):
        calls.append((orders, actor))
        for i in range(3):
            progress(i + 1, 3, "Generating orders")
        return {"orders": orders}

    fake = types.ModuleType("workstation.services.demo.merchant_month")
    fake.load_demo = load_demo
    monkeypatch.setitem(sys.modules, "workstation.services.demo.merchant_month", fake)
    monkeypatch.setattr("workstation.views.main_window.demo_available", lambda: True)
    questions = []
    monkeypatch.setattr(
        messages, "ask", lambda parent, title, text, **k: questions.append(title) or True
    )
    url = f"sqlite:///{tmp_path}/ws.db"
    window = app_module.open_main_window(url, "clerk1")
    started.append(window)
    assert window.isVisible()
    qtbot.waitUntil(lambda: calls == [(2000, "clerk1")], timeout=5000)
    assert questions == ["Load demo data?"]
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "Demo month loaded")
    db = Database(url)
    with db.session() as s:
        assert [u.login for u in s.scalars(select(User))] == ["clerk1"]
    db.dispose()


def test_demo_not_offered_when_declined_or_unavailable(monkeypatch, tmp_path, qtbot, started):
    monkeypatch.setattr("workstation.views.main_window.demo_available", lambda: False)
    asked = []
    monkeypatch.setattr(messages, "ask", lambda *a, **k: asked.append(a) or True)
    window = app_module.open_main_window(f"sqlite:///{tmp_path}/ws.db", "tester")
    started.append(window)
    qtbot.wait(20)
    assert asked == []
    assert window.ctx.tasks.active() == []


def test_application_is_styled_and_named(qapp):
    from workstation import APP_NAME, ORG_NAME

    app = app_module.application()
    assert app is qapp
    assert "QListWidget#navigation" in app.styleSheet()
    assert (app.organizationName(), app.applicationName()) == (ORG_NAME, APP_NAME)


def test_real_demo_month_loads_in_the_background(monkeypatch, tmp_path, qtbot, started):
    pytest.importorskip("workstation.services.demo.merchant_month")
    monkeypatch.setattr(messages, "ask", lambda *a, **k: True)
    window = app_module.open_main_window(f"sqlite:///{tmp_path}/ws.db", "tester")
    started.append(window)
    shown = []  # the status bar's progress + Cancel appear as the task starts
    window.ctx.tasks.task_started.connect(
        lambda task: shown.append((task.label, window.task_status.isVisible()))
    )
    qtbot.waitUntil(
        lambda: window.statusBar().currentMessage() == "Demo month loaded", timeout=60000
    )
    assert shown == [("Loading the demo month", True)]
    assert not window.task_status.isVisible()
    page = window.show_page("imports")
    assert page.model.rowCount() >= 1
    assert sum(page.model.row(i)["rows_new"] for i in range(page.model.rowCount())) > 2000
