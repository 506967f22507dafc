"""UI responsiveness while a big import or reconciliation runs in the background.

The app's own TaskRunner runs the operation on its worker thread (as File > Import and Reconcile
now do); the main thread runs the Qt event loop with a 5 ms timer and records how late each tick
arrives. A late tick is an event-loop stall: the user would see a frozen window for that long.
A watchdog thread notes where the worker threads were when a stall passed 80 ms, so the table
names the culprits.

    QT_QPA_PLATFORM=offscreen python bench/bench_ui_stall.py --csv /tmp/stripe_1m.csv
    QT_QPA_PLATFORM=offscreen python bench/bench_ui_stall.py --reconcile-db /tmp/demo_1m.db

Target (PERFORMANCE.md): no stall over 100 ms.
"""

from __future__ import annotations

import argparse
import collections
import gc
import shutil
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from workstation.db import Database
from workstation.services.common.child_process import run_in_child
from workstation.services.imports.file_import import import_file
from workstation.services.reconcile import engine
from workstation.views.tasks import TaskRunner

TICK_MS = 5
WATCH_MS = 60


def _where(main_id: int) -> str:
    """Innermost frame of the project (or the innermost at all) on each non-main thread."""
    out = []
    for tid, frame in sys._current_frames().items():
        if tid in (main_id, threading.get_ident()):
            continue
        stack = traceback.extract_stack(frame)
        ours = [f for f in stack if "workstation" in f.filename] or stack
        f = ours[-1]
        out.append(f"{Path(f.filename).name}:{f.lineno} {f.name}")
    return "; ".join(sorted(out))


def measure(op, label: str, db: Database) -> dict:  # type: ignore[no-untyped-def]
    app = QApplication.instance() or QApplication([])
    runner = TaskRunner(db)
    gaps: list[float] = []
    culprits: collections.Counter[str] = collections.Counter()
    last = [time.perf_counter()]
    main_id = threading.get_ident()
    stop = threading.Event()

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    def watch() -> None:
        while not stop.is_set():
            time.sleep(0.01)
            if time.perf_counter() - last[0] > WATCH_MS / 1000:
                culprits[_where(main_id)] += 1

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    done = threading.Event()
    result: dict = {}
    watcher = threading.Thread(target=watch, daemon=True)

    def finished(value: object) -> None:
        result["value"] = value
        done.set()
        app.quit()

    def failed(err: Exception) -> None:
        result["error"] = str(err)
        done.set()
        app.quit()

    gc.freeze()  # as the app does once its window is up (views.app.run_app)
    started = time.perf_counter()
    task = runner.run(op, finished, failed, label=label)
    task.progressed.connect(lambda *a: None)  # progress travels to the main thread as in the app
    timer.start()
    watcher.start()
    app.exec()
    stop.set()
    timer.stop()
    runner.shutdown()
    total = time.perf_counter() - started
    ms = sorted(g * 1000 for g in gaps[1:]) or [0.0]
    return {
        "label": label,
        "seconds": total,
        "ticks": len(ms),
        "p50": ms[len(ms) // 2],
        "p99": ms[int(len(ms) * 0.99)],
        "max": ms[-1],
        "over100": sum(1 for g in ms if g > 100),
        "culprits": culprits.most_common(6),
        "error": result.get("error"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--csv", type=Path, help="a big file to import into a fresh database")
    ap.add_argument("--reconcile-db", type=Path, help="a filled, unreconciled SQLite database")
    args = ap.parse_args()
    rows = []
    work = Path(tempfile.mkdtemp(prefix="ws-stall-"))
    try:
        if args.csv:
            db = Database("sqlite:///" + str(work / "import.db"))
            path = args.csv
            rows.append(
                measure(
                    lambda s, p: import_file(s, path, actor="bench", progress=p),
                    f"import {path.name}",
                    db,
                )
            )
            db.dispose()
        if args.reconcile_db:
            copy = work / "reconcile.db"
            shutil.copy(args.reconcile_db, copy)
            db = Database("sqlite:///" + str(copy))
            rows.append(
                measure(
                    lambda s, p: engine.run(s, actor="bench", progress=p),
                    "reconcile on a worker thread",
                    db,
                )
            )
            db.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(str(copy) + suffix).unlink(missing_ok=True)
            shutil.copy(args.reconcile_db, copy)
            db = Database("sqlite:///" + str(copy))
            url = db.connect_url
            rows.append(
                measure(
                    lambda s, p: run_in_child(url, engine.run, progress=p, actor="bench"),
                    "reconcile in a child process (the app's way from 200k records)",
                    db,
                )
            )
            db.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("| background work | seconds | ticks | p50 ms | p99 ms | max ms | stalls > 100 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['label']} | {r['seconds']:.1f} | {r['ticks']:,} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['max']:.0f} | {r['over100']} |"
        )
    for r in rows:
        if r["error"]:
            print(f"\n{r['label']} failed: {r['error']}")
        if r["culprits"]:
            print(f"\nwhere the workers were during stalls over {WATCH_MS} ms ({r['label']}):")
            for where, n in r["culprits"]:
                print(f"  {n:4d} x {where}")


if __name__ == "__main__":
    main()
