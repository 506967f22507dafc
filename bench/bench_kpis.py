"""Benchmark: dashboard KPIs (cold and warm cache), chart data and the management workbook.

Builds (once, cached in a file) a store of ~1M records and 10k disputes: shop orders, Stripe and
Adyen charges grouped into daily payouts, payout lines, bank credits matched to them, order <->
charge matches, open exceptions with cases and disputes over two months. Then measures:
- the one-off rollup of the imported batches (what the first KPI call after an import pays);
- every dashboard KPI with the in-process cache cold (fresh engine) and warm;
- each chart's data; the management workbook for one month.

    .venv/bin/python bench/bench_kpis.py [--orders 500000] [--db PATH] [--rebuild]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workstation.db import Database
from workstation.importers.base import AccountInfo, ParseResult, ensure_columns
from workstation.services.analytics import (
    catalogue,
    dispute_metrics,
    reconciliation,
    rollups,
    scheme_ratios,
    settlement,
    throughput,
)
from workstation.services.analytics.catalogue import export_kpis
from workstation.services.imports.ingest import store

START = dt.date(2026, 2, 1)
DAYS = 59  # February and March 2026
BRANDS = np.array(["visa", "mc", "amex", "discover"])
BRAND_P = [0.55, 0.35, 0.07, 0.03]
CATEGORIES = {
    "Visa": [("10.4", "fraud"), ("13.1", "consumer_dispute"), ("12.6.1", "processing_error")],
    "Mastercard": [
        ("4837", "fraud"),
        ("4853", "cardholder_dispute"),
        ("4834", "point_of_interaction_error"),
    ],
    "Amex": [("F29", "fraud"), ("C08", "card_member_dispute")],
    "Discover": [("UA02", "fraud"), ("RG", "cardholder_dispute")],
}


def _objects(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain object columns (the shape importers hand to the ingest path)."""
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            df[c] = pd.Series(df[c].tolist(), index=df.index, dtype=object)
    return df


def _frame(account: str, **cols: Any) -> pd.DataFrame:
    df = pd.DataFrame(cols)
    df.insert(0, "line_no", np.arange(1, len(df) + 1))
    df.insert(1, "account", account)
    return _objects(df)


