"""Screenshots of the main window pages and the import dialog into docs/screenshots/ (offscreen).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/screenshots.py [--out docs/screenshots]

Builds a temporary store with the demo month, opens the window at 1280x800, grabs every page,
the About dialog and the import dialog previewing real sample files; prints the time from
window construction to a painted window.
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

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings
from PySide6.QtWidgets import QApplication, QWidget

from workstation.db import Database
from workstation.services.demo.merchant_month import load_demo
from workstation.views.app import application
from workstation.views.context import AppContext
from workstation.views.main_window import MainWindow

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "samples"
IMPORT_FILES = (
    SAMPLES / "psp" / "paypal" / "paypal_activity_en.csv",
    SAMPLES / "camt" / "oca_camt053_001_02.xml",
    SAMPLES / "ofx" / "oca_ofx_v211_wrong_missing_curdef_fitid.ofx",
    SAMPLES / "bai2" / "vh_invalid_checksum_eod.bai2",
)


def settle(until: Callable[[], bool] = lambda: True, timeout: float = 30.0) -> None:
    """Process events until `until()` holds (and at least a few times for painting)."""
    end = time.monotonic() + timeout
    for _ in range(5):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    while not until():
        if time.monotonic() > end:
            raise TimeoutError("the window did not settle")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def grab(widget: QWidget, path: Path) -> None:
    settle()
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    tmp = Path(tempfile.mkdtemp(prefix="ws-shots-"))
    app: QApplication = application()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)  # never the user's real settings
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp))
    db = Database(f"sqlite:///{tmp / 'workstation.db'}")
    ctx = AppContext(db, "a.clerk")
    window = MainWindow(ctx)
    window.resize(1280, 800)
    window.show()
    window.show_page("imports")
    grab(window, args.out / "first_start_empty.png")
    window.close()

    with db.session() as s:
        load_demo(s, orders=args.orders, actor="demo")
    started = time.perf_counter()
    window = MainWindow(ctx)
    window.resize(1280, 800)
    window.show()
    settle()
    print(f"window built and painted in {time.perf_counter() - started:.2f} s")

    for key in window.page_keys():
        window.show_page(key)
        grab(window, args.out / f"main_{key}.png")
    window.show_page("imports")

    about = window.show_about()
    grab(about, args.out / "about.png")
    about.reject()

    files = [p for p in IMPORT_FILES if p.is_file()]
    if files:
        dialog = window.import_files(files)
        assert dialog is not None
        dialog.resize(1100, 680)
        settle(lambda: not dialog.busy)
        for i, path in enumerate(files):
            dialog.tabs.setCurrentIndex(i)
            grab(dialog, args.out / f"import_{i + 1}_{path.suffix.lstrip('.')}.png")
        dialog.tabs.setCurrentIndex(0)
        dialog.start_import()
        settle(lambda: not dialog.busy)
        window.show_page("imports")
        grab(window, args.out / "main_imports_after_import.png")
        dialog.reject()

    ctx.shutdown()
    window.close()
    db.dispose()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
