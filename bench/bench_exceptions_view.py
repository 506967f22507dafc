"""Benchmark: the real Exceptions page over a store with ~1,000,000 open lines (offscreen).

Targets (../shared/PERFORMANCE.md, issue 4): first screen <= 100 ms, scroll frame <= 16 ms, sort
or filter on an indexed column <= 300 ms, model memory <= 150 MB. Every number includes painting
(`viewport().grab()`); medians of `--repeat` runs.

The store is the demo month of `--orders` orders from `bench/gen_dataset.py` (500,000 orders give
~1.0M records); it is imported and not reconciled, so every record is open and in the queue.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_exceptions_view.py \
        [--db /tmp/exc_bench/demo_500k.db] [--orders 500000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings, Qt  # noqa: E402

from workstation.db import Database  # noqa: E402
from workstation.services.reconcile import table_queries  # noqa: E402
from workstation.services.reconcile.table_queries import ExceptionFilters  # noqa: E402
from workstation.views.app import application  # noqa: E402
from workstation.views.context import AppContext  # noqa: E402
from workstation.views.models.sql_table import SqlTableModel  # noqa: E402
from workstation.views.pages.exceptions import ExceptionsPage  # noqa: E402

Row = tuple[str, str, str, str]
DEFAULT_DB = Path("/tmp/exc_bench/demo_500k.db")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def pump(seconds: float = 0.0) -> None:
    end = time.perf_counter() + seconds
    while True:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
        if time.perf_counter() >= end:
            return
        time.sleep(0.005)


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def ensure_store(path: Path, orders: int) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"building {path} ({orders:,} orders) with bench/gen_dataset.py …", flush=True)
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "gen_dataset.py"),
            "--db",
            f"sqlite:///{path}",
            "--orders",
            str(orders),
        ],
        check=True,
    )


class Bench:
    def __init__(self, page: ExceptionsPage, repeat: int) -> None:
        self.page = page
        self.view = page.table
        self.model = page.model
        self.repeat = repeat

    def paint(self) -> None:
        self.view.viewport().grab()

    def timed(self, fn: Callable[[], Any], repeat: int | None = None) -> list[float]:
        out = []
        for _ in range(repeat or self.repeat):
            start = time.perf_counter()
            fn()
            self.paint()
            out.append(time.perf_counter() - start)
        return out

    def scroll(self, steps: int) -> list[float]:
        bar = self.view.verticalScrollBar()
        bar.setValue(0)
        self.paint()
        out = []
        for _ in range(steps):
            start = time.perf_counter()
            bar.setValue(bar.value() + bar.pageStep())
            self.paint()
            out.append(time.perf_counter() - start)
        return out

    def jumps(self, n: int) -> list[float]:
        bar = self.view.verticalScrollBar()
        rng = random.Random(3)
        out = []
        for _ in range(n):
            start = time.perf_counter()
            bar.setValue(rng.randint(0, bar.maximum()))
            self.paint()
            out.append(time.perf_counter() - start)
        return out


def med(values: list[float]) -> str:
    return f"{ms(statistics.median(values))} (max {ms(max(values))})"


def check(values: list[float], limit: float) -> str:
    return "ok" if statistics.median(values) <= limit else "OVER"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--orders", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args(argv)
    ensure_store(args.db, args.orders)

    app = application()
    tmp = Path(tempfile.mkdtemp(prefix="ws-bench-exc-"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp))
    db = Database(f"sqlite:///{args.db}")
    ctx = AppContext(db, "bench")
    with ctx.session() as s:
        total = table_queries.count(s, ExceptionFilters())
    rows: list[Row] = []
    label = f"{total:,} open lines"

    # the page as the main window builds it: construct, show, first paint
    opened = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        page = ExceptionsPage(ctx)
        page.resize(1400, 900)
        page.show()
        page.table.viewport().grab()
        opened.append(time.perf_counter() - start)
        page.close()
        page.deleteLater()
        pump(0.05)
        ctx.tasks.wait()  # its background facet counts: not during the next opening
    pump(0.05)
    rows.append(("page open (build + count + first page + paint)", med(opened), "", ""))

    page = ExceptionsPage(ctx)
    page.resize(1400, 900)
    page.show()
    start = time.perf_counter()
    while page.source.facets is None:  # the background facet counts land ~2 s after opening
        pump(0.02)
    facets_after = time.perf_counter() - start
    ctx.tasks.wait()
    pump(0.05)
    b = Bench(page, args.repeat)
    first = b.timed(b.model.reload)
    rows.append(
        (
            "first screen (model reset + count + page + paint)",
            med(first),
            "<= 100 ms",
            check(first, 0.100),
        )
    )
    steps = b.scroll(args.steps)
    rows.append(
        (f"scroll frame ({args.steps} PageDown steps)", med(steps), "<= 16 ms", check(steps, 0.016))
    )
    far = b.jumps(30)
    rows.append(("jump anywhere (drag the scroll bar; key_at)", med(far), "", ""))

    keys = [c.key for c in b.model.columns]
    header = page.table.horizontalHeader()
    for key, name in (("amount_minor", "amount"), ("booked_on", "booked date")):
        orders = iter([Qt.SortOrder.DescendingOrder, Qt.SortOrder.AscendingOrder] * args.repeat)
        sort = b.timed(lambda k=key, o=orders: header.setSortIndicator(keys.index(k), next(o)))
        rows.append(
            (f"sort by {name} (indexed) + paint", med(sort), "<= 300 ms", check(sort, 0.300))
        )
    header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    b.model.sort(-1)
    prio_orders = iter([Qt.SortOrder.DescendingOrder, Qt.SortOrder.AscendingOrder] * 3)
    prio = b.timed(lambda: header.setSortIndicator(keys.index("priority"), next(prio_orders)), 3)
    rows.append(("sort by priority (case join, not indexed) + paint", med(prio), "", ""))
    header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    b.model.sort(-1)

    bar = page.filter_bar

    def pick(box, data) -> Callable[[], None]:
        def run() -> None:
            box.setCurrentIndex(0)  # back to unfiltered (not timed separately)
            box.setCurrentIndex(box.findData(data))

        return run

    def filters(tag: str) -> None:
        for box, data, name in (
            (bar.age, ">30", "age > 30 d (indexed date range)"),
            (bar.age, "8-30", "age 8-30 d (indexed date range)"),
            (bar.currency, "GBP", "currency GBP"),
            (bar.currency, "EUR", "currency EUR"),
        ):
            times = b.timed(pick(box, data))
            box.setCurrentIndex(0)
            rows.append(
                (f"filter {name}, {tag} + paint", med(times), "<= 300 ms", check(times, 0.300))
            )

    filters("facet counts")
    rows.append(
        ("facet counts ready after opening (background GROUP BY)", ms(facets_after), "", "")
    )
    facets, page.source.facets = page.source.facets, None  # as right after a data change
    filters("count in SQL")
    page.source.facets = facets
    text = b.timed(lambda: (bar.search.setText("ORD-1250000"), bar.search.returnPressed.emit()), 3)
    bar.search.clear()
    rows.append(("filter free text (reference token or LIKE) + paint", med(text), "", ""))

    # model memory: a fresh model touching 3,000 random pages (LRU keeps 64)
    gc.collect()
    rss0 = rss_mb()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    model = SqlTableModel(page.source, ctx.session, filters=ExceptionFilters(), page_size=200)
    rng = random.Random(5)
    for _ in range(3000):
        model.row(rng.randrange(model.rowCount()))
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    rows.append(
        (
            f"model memory after 3,000 random pages ({model.cached_pages()} cached)",
            f"{held / 2**20:.1f} MB (RSS +{rss_mb() - rss0:.0f} MB)",
            "<= 150 MB",
            "ok" if held <= 150 * 2**20 else "OVER",
        )
    )

    ctx.shutdown()
    page.close()
    db.dispose()
    app.processEvents()

    print(f"\nExceptions page over {label} (SQLite {args.db.name}), median of {args.repeat}\n")
    print("| measurement | time / size | target | |")
    print("|---|---:|---|---|")
    for name, value, target, verdict in rows:
        print(f"| {name} | {value} | {target} | {verdict} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
