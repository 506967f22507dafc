"""Main window: pages, menus and shortcuts, status bar, About, remembered geometry."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QLabel

from workstation import __version__
from workstation.views.main_window import MainWindow
from workstation.views.pages import PAGES

EXPECTED = {
    "exceptions": "ExceptionsPage",
    "disputes": "DisputesPage",
    "imports": "ImportsPage",
    "matches": "MatchesPage",
    "dashboard": "DashboardPage",
    "payouts": "PayoutsPage",
}


def test_all_six_pages_navigable_from_the_list(main_window, qtbot):
    assert [main_window.nav.item(i).text() for i in range(main_window.nav.count())] == [
        "Exceptions",
        "Disputes",
        "Imports",
        "Matches",
        "Dashboard",
        "Payouts",
    ]
    for row, spec in enumerate(PAGES):
        main_window.nav.setCurrentRow(row)
        page = main_window.stack.currentWidget()
        assert type(page).__name__ == EXPECTED[spec.key]
        assert page.isVisible()
        assert main_window.page_actions[spec.key].isChecked()
        assert main_window.current_page_key() == spec.key


def test_page_shortcuts_and_menus(main_window, qtbot):
    menus = [a.text() for a in main_window.menuBar().actions()]
    assert menus == ["&File", "&Edit", "&View", "&Help"]
    shortcuts = {
        main_window.import_action: "Ctrl+I",
        main_window.export_action: "Ctrl+E",
        main_window.quit_action: "Ctrl+Q",
        main_window.undo_action: "Ctrl+Z",
        main_window.redo_action: "Ctrl+Shift+Z",
    }
    for action, keys in shortcuts.items():
        assert action.shortcut() == QKeySequence(keys)
    for i, spec in enumerate(PAGES, start=1):
        action = main_window.page_actions[spec.key]
        assert action.shortcut() == QKeySequence(f"Ctrl+{i}")
        with qtbot.waitSignal(main_window.page_changed) as blocker:
            action.trigger()
        assert blocker.args == [spec.key]
        assert main_window.nav.currentRow() == i - 1


def test_keyboard_shortcut_switches_page(main_window, qtbot):
    main_window.activateWindow()
    main_window.setFocus()
    qtbot.keyClick(main_window, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert main_window.current_page_key() == "dashboard"
    qtbot.keyClick(main_window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert main_window.current_page_key() == "imports"


def test_placeholders_say_what_is_coming(main_window):
    from workstation.views.pages.placeholder import PlaceholderPage

    for key in main_window.page_keys():
        page = main_window.show_page(key)
        if isinstance(page, PlaceholderPage):  # real pages replace these one by one
            texts = " ".join(label.text() for label in page.findChildren(QLabel))
            assert "Coming to this page" in texts


def test_export_enabled_only_where_a_page_can_export(main_window, monkeypatch):
    main_window.show_page("imports")
    assert main_window.export_action.isEnabled()
    main_window.show_page("exceptions")
    assert main_window.export_action.isEnabled()
    monkeypatch.delattr(type(main_window.current_page()), "export_table")
    main_window.show_page("imports")
    main_window.show_page("exceptions")
    assert not main_window.export_action.isEnabled()


def test_status_bar_shows_database_and_user(main_window, app_ctx):
    db_file = app_ctx.db.engine.url.database
    assert main_window.database_text == f"SQLite: {db_file}"
    assert main_window.db_label.toolTip() == f"Database: SQLite: {db_file}"
    assert main_window.user_label.text() == "User: tester"
    assert main_window.db_label.isVisible() and main_window.user_label.isVisible()


def test_status_bar_hides_password_of_a_server_url():
    from workstation.views.context import describe_database

    text = describe_database("postgresql+psycopg://clerk:s3cret@db.example:5432/recon")
    assert "s3cret" not in text
    assert text == "postgresql+psycopg://clerk@db.example:5432/recon"


def test_about_dialog_opens_and_closes(main_window, qtbot, app_ctx):
    dialog = main_window.show_about()
    qtbot.waitExposed(dialog)
    text = dialog.text.text()
    assert __version__ in text
    assert main_window.database_text in text
    assert "PySide6" in text and "Python" in text
    dialog.reject()
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert main_window.isVisible()


def test_geometry_and_page_are_remembered(app_ctx, qtbot, isolated_settings):
    first = MainWindow(app_ctx)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.show_page("imports")
    first.setGeometry(30, 40, 700, 500)  # pages' minimum sizes may make it a little larger
    qtbot.wait(20)
    saved = first.geometry()
    assert saved.width() < 1200  # not the default size of a window without settings
    first.close()
    settings = QSettings()
    assert settings.fileName().startswith(str(isolated_settings))
    assert not settings.value("main_window/geometry").isEmpty()
    assert settings.value("main_window/page") == "imports"

    second = MainWindow(app_ctx)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    assert second.geometry() == saved
    assert second.current_page_key() == "imports"


def test_page_that_fails_to_build_does_not_take_the_window_down(main_window, monkeypatch, qtbot):
    from workstation.views import crash
    from workstation.views.pages import matches

    reports = []
    monkeypatch.setattr(crash.CrashDialog, "exec", lambda self: reports.append(self.report))

    def broken(self, ctx, parent=None):
        raise RuntimeError("page exploded")

    monkeypatch.setattr(matches.MatchesPage, "__init__", broken)
    page = main_window.show_page("matches")
    assert "page exploded" in reports[0]
    assert "could not be opened" in " ".join(x.text() for x in page.findChildren(QLabel))
    assert type(main_window.show_page("dashboard")).__name__ == "DashboardPage"
