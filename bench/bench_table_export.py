"""Table export benchmark: 100,000 rows x 11 columns (the matches export shape) to XLSX and CSV.

python bench/bench_table_export.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from workstation.exporters.table import Column, write_table

COLUMNS = [
    Column("match_id", "int"),
    Column("status"),
    Column("rule"),
    Column("confidence", "int"),
    Column("source_kind"),
    Column("source"),
    Column("external_id"),
    Column("references"),
    Column("date", "date"),
    Column("amount", "money"),
    Column("currency"),
]


def rows(n: int):  # type: ignore[no-untyped-def]
    day = dt.date(2026, 10, 1)
    for i in range(n):
        yield (
            i // 2,
            "auto",
            "shared reference",
            100,
            "psp",
            "Stripe EUR",
            f"txn_{i:024d}",
            f"CH{i:020d};ORD-{1000000 + i}",
            day + dt.timedelta(days=i % 30),
            Decimal(1000 + i % 90000).scaleb(-2),
            "EUR",
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="ws-export-"))
    print(f"| {args.rows:,} rows x {len(COLUMNS)} columns, median of {args.repeat} | seconds |")
    print("|---|---:|")
    for suffix in (".xlsx", ".csv"):
        times = []
        for i in range(args.repeat):
            t = time.perf_counter()
            write_table(out / f"t{i}{suffix}", COLUMNS, rows(args.rows))
            times.append(time.perf_counter() - t)
        print(f"| {suffix[1:]} | {statistics.median(times):.2f} |")


if __name__ == "__main__":
    main()
