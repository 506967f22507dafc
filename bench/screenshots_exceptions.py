"""Screenshots of the Exceptions page (match workspace open) and the Matches page (offscreen).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/screenshots_exceptions.py [--out DIR]

Builds a temporary store with the demo month (2,000 orders), reconciles it once, opens the main
window at 1400x900 and grabs `exceptions.png` (an unmatched line with candidates and their
"why not" texts) and `matches.png` (a payout match and its lines).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings
from PySide6.QtWidgets import QApplication

from workstation.db import Database
from workstation.services.common.users import ensure_user
from workstation.services.demo.merchant_month import load_demo
from workstation.services.reconcile import run, table_queries, why_not
from workstation.views.app import application
from workstation.views.context import AppContext
from workstation.views.main_window import MainWindow

REPO = Path(__file__).resolve().parent.parent


def settle(until: Callable[[], bool] = lambda: True, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    for _ in range(5):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    while not until():
        if time.monotonic() > end:
            raise TimeoutError("the window did not settle")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def showcase_record(db: Database) -> int:
    """An open line whose candidates fail on amount or date (the why-not texts are telling)."""
    with db.session() as s:
        rows = table_queries.fetch_page(s, table_queries.ExceptionFilters(), None, None, 2000).rows
        best, score = rows[0]["id"], -1
        for r in rows:
            if r["state"] != "unmatched" or r["source_kind"] != "ledger":
                continue
            cands = why_not.why_not(s, r["id"]).candidates
            texts = " ".join(c.summary for c in cands)
            points = len(cands) + 5 * texts.count("amount off") + 3 * texts.count("window")
            if points > score:
                best, score = int(r["id"]), points
        return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ws-exc-shots-"))
    app: QApplication = application()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp))
    db = Database(f"sqlite:///{tmp / 'workstation.db'}")
    with db.session() as s:
        ensure_user(s, "a.clerk")
        ensure_user(s, "b.lee")
        load_demo(s, orders=args.orders)
    with db.session() as s:
        run(s, actor="a.clerk")
    record = showcase_record(db)
    ctx = AppContext(db, "a.clerk")
    window = MainWindow(ctx)
    window.resize(1400, 900)
    window.show()
    page = window.show_page("exceptions")
    settle()
    page.select_record(record)
    settle(lambda: page.workspace.data is not None and page.workspace.data.record_id == record)
    page.workspace.check_candidate(page.workspace.candidates.row(0)["id"])
    settle()
    path = args.out / "exceptions.png"
    window.grab().save(str(path))
    print(f"wrote {path}")

    matches = window.show_page("matches")
    settle()
    model = matches.model
    target = next(
        (model.row(r)["id"] for r in range(model.rowCount()) if model.row(r)["members"] >= 3),
        model.row(0)["id"],
    )
    matches.select_match(target)
    settle(lambda: matches.detail.match_id == target)
    path = args.out / "matches.png"
    window.grab().save(str(path))
    print(f"wrote {path}")
    window.close()
    ctx.shutdown()
    db.dispose()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
