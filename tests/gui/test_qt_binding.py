"""The Qt binding in use keeps its reference counts: bool signals must not abort the interpreter."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from PySide6.QtCore import QCoreApplication, QObject, Signal

class Probe(QObject):
    fired = Signal(bool)

app = QCoreApplication([])
probe = Probe()
probe.fired.connect(lambda value: None)
before = sys.getrefcount(True)
for _ in range(50_000):
    probe.fired.emit(True)
print(sys.getrefcount(True) - before)
"""


def test_bool_signal_emissions_keep_reference_counts() -> None:
    # Run in a child process: the broken binding (PySide6 6.12.0) aborts the whole interpreter.
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert abs(int(proc.stdout.strip())) < 100
