"""The cyclic garbage collector runs on the GUI thread only: a worker never destroys a widget."""

from __future__ import annotations

import gc
import threading
from typing import Any

from PySide6.QtWidgets import QLabel

from workstation.services.common.bulk_write import gc_paused
from workstation.views.main_thread_gc import MainThreadCollector


class _Cycle:
    """A widget kept alive only by a reference cycle: only the collector frees it."""

    def __init__(self, record: list[str]) -> None:
        self.me = self
        self.label = QLabel("cycle")
        self.label.destroyed.connect(lambda: record.append(threading.current_thread().name))


def test_widgets_in_cycles_die_on_the_gui_thread(qapp: Any, qtbot: Any) -> None:
    before = gc.isenabled()
    collector = MainThreadCollector(interval_ms=20)
    try:
        assert not gc.isenabled()
        died: list[str] = []
        _Cycle(died)

        kept: list[Any] = []

        def churn() -> None:  # a worker allocating many objects, as a PDF build does
            kept.extend({"n": i} for i in range(20 * gc.get_threshold()[0]))

        worker = threading.Thread(target=churn, name="worker")
        worker.start()
        worker.join()
        assert gc.get_count()[0] > gc.get_threshold()[0]
        assert died == []  # past the threshold, yet the worker ran no collection
        qtbot.waitUntil(lambda: died != [], timeout=5000)
        assert died == [threading.main_thread().name]
    finally:
        collector.stop()
    assert gc.isenabled() == before  # stop() puts automatic collection back as it was


def test_collection_waits_while_bulk_work_has_paused_it(qapp: Any, qtbot: Any) -> None:
    collector = MainThreadCollector(interval_ms=10)
    try:
        with gc_paused():
            before = gc.get_stats()[0]["collections"]
            kept = [{} for _ in range(gc.get_threshold()[0] * 2)]
            qtbot.wait(100)
            assert len(kept) > gc.get_threshold()[0]
            assert gc.get_stats()[0]["collections"] == before
        assert not gc.isenabled()  # the pause does not switch automatic collection back on
    finally:
        collector.stop()
