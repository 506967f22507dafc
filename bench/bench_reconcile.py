"""Reconciliation benchmark: demo month with N orders in SQLite, engine end to end, median of N.

The database is filled once through the demo generator (orders, Stripe/Adyen lines, payouts, bank
credits), checkpointed, and copied fresh for each run. A run is one process: open the database,
`reconcile.run` (read open records and tokens, the rule cascade, bulk writes of matches, members,
record states and exception cases), commit. Wall time and peak RSS (getrusage) are that process's.

    python bench/bench_reconcile.py [--orders 1000000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FILL = r"""
import json, sys, time
from workstation.db import Database
from workstation.services.demo.merchant_month import load_demo
db = Database("sqlite:///" + sys.argv[1])
t = time.perf_counter()
with db.session() as s:
    summary = load_demo(s, orders=int(sys.argv[2]), actor="bench")
print(json.dumps({"s": time.perf_counter() - t, "records": sum(summary.records.values())}))
"""

RUN = r"""
import json, resource, sys, time
from workstation.db import Database
from workstation.services.reconcile import run
db = Database("sqlite:///" + sys.argv[1])
t = time.perf_counter()
with db.session() as s:
    report = run(s, actor="bench")
    t_commit = time.perf_counter()
total = time.perf_counter() - t
print(json.dumps({
    "s": total,
    "commit": time.perf_counter() - t_commit,
    "timings": report.timings,
    "candidates": report.candidates,
    "auto": report.auto,
    "suggested": report.suggested,
    "left": report.unmatched_left,
    "rules": [[r.name, r.auto, r.suggested, r.seconds] for r in report.rules],
    "groups": report.auto + report.suggested,
    "members": sum(r.records_auto + r.records_suggested for r in report.rules),
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


FLOOR = r"""
import json, resource, sqlite3, sys, time
path, groups, members = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = sqlite3.connect(path)
for p in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "cache_size=-65536"):
    c.execute("PRAGMA " + p)
t = time.perf_counter()
rows = c.execute(
    "SELECT id, source_id, kind, booked_on, amount_minor, fee_minor, net_minor,"
    " orig_amount_minor, orig_currency, currency, payout_ref, match_state, description"
    " FROM records NOT INDEXED WHERE match_state IN ('unmatched', 'suggested')"
).fetchall()
read = time.perf_counter() - t
del rows
t = time.perf_counter()
stamp = "2026-11-01 00:00:00.000000"
c.executemany(
    "INSERT INTO matches (id, status, rule, confidence, difference_minor, currency, note,"
    " created_at, created_by, confirmed_at, confirmed_by) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
    [(i, "auto", "Reference (exact)", 100, 0, "EUR", "same reference", stamp, "engine", stamp,
      "engine") for i in range(1, groups + 1)],
)
c.executemany(
    "INSERT INTO match_members (match_id, record_id, side, amount_minor) VALUES (?,?,?,?)",
    [(1 + i * groups // members, i + 1, "order", 100) for i in range(members)],
)
c.execute("CREATE TEMP TABLE t (id INTEGER PRIMARY KEY)")
c.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1, members + 1)])
c.execute("UPDATE records SET match_state = 'matched' WHERE id IN (SELECT id FROM t)")
c.commit()
write = time.perf_counter() - t
print(json.dumps({"read": read, "write": write,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(proc.returncode)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _drop(db: Path) -> None:
    db.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)


def _fresh(base: Path, db: Path) -> Path:
    _drop(db)
    shutil.copyfile(base, db)
    return db


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="folder to keep (and reuse) the filled database in")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ws-bench-rec-"))
    work.mkdir(parents=True, exist_ok=True)
    base = work / f"demo_{args.orders}.db"
    if not base.exists():
        info = _run(FILL, str(base), str(args.orders))
        con = sqlite3.connect(base)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        print(f"filled {info['records']:,} records in {info['s']:.1f} s ({base})")
    runs, floors = [], []
    for i in range(args.repeat):
        db = _fresh(base, work / f"run{i}.db")
        runs.append(_run(RUN, str(db)))
        db = _fresh(base, db)
        floors.append(_run(FLOOR, str(db), str(runs[-1]["groups"]), str(runs[-1]["members"])))
        _drop(db)
    med = statistics.median
    last = runs[-1]
    print()
    print(
        f"| reconcile {args.orders:,} orders ({last['candidates']:,} open records), SQLite, "
        f"median of {args.repeat} | value |"
    )
    print("|---|---:|")
    print(f"| read open records + tokens (s) | {med(r['timings']['load'] for r in runs):.2f} |")
    print(f"| rule cascade (s) | {med(r['timings']['match'] for r in runs):.2f} |")
    print(
        f"| write matches, members, states, cases (s) | "
        f"{med(r['timings'].get('write', 0) for r in runs):.2f} |"
    )
    print(f"| commit (s) | {med(r['commit'] for r in runs):.2f} |")
    print(f"| **end to end (s)** | **{med(r['s'] for r in runs):.2f}** |")
    floor = med(f["read"] + f["write"] for f in floors)
    print(
        f"| floor: raw fetchall of the open rows + raw executemany of the same matches,"
        f" members and state updates (s) | {floor:.2f} |"
    )
    print(f"| ratio end to end / floor | {med(r['s'] for r in runs) / floor:.2f}x |")
    print(f"| peak RSS (MB) | {med(r['rss_mb'] for r in runs):.0f} |")
    print(
        f"| auto matches / suggested / unmatched left | {last['auto']:,} / "
        f"{last['suggested']:,} / {last['left']:,} |"
    )
    print()
    for name, auto, sugg, sec in last["rules"]:
        print(f"  {name:<28} auto {auto:>9,}  suggested {sugg:>7,}  {sec:6.2f} s")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
