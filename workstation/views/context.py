"""What every page gets: the database, the acting user, background tasks, undo, change events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from ..db import Database
from .tasks import TaskRunner

# What `AppContext.data_changed` carries: which kind of data changed.
RECORDS = "records"
MATCHES = "matches"
DISPUTES = "disputes"
CASES = "cases"
IMPORTS = "imports"
ALL_KINDS = (RECORDS, MATCHES, DISPUTES, CASES, IMPORTS)


def describe_database(url: str) -> str:
    """Status-bar text for a database: `SQLite: <path>` or the URL without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ":memory:"
        return f"SQLite: {db if db == ':memory:' else Path(db).expanduser()}"
    return parsed._replace(password=None).render_as_string(hide_password=False)


class AppContext(QObject):
    """Shared state of one running application, handed to every page and dialog.

    Attributes:
        db: the open Database (one Session per action: `with ctx.db.session() as s:`).
        actor: login of the user working (audit trail, `imported_by`, case assignee).
        tasks: background operations (`ctx.tasks.run(op, on_success)`).
        undo_stack: undoable user actions (Edit > Undo/Redo).
    """

    data_changed = Signal(str)  # one of ALL_KINDS; pages reload what they show
    status_posted = Signal(str)  # a short message for the status bar
    import_requested = Signal(list)  # file paths to import; [] asks for files
    # A drill-down: page key ("exceptions", "disputes", "matches") and the filters to apply;
    # the main window shows the page and calls `page.apply_filters(filters)` if it has one.
    navigate_requested = Signal(str, dict)

    def __init__(self, db: Database, actor: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.actor = actor
        self.tasks = TaskRunner(db, self)
        self.tasks.message_posted.connect(self.status_posted)
        self.undo_stack = QUndoStack(self)

    @property
    def database_label(self) -> str:
        return describe_database(self.db.engine.url.render_as_string(hide_password=False))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A short main-thread Session for small reads (committed on success)."""
        with self.db.session() as s:
            yield s

    def notify(self, text: str) -> None:
        """Show `text` in the status bar."""
        self.status_posted.emit(text)

    def navigate(self, page: str, filters: dict | None = None) -> None:
        """Open `page` filtered by `filters` (a drill-down from the dashboard)."""
        self.navigate_requested.emit(page, dict(filters or {}))

    def changed(self, *kinds: str) -> None:
        """Tell every page that these kinds of data changed."""
        for kind in kinds:
            self.data_changed.emit(kind)

    def shutdown(self) -> None:
        """Cancel background work and wait for it (before the database is disposed)."""
        self.tasks.shutdown()
        self.undo_stack.clear()
