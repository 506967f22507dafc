"""Benchmark: representment package (cover + 20 evidence files) and the disputes queue at 100k.

Package: 10 PDFs (2-4 text pages each), 5 phone photos (JPEG 3024x4032) and 5 screenshots
(PNG 1920x1080) attached to one case; measures the full `export_package` (pre-flight render,
checks, ZIP) and the PDF render alone, median of 3. Target <= 2 s.

Queue: 100,000 disputes (mixed PSPs, networks, stages, statuses, currencies, due dates);
measures the first page of the queue in urgency order (what the Disputes page opens with),
filtered pages, the next keyset page, the header counts and claim-next, median of 5.
Target <= 200 ms for the page open. Runs on SQLite, and on PostgreSQL when reachable.

    .venv/bin/python bench/bench_disputes.py [--cases 100000] [--pg URL] [--no-pg]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workstation import config
from workstation.db import Database
from workstation.exporters.package import render_pdf
from workstation.models import Dispute
from workstation.services.common.users import ensure_user
from workstation.services.disputes.evidence import add_evidence
from workstation.services.disputes.intake import upsert_disputes
from workstation.services.disputes.package import build_package_data, export_package
from workstation.services.disputes.queue import (
    QueueFilters,
    claim_next,
    count_disputes,
    list_disputes,
)

PG_URL = os.environ.get("WORKSTATION_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def median_ms(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


# ----------------------------------------------------------------------------- evidence files


def text_pdf(pages: int, seed: int) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    rng = random.Random(seed)
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    for p in range(pages):
        c.setFont("Helvetica-Bold", 14)
        c.drawString(56, 780, f"Order confirmation ORD-{seed:05d}, page {p + 1}")
        c.setFont("Helvetica", 10)
        for line in range(60):
            words = " ".join(
                rng.choice(["widget", "blue", "shipped", "paid", "EUR"]) for _ in range(12)
            )
            c.drawString(56, 750 - line * 12, f"{line + 1:02d}  {words}")
        c.showPage()
    c.save()
    return buf.getvalue()


def photo(w: int, h: int, seed: int, fmt: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    img = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x, y = rng.randrange(w), rng.randrange(h)
        r = rng.randrange(20, max(21, w // 6))
        color = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=color)
    for i in range(30):
        draw.text((40, 40 + i * 30), f"tracking 1Z999AA1012345678{i} delivered", fill=(0, 0, 0))
    if fmt == "JPEG":
        img = img.filter(ImageFilter.GaussianBlur(1))
    buf = io.BytesIO()
    img.save(buf, format=fmt, quality=90)
    return buf.getvalue()


def bench_package(tmp: Path) -> list[tuple[str, str, str]]:
    db = Database(f"sqlite:///{tmp / 'package.db'}")
    files: list[tuple[str, bytes, str]] = []
    for i in range(10):
        files.append((f"order_{i:02d}.pdf", text_pdf(2 + i % 3, i), "receipt"))
    for i in range(5):
        files.append((f"photo_{i}.jpg", photo(3024, 4032, i, "JPEG"), "proof_of_delivery"))
    for i in range(5):
        files.append((f"screen_{i}.png", photo(1920, 1080, 10 + i, "PNG"), "access_activity_log"))
    with db.session() as s:
        config.put(s, "evidence.max_file_bytes", 20 * 2**20)
        rep = upsert_disputes(
            s,
            [
                {
                    "psp": "stripe",
                    "psp_dispute_id": "dp_BENCH",
                    "network": "visa",
                    "reason_code": "13.1",
                    "stage": "chargeback",
                    "status": "needs_response",
                    "amount_minor": 129_900,
                    "currency": "EUR",
                    "due_by": dt.datetime.now(dt.UTC) + dt.timedelta(days=5),
                    "charge_ref": "ch_BENCH",
                }
            ],
            "bench",
        )
        did = rep.dispute_ids[0]
        for name, data, kind in files:
            add_evidence(s, did, data, name, kind=kind, actor="bench")
        s.execute(
            text("UPDATE disputes SET rebuttal = :r WHERE id = :i"),
            {"r": "Delivered and signed for; see the carrier confirmation and photos.", "i": did},
        )
    total_in = sum(len(d) for _, d, _ in files)
    out = tmp / "pkg.zip"

    def full() -> Any:
        with db.session() as s:
            return export_package(s, did, out, actor="bench", force=True)

    def render_only() -> Any:
        with db.session() as s:
            return render_pdf(build_package_data(s, did))

    full_ms, result = median_ms(full, 3)
    render_ms, pdf = median_ms(render_only, 3)
    db.dispose()
    return [
        ("package: evidence in", f"{len(files)} files", f"{total_in / 1e6:.1f} MB"),
        ("package: export (pre-flight + PDF + ZIP)", f"{full_ms:.0f} ms", "target <= 2000 ms"),
        ("package: PDF render only", f"{render_ms:.0f} ms", f"{pdf.pages} pages"),
        (
            "package: output",
            f"PDF {len(pdf.data) / 1e6:.1f} MB",
            f"ZIP {out.stat().st_size / 1e6:.1f} MB, pre-flight ok={result.report.ok}",
        ),
    ]


# ----------------------------------------------------------------------------- queue


def disputes(n: int, now: dt.datetime) -> list[dict[str, Any]]:
    rng = random.Random(7)
    nets = [
        ("Visa", "10.4", "fraud"),
        ("Visa", "13.1", "consumer_dispute"),
        ("Mastercard", "4837", "fraud"),
        ("Mastercard", "4853", "consumer_dispute"),
        ("Amex", "C08", "consumer_dispute"),
        ("Discover", "UA02", "fraud"),
    ]
    rows = []
    for i in range(n):
        net, code, cat = rng.choice(nets)
        rows.append(
            {
                "psp": rng.choice(("stripe", "adyen", "braintree")),
                "psp_dispute_id": f"dp_{i:09d}",
                "network": net,
                "reason_code": code,
                "reason_category": cat,
                "stage": rng.choice(("inquiry", "chargeback", "chargeback", "pre_arbitration")),
                "status": rng.choice(("needs_response",) * 3 + ("under_review", "won", "lost")),
                "amount_minor": rng.randint(500, 500_000),
                "currency": rng.choice(("USD", "EUR", "GBP", "JPY")),
                "due_by": now + dt.timedelta(hours=rng.uniform(-120, 900)),
                "opened_at": now - dt.timedelta(days=rng.uniform(1, 90)),
                "evidence_locked": False,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


def bench_queue(label: str, db: Database, n: int) -> list[tuple[str, str, str]]:
    now = dt.datetime.now(dt.UTC)
    rows = disputes(n, now)
    t = time.perf_counter()
    with db.session() as s:
        for i in range(0, n, 20_000):
            s.execute(insert(Dispute), rows[i : i + 20_000])
        ensure_user(s, "bench")
    load_s = time.perf_counter() - t
    with db.engine.connect() as c:
        if db.dialect == "postgresql":
            c.execute(text("ANALYZE disputes"))
        else:
            c.execute(text("ANALYZE"))
        c.commit()
    out = [(f"{label}: load {n:,} disputes", f"{load_s:.1f} s", "Core insert")]

    def page(f: QueueFilters | None = None, **kw: Any) -> Callable[[], Any]:
        def run() -> Any:
            with db.session() as s:
                return list_disputes(s, f, limit=100, **kw)

        return run

    first_ms, first = median_ms(page(), 5)
    out.append(
        (f"{label}: queue first page (urgency, 100 rows)", f"{first_ms:.1f} ms", "target <= 200 ms")
    )
    early = now - dt.timedelta(days=6)  # nothing overdue yet: all 50k open cases are scored
    ms, _ = median_ms(page(now=early), 5)
    out.append((f"{label}: first page, no case overdue (worst case)", f"{ms:.1f} ms", ""))
    ms, _ = median_ms(page(QueueFilters(status=["needs_response"])), 5)
    out.append((f"{label}: first page, status needs_response", f"{ms:.1f} ms", ""))
    ms, _ = median_ms(page(QueueFilters(network=["Visa"], stage=["chargeback"])), 5)
    out.append((f"{label}: first page, Visa chargebacks", f"{ms:.1f} ms", ""))
    ms, _ = median_ms(page(QueueFilters(due_within_days=2)), 5)
    out.append((f"{label}: first page, due within 2 days", f"{ms:.1f} ms", ""))
    ms, _ = median_ms(page(sort="due_by"), 5)
    out.append((f"{label}: first page sorted by due date", f"{ms:.1f} ms", ""))
    ms, _ = median_ms(page(after_key=first.next_key), 5)
    out.append((f"{label}: next keyset page", f"{ms:.1f} ms", ""))

    def counts() -> Any:
        with db.session() as s:
            return count_disputes(s)

    ms, c = median_ms(counts, 5)
    out.append((f"{label}: header counts", f"{ms:.1f} ms", f"{c['overdue']:,} overdue"))

    def claim() -> Any:
        with db.session() as s:
            return claim_next(s, "bench")

    ms, _ = median_ms(claim, 5)
    out.append((f"{label}: claim next", f"{ms:.1f} ms", ""))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--pg", default=PG_URL)
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    table: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        table += bench_package(tmp)
        db = Database(f"sqlite:///{tmp / 'queue.db'}")
        table += bench_queue("SQLite", db, args.cases)
        db.dispose()
    if not args.no_pg:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        try:
            admin = create_engine(args.pg, connect_args={"connect_timeout": 3})
            with admin.begin() as c:
                c.execute(text(f"CREATE SCHEMA {schema}"))
        except Exception as exc:
            print(f"(PostgreSQL skipped: {exc.__class__.__name__})")
        else:
            try:
                db = Database(f"{args.pg}?options=-csearch_path%3D{schema}")
                table += bench_queue("PostgreSQL", db, args.cases)
                db.dispose()
            finally:
                with admin.begin() as c:
                    c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()
    width = max(len(r[0]) for r in table)
    print(f"{'measure':<{width}}  {'value':>14}  note")
    for name, value, note in table:
        print(f"{name:<{width}}  {value:>14}  {note}")


if __name__ == "__main__":
    main()
