"""Python's cyclic garbage collector runs on the GUI thread only, so Qt objects die where they live.

Left automatic, the collector runs in whichever thread happens to allocate: a background task
(say, building a representment PDF) can collect a cycle that holds a widget and run its C++
destructor on the worker thread. That destructor takes Qt's connection lock and then waits for
the GIL while the GUI thread, holding the GIL, waits for the same lock in `QObject::connect`: the
application freezes for good. The collector is therefore switched off and run from a timer on
the GUI thread with the interpreter's own thresholds (the pattern long used by PyQt
applications). While bulk work has paused collection (`bulk_write.gc_paused`) it waits too.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

from ..services.common.bulk_write import gc_is_paused

INTERVAL_MS = 500


class MainThreadCollector(QObject):
    """Disables automatic collection and collects on this (the GUI) thread every half second."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def check(self) -> None:
        """Collect the generations whose counts passed their thresholds (as the interpreter
        would), unless bulk work has paused collection."""
        if gc_is_paused():
            return
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self.threshold
        if c0 <= t0:
            return
        generation = 0
        if c1 > t1:
            generation = 1
            if c2 > t2:
                generation = 2
        gc.collect(generation)

    def stop(self) -> None:
        """Automatic collection back as it was (tests, shutdown)."""
        self.timer.stop()
        if self._was_enabled:
            gc.enable()
