"""Import benchmark: 1M-row Stripe itemized payout report into SQLite vs the floor, median of N.

Floor (same run, same file): pyarrow CSV parse + raw sqlite3 executemany of the parsed rows into
an unindexed table in one transaction. pyarrow types three of the twelve columns as timestamps,
which sqlite3 binds through its (slow, Python-level) default datetime adapter; the second floor
reads those columns as text, which is the stricter yardstick. Full: `workstation import` end to
end in a fresh database (sniff, parse, PAN masking, fingerprints, dedupe, reference tokens,
indexes, one transaction), then the same file again (already imported). Each measurement runs
in its own process so peak memory is that process's own.

    python bench/bench_import.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

FLOOR = r"""
import json, resource, sqlite3, sys, time
import pyarrow as pa, pyarrow.csv as pv
t = time.perf_counter()
table = pv.read_csv(sys.argv[1])
cols = table.column_names[:12]
as_text = len(sys.argv) > 3
rows = list(zip(*(
    (c.cast(pa.string()) if as_text and pa.types.is_timestamp(c.type) else c).to_pylist()
    for c in (table.column(n) for n in cols)
)))
con = sqlite3.connect(sys.argv[2])
con.execute("PRAGMA journal_mode=WAL"); con.execute("PRAGMA synchronous=NORMAL")
con.execute(f"CREATE TABLE t ({','.join('c%d' % i for i in range(len(cols)))})")
con.executemany(f"INSERT INTO t VALUES ({','.join('?' * len(cols))})", rows)
con.commit()
print(json.dumps({"s": time.perf_counter() - t,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

FULL = r"""
import json, resource, sys, time
from pathlib import Path
from workstation.db import Database
from workstation.services.imports.file_import import import_file
db = Database("sqlite:///" + sys.argv[2])
reports = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    with db.sessions() as s:
        r = import_file(s, Path(sys.argv[1]), actor="bench")
        s.commit()
    reports.append({"s": time.perf_counter() - t, "new": r.new, "dup": r.duplicates,
                    "already": r.already_imported})
print(json.dumps({"runs": reports,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    ).stdout
    for suffix in ("", "-wal", "-shm"):  # the databases are not needed after the run
        Path(args[1] + suffix).unlink(missing_ok=True)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--csv", type=Path, help="reuse this generated report")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ws-bench-"))
    csv = args.csv or work / f"stripe_itemized_{args.rows}.csv"
    if not csv.exists():
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(HERE / "gen_dataset.py"),
                "--stripe-csv",
                str(csv),
                "--rows",
                str(args.rows),
            ],
            check=True,
            capture_output=True,
        )
        print(
            f"generated {csv} ({csv.stat().st_size / 2**20:.0f} MiB) in "
            f"{time.perf_counter() - t:.1f} s"
        )
    floors, floors_text, fulls, seconds, rss_floor, rss_full = [], [], [], [], [], []
    for i in range(args.repeat):
        f = _run(FLOOR, str(csv), str(work / f"floor{i}.db"))
        floors.append(f["s"])
        rss_floor.append(f["rss_mb"])
        floors_text.append(_run(FLOOR, str(csv), str(work / f"floort{i}.db"), "text")["s"])
        r = _run(FULL, str(csv), str(work / f"full{i}.db"), "2")
        first, second = r["runs"]
        assert first["new"] == args.rows and second["already"], r
        fulls.append(first["s"])
        seconds.append(second["s"])
        rss_full.append(r["rss_mb"])
    med = statistics.median
    print()
    print(f"| {args.rows:,} Stripe rows, SQLite, median of {args.repeat} | seconds | peak MB |")
    print("|---|---:|---:|")
    print(
        f"| floor: pyarrow parse + raw executemany, unindexed | {med(floors):.2f} | "
        f"{med(rss_floor):.0f} |"
    )
    print(f"| floor with the timestamp columns bound as text | {med(floors_text):.2f} | |")
    print(
        f"| full import (parse, mask, dedupe, tokens, indexes) | {med(fulls):.2f} | "
        f"{med(rss_full):.0f} |"
    )
    print(f"| second import of the same file | {med(seconds):.2f} | |")
    print(f"| ratio full / floor | {med(fulls) / med(floors):.2f}x | |")
    print(f"| ratio full / floor with text timestamps | {med(fulls) / med(floors_text):.2f}x | |")


if __name__ == "__main__":
    main()