def fill(db: Database, orders: int, seed: int = 11) -> dict[str, int]:
    """Write the benchmark store; returns counts."""
    rng = np.random.default_rng(seed)
    n = orders
    day = np.sort(rng.integers(0, DAYS, n))
    dates = pd.Series(pd.to_datetime(START) + pd.to_timedelta(day, unit="D")).dt.date
    amount = rng.integers(500, 25_000, n).astype(np.int64)
    psp = np.where(rng.random(n) < 0.6, "stripe", "adyen")
    brand = BRANDS[rng.choice(4, n, p=BRAND_P)]
    fee = amount * 14 // 1000 + 25
    pay_day = day + 2
    payout_ref = np.char.add(np.char.add(psp.astype(str), "-po-"), pay_day.astype(str))
    order_ids = np.char.add("ORD-", np.arange(1_000_000, 1_000_000 + n).astype(str))
    shop = _frame(
        "shop",
        external_id=order_ids,
        booked_on=dates,
        amount_minor=amount,
        currency="EUR",
        kind="order",
    )
    results = [
        ParseResult("bench", {"shop": AccountInfo("shop", "ledger", None, "Shop orders")}, shop)
    ]
    payouts: list[dict[str, Any]] = []
    for name, label in (("stripe", "Stripe EUR"), ("adyen", "Adyen EUR")):
        sel = psp == name
        raw_key = "card_brand" if name == "stripe" else "Payment Method"
        raws = [json.dumps({raw_key: b, "gross": int(a)}) for b, a in zip(brand[sel], amount[sel])]
        ch = pd.DataFrame(
            {
                "external_id": np.char.add(f"{name[:2]}_ch_", np.flatnonzero(sel).astype(str)),
                "booked_on": dates[sel].to_numpy(),
                "amount_minor": amount[sel],
                "fee_minor": fee[sel],
                "net_minor": amount[sel] - fee[sel],
                "payout_ref": payout_ref[sel],
                "raw": raws,
                "kind": "charge",
            }
        )
        po = ch.groupby("payout_ref", as_index=False)["net_minor"].sum()
        po["day"] = [int(r.rsplit("-", 1)[1]) for r in po["payout_ref"]]
        po_lines = pd.DataFrame(
            {
                "external_id": po["payout_ref"],
                "booked_on": [START + dt.timedelta(days=d) for d in po["day"]],
                "amount_minor": -po["net_minor"],
                "fee_minor": 0,
                "net_minor": -po["net_minor"],
                "payout_ref": po["payout_ref"],
                "raw": None,
                "kind": "payout",
            }
        )
        frame = pd.concat([ch, po_lines], ignore_index=True)
        frame.insert(0, "line_no", np.arange(1, len(frame) + 1))
        frame.insert(1, "account", name)
        frame["currency"] = "EUR"
        results.append(ParseResult("bench", {name: AccountInfo(name, "psp", name, label)}, frame))
        for r in po.itertuples():
            payouts.append(
                {"ref": r.payout_ref, "day": r.day, "net": int(r.net_minor), "psp": name}
            )
    bank_days = [p["day"] + int(rng.integers(0, 3)) for p in payouts]
    other = 3000
    bank = _frame(
        "bank",
        external_id=[f"BNK{i:07d}" for i in range(len(payouts) + other)],
        booked_on=[START + dt.timedelta(days=d) for d in bank_days]
        + [START + dt.timedelta(days=int(d)) for d in rng.integers(0, DAYS, other)],
        amount_minor=[p["net"] for p in payouts] + list(-rng.integers(1000, 900_000, other)),
        currency="EUR",
        description=[f"PAYOUT {p['ref']}" for p in payouts] + ["SUPPLIER"] * other,
        kind=["bank_credit"] * len(payouts) + ["bank_debit"] * other,
    )
    results.append(
        ParseResult("bench", {"bank": AccountInfo("bank", "bank", "bank", "Bank EUR")}, bank)
    )
    batch_ids: dict[str, int] = {}
    with db.session() as s:
        for res in results:
            key = next(iter(res.accounts))
            res.records = _objects(ensure_columns(res.records))
            r = store(s, res, file_name=f"bench-{key}", sha256=f"bench-{key}-{n}", actor="bench")
            assert r.batch_id is not None
            batch_ids[key] = r.batch_id
    with db.engine.begin() as c:
        ids = {
            k: np.array(
                [
                    row[0]
                    for row in c.execute(
                        text("SELECT id FROM records WHERE batch_id = :b ORDER BY id"), {"b": b}
                    )
                ]
            )
            for k, b in batch_ids.items()
        }
        c.execute(text("UPDATE records SET match_state = 'matched'"))
        # order <-> charge matches (3 % of orders stay unmatched, 1 % suggested)
        order_state = rng.choice(3, n, p=[0.96, 0.03, 0.01])
        charge_ids = np.empty(n, dtype=np.int64)
        for name in ("stripe", "adyen"):
            sel = np.flatnonzero(psp == name)
            charge_ids[sel] = ids[name][: sel.size]
        matched = np.flatnonzero(order_state == 0)
        first_match = 1
        mrows = [
            (first_match + i, "auto", "reference", 100, 0, "EUR", "engine", "2026-04-01 00:00:00")
            for i in range(matched.size)
        ]
        members = []
        for i, o in enumerate(matched):
            members.append((first_match + i, int(ids["shop"][o]), "order", int(amount[o])))
            members.append((first_match + i, int(charge_ids[o]), "psp", int(amount[o])))
        # payout <-> bank credit matches
        po_ids = {}
        for name in ("stripe", "adyen"):
            rows = c.execute(
                text("SELECT id, payout_ref FROM records WHERE batch_id = :b AND kind = 'payout'"),
                {"b": batch_ids[name]},
            )
            po_ids.update({ref: rid for rid, ref in rows})
        base = first_match + matched.size
        for j, p in enumerate(payouts):
            mid = base + j
            mrows.append((mid, "auto", "payout", 100, 0, "EUR", "engine", "2026-04-01 00:00:00"))
            members.append((mid, int(ids["bank"][j]), "bank", p["net"]))
            members.append((mid, int(po_ids[p["ref"]]), "psp", -p["net"]))
        c.exec_driver_sql(
            "INSERT INTO matches (id, status, rule, confidence, difference_minor, currency, "
            "created_by, created_at) VALUES (?,?,?,?,?,?,?,?)",
            mrows,
        )
        c.exec_driver_sql(
            "INSERT INTO match_members (match_id, record_id, side, amount_minor) VALUES (?,?,?,?)",
            members,
        )
        unmatched = np.flatnonzero(order_state != 0)
        state = np.where(order_state[unmatched] == 1, "unmatched", "suggested")
        upd = [(st, int(ids["shop"][o])) for st, o in zip(state, unmatched)]
        upd += [(st, int(charge_ids[o])) for st, o in zip(state, unmatched)]
        other_ids = ids["bank"][len(payouts) :]
        upd += [("unmatched", int(i)) for i in other_ids]
        c.exec_driver_sql("UPDATE records SET match_state = ? WHERE id = ?", upd)
        # users and exception cases
        users = [f"agent{i}" for i in range(1, 6)]
        c.exec_driver_sql(
            "INSERT INTO users (login, display_name, role, active, created_at) "
            "VALUES (?, ?, 'agent', 1, '2026-01-01 00:00:00')",
            [(u, u.title()) for u in users],
        )
        uid = {u: i for i, u in c.execute(text("SELECT id, login FROM users"))}
        case_rows = []
        for k, rid in enumerate(np.concatenate([ids["shop"][unmatched], other_ids])):
            resolved = rng.random() < 0.4
            d = START + dt.timedelta(days=int(rng.integers(0, DAYS)))
            case_rows.append(
                (
                    int(rid),
                    "resolved" if resolved else "open",
                    uid[users[k % 5]] if rng.random() < 0.8 else None,
                    "EUR",
                    f"{d} 12:00:00",
                    f"{d} 12:00:00",
                    f"{d} 15:00:00" if resolved else None,
                    int(rng.random() < 0.07),
                )
            )
        c.exec_driver_sql(
            "INSERT INTO exception_cases (record_id, status, priority, assignee_id, "
            "amount_at_risk_minor, currency, created_at, updated_at, resolved_at, reopen_count) "
            "VALUES (?, ?, 0, ?, 0, ?, ?, ?, ?, ?)",
            case_rows,
        )
        # 10k disputes
        k = min(10_000, n // 3)
        pick = rng.choice(n, k, replace=False)
        dispute_rows = []
        for j, o in enumerate(pick):
            net = {"visa": "Visa", "mc": "Mastercard", "amex": "Amex", "discover": "Discover"}[
                brand[o]
            ]
            code, cat = CATEGORIES[net][int(rng.integers(0, len(CATEGORIES[net])))]
            stage = "inquiry" if rng.random() < 0.1 else "chargeback"
            status = str(
                rng.choice(
                    ["needs_response", "under_review", "won", "lost", "accepted", "expired"],
                    p=[0.2, 0.2, 0.25, 0.2, 0.1, 0.05],
                )
            )
            opened = dt.datetime.combine(
                START + dt.timedelta(days=int(day[o]) + int(rng.integers(1, 20))),
                dt.time(10),
            )
            due = opened + dt.timedelta(days=int(rng.integers(7, 21)))
            dispute_rows.append(
                (
                    psp[o],
                    f"dp_{j:06d}",
                    net,
                    code,
                    cat,
                    stage,
                    status,
                    int(amount[o]),
                    "EUR",
                    opened.isoformat(sep=" "),
                    due.isoformat(sep=" "),
                    opened.isoformat(sep=" "),
                    opened.isoformat(sep=" "),
                )
            )
        c.exec_driver_sql(
            "INSERT INTO disputes (psp, psp_dispute_id, network, reason_code, reason_category, "
            "stage, status, amount_minor, currency, opened_at, due_by, created_at, updated_at, "
            "evidence_locked) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,0)",
            dispute_rows,
        )
        total = c.execute(text("SELECT COUNT(*) FROM records")).scalar_one()
    return {"records": int(total), "disputes": k, "matches": len(mrows)}


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Median wall time of `repeat` runs, and the last result."""
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), value


def cold(url: str, fn: Callable[[Any], Any], repeat: int = 3) -> tuple[float, Any]:
    """Median of `repeat` runs, each on a fresh engine with an empty KPI cache."""
    times, value = [], None
    for _ in range(repeat):
        catalogue.clear_cache()
        db = Database(url)
        with db.session() as s:
            t, value = timed(lambda: fn(s))
        db.dispose()
        times.append(t)
    return float(np.median(times)), value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=500_000)  # ~1M records
    ap.add_argument("--db", default=None)
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    path = Path(args.db or Path(tempfile.gettempdir()) / f"bench_kpis_{args.orders}.db")
    if args.rebuild or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        db = Database(f"sqlite:///{path}")
        t, counts = timed(lambda: fill(db, args.orders))
        print(f"filled {path} in {t:.1f} s: {counts}")
        db.dispose()
    url = f"sqlite:///{path}"
    rows: list[tuple[str, str, float]] = []

    db = Database(url)
    with db.session() as s:
        s.execute(text("DELETE FROM kpi_rollups"))
    with db.session() as s:
        t, built = timed(lambda: rollups.ensure_rollups(s))
        rows.append(("rollup of the imported batches (once per import)", f"{built} batches", t))
        nrec = s.execute(text("SELECT COUNT(*) FROM records")).scalar_one()
        ndisp = s.execute(text("SELECT COUNT(*) FROM disputes")).scalar_one()
    db.dispose()

    date_from, date_to = dt.date(2026, 3, 1), dt.date(2026, 3, 31)
    now = dt.datetime(2026, 3, 25, 12, tzinfo=dt.UTC)
    calls: list[tuple[str, Callable[[Any], Any]]] = [
        (
            "match rate by source/day",
            lambda s: reconciliation.match_rate(s, date_from, date_to, grain="day"),
        ),
        ("unmatched ageing", lambda s: reconciliation.unmatched_ageing(s, None, date_to)),
        ("settlement lag", lambda s: settlement.settlement_lag(s, date_from, date_to)),
        ("fees by PSP and method", lambda s: settlement.fees(s, date_from, date_to)),
        ("Visa VAMP", lambda s: scheme_ratios.vamp(s, date_from, date_to)),
        ("Mastercard ECP", lambda s: scheme_ratios.ecp(s, date_from, date_to)),
        ("disputes by category", lambda s: dispute_metrics.dispute_stats(s, date_from, date_to)),
        ("disputes due in 7 days", lambda s: dispute_metrics.disputes_due(s, as_of=now)),
        ("agent throughput", lambda s: throughput.agent_throughput(s, date_from, date_to)),
    ]
    for label, call in calls:
        t, _ = cold(url, call)
        rows.append((f"cold: {label}", "", t))

    t, dash = cold(url, lambda s: catalogue.dashboard(s, date_from, date_to, now=now))
    rows.append(("dashboard, all KPIs, cache cold (fresh engine)", "target <= 1 s", t))
    db = Database(url)
    with db.session() as s:
        catalogue.dashboard(s, date_from, date_to, now=now)
        t, _ = timed(lambda: catalogue.dashboard(s, date_from, date_to, now=now), repeat=5)
        rows.append(("dashboard, all KPIs, cache warm", "", t))
        for name in catalogue.chart_names():
            t, _ = timed(lambda: catalogue.chart_data(s, name, date_from, date_to), repeat=3)  # noqa: B023
            rows.append((f"chart data after the dashboard: {name}", "", t))
    db.dispose()

    out = Path(tempfile.gettempdir()) / "bench_kpis.xlsx"
    t, _ = cold(url, lambda s: export_kpis(s, out, date_from, date_to))
    rows.append(("management workbook, one month, cache cold", "target <= 5 s", t))

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\nstore: {nrec:,} records, {ndisp:,} disputes (SQLite, {path}); load {load}")
    print("median of 3 runs (warm: of 5); cold = fresh engine and empty KPI cache")
    print(f"{'step':58} {'note':18} {'seconds':>8}")
    for label, note, secs in rows:
        print(f"{label:58} {note:18} {secs:8.3f}")
    print(f"\nheadlines: {[(h.key, str(h.value)[:8]) for h in dash.headlines]}")


if __name__ == "__main__":
    main()
