"""Runs every benchmark in turn with its default (target-sized) inputs and prints their tables.

`make bench` calls it. A full run takes well over an hour on the 2-core machine (the 1M-row import
and reconciliation dominate); `--quick` runs each at a tenth of the size to check they all work.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, arguments at target size, arguments for --quick)
BENCHES: list[tuple[str, list[str], list[str]]] = [
    ("bench_import.py", [], ["--rows", "100000", "--repeat", "1"]),
    ("bench_reconcile.py", [], ["--orders", "100000", "--repeat", "1"]),
    ("bench_exceptions_view.py", [], ["--orders", "50000", "--repeat", "1"]),
    ("bench_table_model.py", [], ["--rows", "100000", "--cases", "10000", "--repeat", "1"]),
    ("bench_disputes.py", [], ["--cases", "10000", "--no-pg"]),
    ("bench_kpis.py", [], ["--orders", "50000"]),
    ("bench_table_export.py", [], ["--rows", "10000", "--repeat", "1"]),
    ("bench_charts.py", [], ["--points", "100000", "--repeat", "1"]),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a tenth of the sizes, one repeat")
    ap.add_argument("names", nargs="*", help="only these scripts (e.g. bench_kpis.py)")
    args = ap.parse_args()
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    failed = []
    for script, full, quick in BENCHES:
        if args.names and script not in args.names:
            continue
        cmd = [sys.executable, str(HERE / script), *(quick if args.quick else full)]
        print(f"\n## {script} {' '.join(cmd[2:])}\n", flush=True)
        started = time.perf_counter()
        if subprocess.run(cmd, env=env).returncode != 0:
            failed.append(script)
        print(f"\n({script}: {time.perf_counter() - started:.0f} s)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
