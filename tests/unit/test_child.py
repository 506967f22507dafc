"""Services run in a child process: result, progress, user errors, bugs and Cancel come back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from workstation.db import Database
from workstation.errors import Cancelled, UserError
from workstation.models import Record
from workstation.services.common.child_process import run_in_child
from workstation.services.imports.file_import import import_file, undo_batch

ORDERS = (
    "Order ID,Date,Total,Currency\nORD-1001,2026-10-01,12.50,EUR\nORD-1002,2026-10-02,9.00,EUR\n"
)


def test_result_and_progress_come_back_and_the_child_commits(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    seen: list[tuple[int, int, str]] = []
    report = run_in_child(
        db.connect_url,
        import_file,
        path,
        progress=lambda d, t, m: seen.append((d, t, m)),
        actor="t",
    )
    assert report.new == 2 and report.batch_id is not None
    assert any("Storing" in m for _, _, m in seen)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Record)) == 2


def test_dry_run_child_rolls_back(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    report = run_in_child(
        db.connect_url, import_file, path, progress=lambda *a: None, commit=False, actor="t"
    )
    assert report.new == 2
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Record)) == 0


def test_user_error_keeps_file_and_line(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS.replace("9.00", "$9.00"))
    with pytest.raises(UserError) as err:
        run_in_child(db.connect_url, import_file, path, progress=lambda *a: None, actor="t")
    assert err.value.file == str(path) and err.value.line == 3


def test_a_bug_in_the_child_is_reported_with_its_traceback(db: Database) -> None:
    with pytest.raises(RuntimeError, match="TypeError"):  # undo_batch takes no progress
        run_in_child(db.connect_url, undo_batch, 1, progress=lambda *a: None, actor="t")


def test_cancel_stops_the_child_and_nothing_is_written(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)

    def cancel(*_a: object) -> None:
        raise Cancelled("user pressed Cancel")

    with pytest.raises(Cancelled):
        run_in_child(db.connect_url, import_file, path, progress=cancel, actor="t")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Record)) == 0
