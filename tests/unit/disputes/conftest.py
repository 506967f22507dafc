"""Fixtures of the dispute desk tests: stored records, sample paths, generated evidence files."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workstation.db import Database
from workstation.importers.base import AccountInfo, ParseResult, frame_from_rows
from workstation.services.disputes.intake import relink_for_batch
from workstation.services.imports.ingest import store

STRIPE_ID = "dp_1Pgc71B7WZ01zgkWMevJiAUx"
STRIPE_CHARGE = "ch_1PgafuB7WZ01zgkWXYmPNZs8"
StoreRows = Callable[..., int]


def record(
    line: int,
    kind: str,
    amount: int,
    *,
    day: dt.date,
    external_id: str | None = None,
    currency: str = "USD",
    fee: int | None = None,
    account: str = "psp",
    raw: dict[str, Any] | None = None,
    **refs: str,
) -> dict[str, Any]:
    """One line for `store`; keyword `ref_<kind>=value` adds reference columns."""
    row: dict[str, Any] = {
        "line_no": line,
        "account": account,
        "external_id": external_id,
        "booked_on": day,
        "amount_minor": amount,
        "currency": currency,
        "fee_minor": fee,
        "net_minor": None if fee is None else amount - fee,
        "kind": kind,
        "description": f"{kind} line {line}",
        "raw": raw or {"line": line},
    }
    row.update(refs)
    return row


ACCOUNTS = {
    "psp": AccountInfo(key="psp", kind="psp", provider="stripe", name="Stripe USD"),
    "ledger": AccountInfo(key="ledger", kind="ledger", name="Shop orders"),
    "bank": AccountInfo(key="bank", kind="bank", account_number="US0001", name="Bank USD"),
}


@pytest.fixture
def store_rows() -> StoreRows:
    """Store hand-made lines as one import batch and re-link disputes, like the import service."""
    counter = iter(range(1, 10_000))

    def run(db: Database, rows: list[dict[str, Any]]) -> int:
        used = {r["account"] for r in rows}
        result = ParseResult(
            format="test",
            accounts={k: v for k, v in ACCOUNTS.items() if k in used},
            records=frame_from_rows(rows),
        )
        with db.session() as s:
            stored = store(s, result, file_name="rows.csv", sha256=f"sha{next(counter)}", actor="t")
            assert stored.batch_id is not None
            relink_for_batch(s, stored.batch_id, stored.new)
            return stored.batch_id

    return run


@pytest.fixture
def stripe_dispute(samples: Path) -> Path:
    return samples / "disputes" / "stripe" / "stripe_api_fixture_dispute.json"


@pytest.fixture
def adyen_chargeback(samples: Path) -> Path:
    return samples / "disputes" / "adyen" / "adyen_webhook_chargeback.json"


@pytest.fixture
def stripe_variant(stripe_dispute: Path, tmp_path: Path) -> Callable[..., Path]:
    """A copy of the Stripe sample with fields changed (a newer export of the same case)."""

    def make(name: str, **changes: Any) -> Path:
        obj = json.loads(stripe_dispute.read_text())
        for key, value in changes.items():
            target = obj
            parts = key.split("__")
            for p in parts[:-1]:
                target = target[p]
            target[parts[-1]] = value
        path = tmp_path / name
        path.write_text(json.dumps(obj, indent=1))
        return path

    return make


def make_pdf(pages: int = 1, text: str = "Evidence page") -> bytes:
    """A small real PDF with `pages` pages of text."""
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf)
    for i in range(pages):
        c.drawString(72, 720, f"{text} {i + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def make_image(fmt: str = "PNG", size: tuple[int, int] = (400, 300)) -> bytes:
    """A small real PNG or JPEG."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, (240, 240, 250))
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 20, size[0] - 20, size[1] - 20), outline=(20, 40, 160), width=4)
    draw.text((40, 40), "delivery photo", fill=(0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def make_xlsx() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["login_at", "ip", "event"])
    ws.append(["2024-07-01 10:00", "203.0.113.7", "download"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


EML = (
    b"From: Jane Doe <jane@example.com>\r\nTo: support@shop.example\r\n"
    b"Subject: Order ORD-1001 arrived\r\nDate: Mon, 1 Jul 2024 10:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Thanks, the parcel arrived today and everything works.\r\n"
)


@pytest.fixture
def files() -> dict[str, bytes]:
    """One file of every accepted type."""
    return {
        "receipt.pdf": make_pdf(2, "Receipt"),
        "photo.png": make_image("PNG"),
        "label.jpg": make_image("JPEG"),
        "notes.txt": b"Customer called on 2024-07-02.\nCard 4111 1111 1111 1111 was used.\n",
        "mail.eml": EML,
        "log.csv": (
            b"at,ip,event\n2024-07-01 10:00,203.0.113.7,login\n"
            b"2024-07-01 10:05,203.0.113.7,download\n"
        ),
        "access.xlsx": make_xlsx(),
    }
