"""Benchmark inputs from the demo generator: a Stripe report CSV and/or a filled database.

    python bench/gen_dataset.py --stripe-csv PATH [--rows 1000000] [--seed 7]
    python bench/gen_dataset.py --db URL [--orders 1000000] [--seed 7] [--force]

`--stripe-csv` writes a Stripe itemized payout reconciliation report (balance_transaction_id,
created_utc, ..., payment_metadata[order_id]; major-unit amounts like "12.34") with exactly
`--rows` lines, all settled by Stripe. `--db` stores the demo month (orders, Stripe and Adyen lines
with their payouts, bank lines, disputes) through the same path as `workstation demo`. Both print a
small timing table.
"""

from __future__ import annotations

import argparse
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from workstation.db import Database
from workstation.services.demo.merchant_month import build_demo, load_demo, stripe_payout_report


def stripe_report(rows: int, seed: int) -> tuple[pa.Table, float]:
    """Exactly `rows` report lines; returns the table and the generation seconds."""
    t = time.perf_counter()
    orders = rows
    while True:
        table = stripe_payout_report(build_demo(orders, seed=seed, stripe_share=1.0))
        if table.num_rows >= rows:
            break
        orders += 2 * (rows - table.num_rows) + 10
    excess = table.num_rows - rows
    if excess:
        # Drop plain charges (never refunded or disputed) from the end: the report stays
        # consistent because payout totals are not columns of this report.
        category = table.column("reporting_category")
        intents = table.column("payment_intent_id")
        followed = pc.is_in(
            intents, value_set=pc.unique(intents.filter(pc.not_equal(category, "charge")))
        )
        plain = pc.and_(pc.equal(category, "charge"), pc.invert(pc.fill_null(followed, False)))
        drop = np.flatnonzero(plain.to_numpy(zero_copy_only=False))[-excess:]
        keep = np.ones(table.num_rows, dtype=bool)
        keep[drop] = False
        table = table.filter(pa.array(keep))
    return table, time.perf_counter() - t


def write_stripe_csv(path: Path, rows: int, seed: int) -> list[tuple[str, str]]:
    table, built = stripe_report(rows, seed)
    t = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unquoted like Stripe's own exports; the generator never puts a comma, quote or line break
    # into a value, which is checked rather than assumed.
    for name in table.column_names:
        bad = pc.match_substring_regex(table.column(name), r'[,"\r\n]')
        if pc.any(bad).as_py():
            raise ValueError(f"column {name} has a value that needs quoting")
    with path.open("wb") as fh:
        fh.write((",".join(table.column_names) + "\n").encode())
        options = pv.WriteOptions(include_header=False, quoting_style="none")
        pv.write_csv(table, fh, write_options=options)
    written = time.perf_counter() - t
    return [
        ("Stripe report rows", f"{table.num_rows:,}"),
        ("generate (s)", f"{built:.2f}"),
        ("write CSV (s)", f"{written:.2f}"),
        ("file (MiB)", f"{path.stat().st_size / 2**20:.0f}"),
    ]


def fill_database(url: str, orders: int, seed: int, force: bool) -> list[tuple[str, str]]:
    stamps: list[tuple[float, str]] = []
    db = Database(url)
    t0 = time.perf_counter()
    with db.session() as session:
        summary = load_demo(
            session,
            orders=orders,
            seed=seed,
            actor="bench",
            force=force,
            progress=lambda done, total, text: stamps.append((time.perf_counter(), text)),
        )
        stamps.append((time.perf_counter(), "Committing"))
    end = time.perf_counter()
    db.dispose()
    stamps.append((end, "end"))
    out = [
        ("orders", f"{orders:,}"),
        ("records", f"{sum(summary.records.values()):,}"),
        ("disputes", f"{summary.disputes:,}"),
    ]
    for (start, text), (stop, _) in pairwise(stamps):
        if text != "Done":
            out.append((f"{text} (s)", f"{stop - start:.2f}"))
    out.append(("total (s)", f"{end - t0:.2f}"))
    return out


def _table(title: str, rows: list[tuple[str, str]]) -> str:
    lines = [f"| {title} | |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--stripe-csv", type=Path, metavar="PATH", help="write the Stripe report here")
    ap.add_argument("--rows", type=int, default=1_000_000, help="report lines (default 1M)")
    ap.add_argument("--db", metavar="URL", help="fill this database (SQLAlchemy URL)")
    ap.add_argument("--orders", type=int, default=1_000_000, help="orders (default 1M)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--force", action="store_true", help="add to a database that has records")
    args = ap.parse_args()
    if not args.stripe_csv and not args.db:
        ap.error("give --stripe-csv PATH and/or --db URL")
    if args.stripe_csv:
        print(_table(str(args.stripe_csv), write_stripe_csv(args.stripe_csv, args.rows, args.seed)))
    if args.db:
        print(_table(args.db, fill_database(args.db, args.orders, args.seed, args.force)))


if __name__ == "__main__":
    main()
