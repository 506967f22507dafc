"""GUI fixtures: an AppContext on a temporary SQLite store, the main window, isolated QSettings."""

from __future__ import annotations

import datetime as dt
import gc
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from PySide6.QtCore import QSettings

from workstation.db import Database
from workstation.errors import UserError
from workstation.importers import registry
from workstation.importers.base import AccountInfo, ImportOptions, ParseResult, Problem
from workstation.money import parse_minor
from workstation.views.app import application
from workstation.views.context import AppContext
from workstation.views.main_thread_gc import MainThreadCollector
from workstation.views.main_window import MainWindow

GUI_DIR = Path(__file__).resolve().parent
# The offscreen platform plugin reports what it cannot do (propagateSizeHints, raise); not ours.
OFFSCREEN_NOISE = (r"^This plugin does not support ",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if GUI_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_NOISE))


@pytest.fixture(autouse=True)
def collect_on_the_gui_thread(qapp: Any) -> Iterator[MainThreadCollector]:
    """As in the app: Python's collector runs on the GUI thread only (a Qt object collected on
    a worker thread can deadlock the two), and everything left over is collected here."""
    collector = MainThreadCollector(qapp)
    yield collector
    collector.stop()
    collector.deleteLater()
    gc.collect()


@pytest.fixture(autouse=True)
def isolated_settings(qapp: Any, tmp_path: Path) -> Iterator[Path]:
    """QSettings go to an INI file under tmp_path, never to the user's real settings."""
    application()  # names, Fusion style and stylesheet on pytest-qt's QApplication
    folder = tmp_path / "settings"
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield folder


@pytest.fixture
def app_ctx(qapp: Any, db: Database) -> Iterator[AppContext]:
    ctx = AppContext(db, "tester")
    yield ctx
    ctx.shutdown()


@pytest.fixture
def main_window(app_ctx: AppContext, qtbot: Any) -> Iterator[MainWindow]:
    """The main window on the temporary store; closed here, after background work stopped."""
    window = MainWindow(app_ctx)
    window.show()
    qtbot.waitExposed(window)
    yield window
    qtbot.wait(10)  # let queued events (e.g. a drop opening the import dialog) run first
    if window.import_dialog is not None:
        window.import_dialog.reject()  # stops its queue of previews/imports
    app_ctx.tasks.shutdown()
    qtbot.waitUntil(lambda: not app_ctx.tasks.active(), timeout=10000)
    window.close()
    window.deleteLater()
    qtbot.wait(1)


# -- a tiny importer so the import flow is tested without depending on the real formats ------


class FakeImporter:
    """Reads `FAKE ACCOUNT=<iban> [SLOW=<seconds>]` then `date;amount;text;ref` lines (EUR)."""

    name = "fake"
    label = "Fake statement"

    def sniff(self, head: bytes, filename: str) -> int:
        return 100 if head.startswith(b"FAKE") else 0

    def parse(
        self, path: Path, data: bytes, options: ImportOptions, progress: Any = None
    ) -> ParseResult:
        lines = data.decode("utf-8").splitlines()
        header = dict(part.split("=", 1) for part in lines[0].split()[1:])
        if "ACCOUNT" not in header:
            raise UserError("no ACCOUNT in the header", file=str(path), line=1, field="ACCOUNT")
        slow = float(header.get("SLOW", "0"))
        rows: list[dict[str, Any]] = []
        problems: list[Problem] = []
        body = lines[1:]
        for i, line in enumerate(body, start=2):
            if progress is not None:
                progress(i - 1, len(body), "Reading lines")
            if slow:
                time.sleep(slow)
            date_text, amount_text, text, ref = line.split(";")
            try:
                booked = dt.date.fromisoformat(date_text)
            except ValueError:
                problems.append(Problem(f"not a date: {date_text!r}", line=i, field="date"))
                continue
            amount = parse_minor(amount_text, "EUR")
            rows.append(
                {
                    "line_no": i,
                    "account": "acc",
                    "external_id": ref,
                    "bank_ref": ref,
                    "booked_on": booked,
                    "amount_minor": amount,
                    "currency": "EUR",
                    "kind": "bank_credit" if amount >= 0 else "bank_debit",
                    "description": text,
                    "raw": {"line": line},
                }
            )
        frame = pd.DataFrame.from_records(rows)
        for col in ("value_on", "occurred_at", "fee_minor", "net_minor", "orig_amount_minor"):
            frame[col] = None
        for col in ("orig_currency", "counterparty", "payout_ref"):
            frame[col] = None
        checks = [Problem("closing balance 10.00 differs from the lines (9.50)", field="balance")]
        return ParseResult(
            format="fake",
            accounts={
                "acc": AccountInfo(
                    key="acc",
                    kind="bank",
                    provider="bank",
                    name=f"Fake bank {header['ACCOUNT']}",
                    account_number=header["ACCOUNT"],
                    currency="EUR",
                )
            },
            records=frame,
            problems=problems,
            checks=checks,
            rows_total=len(body),
        )


@pytest.fixture
def fake_importer(monkeypatch: pytest.MonkeyPatch) -> FakeImporter:
    imp = FakeImporter()
    monkeypatch.setattr(registry, "importers", lambda: (imp,))
    return imp


def write_fake(path: Path, rows: list[str], *, account: str = "DE00FAKE", slow: float = 0) -> Path:
    """A file the fake importer reads."""
    header = f"FAKE ACCOUNT={account}" + (f" SLOW={slow}" if slow else "")
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def make_fake() -> Any:
    return write_fake


@pytest.fixture
def fake_statement(tmp_path: Path) -> Path:
    """Four good lines (one with a card number in the text) and one with an invalid date."""
    return write_fake(
        tmp_path / "statement.fake",
        [
            "2024-03-01;1,250.00;Payout STRIPE po_1AbCdEfGh;BR-0001",
            "2024-03-02;-3.50;Card fee 4111 1111 1111 1111;BR-0002",
            "2024-02-30;9.99;Impossible day;BR-0003",
            "2024-03-04;-120.00;Rent;BR-0004",
            "2024-03-05;0.45;Interest;BR-0005",
        ],
    )


# --- a reconciled demo store shared by the settlement page tests ---------------------------


@pytest.fixture(scope="session")
def reconciled_demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One reconciled demo month per session (tests copy it: `reconciled_db`)."""
    from recon_helpers import build_store

    return build_store(tmp_path_factory.mktemp("reconciled") / "reconciled.db")


@pytest.fixture
def reconciled_db(tmp_path: Path, reconciled_demo_store: Path) -> Iterator[Database]:
    """A fresh copy of the reconciled demo store."""
    from recon_helpers import copy_store

    database = copy_store(reconciled_demo_store, tmp_path / "ws.db")
    yield database
    database.dispose()


@pytest.fixture
def no_crash_dialogs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[BaseException]]:
    """Fail the test when the crash dialog would have shown."""
    from workstation.views import crash

    seen: list[BaseException] = []
    monkeypatch.setattr(crash, "show_crash", lambda exc, parent=None: seen.append(exc))
    yield seen
    assert not seen, seen
