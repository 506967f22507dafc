"""Screenshot of the dashboard into docs/screenshots/dashboard.png, and how long it took to open.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/screenshots_dashboard.py [--out DIR] [--db URL]

Without --db: a temporary store with the demo month (2,000 orders), reconciled, with a few
exception cases assigned. With --db: an existing store (e.g. the one bench/bench_kpis.py builds,
to time the dashboard on a million records). Grabs the main window at 1400x900 on the Dashboard
page and prints the time from opening the page to the numbers drawn (cold: a fresh process, so
the KPI cache is empty; warm: the page refreshed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings
from sqlalchemy import select

from workstation.db import Database
from workstation.models import ExceptionCase
from workstation.services.common.users import ensure_user
from workstation.services.demo.merchant_month import load_demo
from workstation.services.reconcile import cases, engine
from workstation.views.app import application
from workstation.views.context import AppContext
from workstation.views.main_window import MainWindow

REPO = Path(__file__).resolve().parent.parent


def settle(until: Callable[[], bool] = lambda: True, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    for _ in range(5):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    while not until():
        if time.monotonic() > end:
            raise TimeoutError("the dashboard did not finish")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.002)


def demo_store(folder: Path, orders: int) -> Database:
    db = Database(f"sqlite:///{folder / 'workstation.db'}")
    with db.session() as s:
        load_demo(s, orders=orders, actor="demo")
    with db.session() as s:
        engine.run(s, actor="demo")
        for login in ("a.manager", "j.doe", "m.rossi"):
            ensure_user(s, login)
    with db.session() as s:
        ids = list(s.scalars(select(ExceptionCase.id).order_by(ExceptionCase.id).limit(30)))
        cases.assign(s, ids[:12], "j.doe", actor="a.manager")
        cases.assign(s, ids[12:20], "m.rossi", actor="a.manager")
        cases.resolve(s, ids[20:30], "no_action", actor="a.manager")
    return db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--db", help="an existing store's URL instead of the demo month")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ws-dash-"))
    app = application()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp))
    db = Database(args.db) if args.db else demo_store(tmp, args.orders)
    ctx = AppContext(db, "a.manager")
    window = MainWindow(ctx)
    window.resize(1400, 900)
    window.show()
    settle()

    started = time.perf_counter()
    page = window.show_page("dashboard")
    settle(lambda: getattr(page, "view", None) is not None)
    tiles = time.perf_counter() - started
    settle(lambda: not page.computing)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    page.refresh()
    settle(lambda: not page.computing)
    warm = time.perf_counter() - started
    view = page.view
    print(
        f"dashboard {view.date_from} to {view.date_to}, first visit (cold cache, includes "
        f"loading the chart library): tiles in {tiles:.2f} s, charts in {cold:.2f} s; "
        f"refreshed (warm cache) in {warm:.2f} s"
    )
    settle()
    out = args.out / "dashboard.png"
    if not window.grab().save(str(out)):
        raise OSError(f"could not write {out}")
    print(f"wrote {out}")
    ctx.shutdown()
    window.close()
    db.dispose()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
