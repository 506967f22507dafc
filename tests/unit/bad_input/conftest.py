"""A store with one good import, and the check every bad file must pass through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from workstation.cli import main

GOOD_ORDERS = (
    "order_id,date,amount,currency,customer\n"
    "G-1,2026-11-02,10.00,EUR,Ada\n"
    "G-2,2026-11-03,20.50,EUR,Grace\n"
)

Refused = Callable[..., str]


def counts(url: str) -> tuple[int, int, int]:
    """Rows in records, import_batches and record_raw."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(  # type: ignore[return-value]
                int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in ("records", "import_batches", "record_raw")
            )
    finally:
        engine.dispose()


@pytest.fixture
def store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A SQLite store holding one good order import (so 'nothing written' is not trivially 0)."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    good = tmp_path / "good_orders.csv"
    good.write_text(GOOD_ORDERS, encoding="utf-8")
    assert main(["--db", url, "import", str(good)]) == 0
    capsys.readouterr()
    assert counts(url)[0] == 2
    return url


@pytest.fixture
def refused(store: str, capsys: pytest.CaptureFixture[str]) -> Refused:
    """Import a file through the CLI; assert exit 1, `error: FILE, line N[, field F]: ...`, no
    traceback and an unchanged store. Returns the message."""

    def check(path: Path, *extra: str, line: int, field: str | None) -> str:
        before = counts(store)
        code = main(["--db", store, "import", str(path), *extra])
        out = capsys.readouterr()
        assert code == 1, out
        assert "Traceback" not in out.err
        message = out.err.strip()
        where = f"error: {path}, line {line}" + (f", field {field}" if field else "")
        assert message.startswith(where + ":"), message
        assert counts(store) == before
        return message

    return check


@pytest.fixture
def accepted(store: str, capsys: pytest.CaptureFixture[str]) -> Callable[..., dict[str, object]]:
    """Import through the CLI with --json; returns the file's report (exit 0 asserted)."""

    def run(path: Path, *extra: str) -> dict[str, object]:
        code = main(["--db", store, "import", str(path), "--json", *extra])
        out = capsys.readouterr()
        assert code == 0, out
        report: dict[str, object] = json.loads(out.out)["files"][0]
        return report

    return run


def amounts(url: str, external_id: str) -> list[int]:
    """Stored amount_minor of the records with this external id."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT amount_minor FROM records WHERE external_id = :e"), {"e": external_id}
            )
            return [int(r[0]) for r in rows]
    finally:
        engine.dispose()
