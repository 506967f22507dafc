"""Screenshots of the dispute desk into docs/screenshots/ (offscreen): the queue and an open case.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/screenshots_disputes.py [--out DIR]

Builds a temporary store with the demo month plus the dispute sample files, assigns a few cases,
attaches evidence to the most urgent one and writes its rebuttal, then grabs the main window on
the Disputes page (queue alone; queue with the case open on its Evidence tab).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QWidget
from sqlalchemy import select

from workstation.db import Database
from workstation.models import Dispute
from workstation.services.common.users import ensure_user
from workstation.services.demo.merchant_month import load_demo
from workstation.services.disputes.evidence import add_evidence_file, save_draft
from workstation.services.disputes.queue import QueueFilters, assign, list_disputes
from workstation.services.imports.file_import import import_file
from workstation.views.app import application
from workstation.views.context import AppContext
from workstation.views.main_window import MainWindow

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "samples" / "disputes"
ACTOR = "a.clerk"


def settle(until: Callable[[], bool] = lambda: True, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    for _ in range(5):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    while not until():
        if time.monotonic() > end:
            raise TimeoutError("the window did not settle")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def grab(widget: QWidget, path: Path) -> None:
    settle()
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path}")


def delivery_photo(path: Path) -> Path:
    """A stand-in for a carrier's proof-of-delivery photo."""
    image = QImage(900, 600, QImage.Format.Format_RGB32)
    image.fill(QColor("#e9eef4"))
    p = QPainter(image)
    p.fillRect(60, 60, 780, 480, QColor("#ffffff"))
    p.setPen(QColor("#1f2a37"))
    font = QFont()
    font.setPointSize(26)
    font.setBold(True)
    p.setFont(font)
    p.drawText(100, 150, "PROOF OF DELIVERY")
    font.setPointSize(16)
    font.setBold(False)
    p.setFont(font)
    for i, line in enumerate(
        (
            "Tracking  1Z 999 AA1 01 2345 6784",
            "Delivered  2026-10-30 14:12, front door",
            "Signed by  L. HOFMANN",
            "Address  Bahnhofstrasse 146, 1010 Wien, AT",
        )
    ):
        p.drawText(100, 230 + i * 60, line)
    p.end()
    image.save(str(path), "PNG")
    return path


def activity_log(path: Path) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica-Bold", 14)
    c.drawString(60, 780, "Customer account activity log")
    c.setFont("Helvetica", 10)
    for i, line in enumerate(
        (
            "2026-10-09 18:02  login  IP 212.206.212.1  device dev_266cbb26bd2c",
            "2026-10-09 18:05  checkout  order ORD-1000339  3-D Secure: authenticated",
            "2026-10-30 14:40  login  IP 212.206.212.1  order status viewed",
        )
    ):
        c.drawString(60, 750 - i * 18, line)
    c.showPage()
    c.save()
    return path


def fill(db: Database, orders: int, tmp: Path) -> int:
    """The demo store; returns the case the screenshot opens."""
    with db.session() as s:
        load_demo(s, orders=orders, actor="demo")
        for login in (ACTOR, "m.jones", "s.patel"):
            ensure_user(s, login)
    for path in sorted(SAMPLES.rglob("*.json")):
        with db.session() as s:
            import_file(s, path, actor=ACTOR)
    with db.session() as s:
        rows = list_disputes(s, QueueFilters(status=["needs_response"]), limit=50).rows
        case_id = rows[0].id
        assign(s, [r.id for r in rows[1:3]], "m.jones", ACTOR)
        assign(s, [case_id], ACTOR, ACTOR)
        closed = s.scalars(select(Dispute.id).where(Dispute.status != "needs_response")).all()
        assign(s, list(closed)[:2], "s.patel", ACTOR)
        add_evidence_file(
            s,
            case_id,
            delivery_photo(tmp / "proof_of_delivery.png"),
            kind="proof_of_delivery",
            actor=ACTOR,
        )
        add_evidence_file(
            s,
            case_id,
            activity_log(tmp / "activity_log.pdf"),
            kind="access_activity_log",
            actor=ACTOR,
        )
        save_draft(
            s,
            case_id,
            "rebuttal",
            "The order was delivered and signed for at the cardholder's address; the same "
            "device and IP were used for the customer's earlier undisputed orders.",
            ACTOR,
        )
    return case_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--orders", type=int, default=6000)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ws-disputes-"))
    application()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)  # never the user's real settings
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp))
    db = Database(f"sqlite:///{tmp / 'workstation.db'}")
    case_id = fill(db, args.orders, tmp)

    ctx = AppContext(db, ACTOR)
    window = MainWindow(ctx)
    window.resize(1440, 860)
    window.show()
    page = window.show_page("disputes")
    settle(lambda: page.queue.header_counts is not None)
    grab(window, args.out / "disputes_queue.png")

    page.queue.select_case(case_id)
    page.open_case(case_id)
    settle(lambda: page.case.view is not None and page.case.view.id == case_id)
    page.case.tabs.setCurrentIndex(1)
    evidence = page.case.evidence
    evidence.table.selectRow(0)
    settle(lambda: evidence.preview_stack.currentWidget() is evidence.image)
    grab(window, args.out / "dispute_case.png")

    ctx.shutdown()
    window.close()
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
