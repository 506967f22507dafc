"""Screenshots of the Payouts page and the money trail (offscreen).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshots_settlement.py [--out DIR]

Builds a temporary store with the demo month (2,000 orders), reconciles it once, opens the main
window at 1400x850 on the Payouts page and grabs `payouts.png` (the list with a payout selected),
`payout_detail.png` (the detail pane of a payout: its components adding up to net, the
explanation and the bank line) and `order_trail.png` (a demo order's trail: order -> charge ->
payout -> bank line).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings
from PySide6.QtWidgets import QApplication

from workstation.db import Database
from workstation.services.common.users import ensure_user
from workstation.services.demo.merchant_month import load_demo
from workstation.services.reconcile import run
from workstation.services.settlement import payout_queries as pq
from workstation.views.app import application
from workstation.views.context import AppContext
from workstation.views.main_window import MainWindow

REPO = Path(__file__).resolve().parent.parent
SIZE = (1400, 850)


def settle(until: Callable[[], bool] = lambda: True, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    for _ in range(5):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    while not until():
        if time.monotonic() > end:
            raise TimeoutError("the window did not settle")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def showcase(db: Database) -> tuple[int, int, str]:
    """(a payout with charges, refunds and fees; a payout with more components; an order of the
    first payout whose money reached the bank)."""
    with db.session() as s:
        rows = [r for r in pq.list_payouts(s) if r.status == "paid" and r.match_id is not None]
        rich = max(rows, key=lambda r: (sum(1 for v in r.components.values() if v), r.lines))
        plain = next(
            (r for r in rows if r.gross_minor > 0 and r.refunds_minor and r.id != rich.id), rows[0]
        )
        order = next(
            line.order_external_id
            for line in pq.payout_lines(s, plain.id, limit=200)
            if line.kind == "charge" and line.order_external_id
        )
    return plain.id, rich.id, str(order)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ws-settlement-shots-"))
    app: QApplication = application()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp))
    db = Database(f"sqlite:///{tmp / 'workstation.db'}")
    with db.session() as s:
        ensure_user(s, "a.clerk")
        load_demo(s, orders=args.orders)
    with db.session() as s:
        run(s, actor="a.clerk")
    plain, rich, order = showcase(db)
    ctx = AppContext(db, "a.clerk")
    window = MainWindow(ctx)
    window.resize(*SIZE)
    window.show()
    page = window.show_page("payouts")
    settle(lambda: page.model.rowCount() > 0 and not ctx.tasks.active())

    page.select_payout(plain)
    page.focus_table()
    settle(lambda: page.detail.payout_id == plain)
    path = args.out / "payouts.png"
    window.grab().save(str(path))
    print(f"wrote {path}")

    page.select_payout(rich)
    settle(lambda: page.detail.payout_id == rich)
    path = args.out / "payout_detail.png"
    page.detail.grab().save(str(path))  # the detail pane alone
    print(f"wrote {path}")

    page.select_payout(plain)
    settle(lambda: page.detail.payout_id == plain)
    page.detail.trail_view.show_ident(order)
    page.detail.tabs.setCurrentIndex(page.detail.trail_index)
    page.detail.trail_view.tree.setFocus()
    settle()
    path = args.out / "order_trail.png"
    window.grab().save(str(path))
    print(f"wrote {path}")

    window.close()
    ctx.shutdown()
    db.dispose()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
