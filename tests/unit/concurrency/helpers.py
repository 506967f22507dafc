"""Running the CLI in separate processes against one store, and counting what they left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from workstation.services.common.write_lock import WAITING

LIVE_IN_TWO = (
    "SELECT COUNT(*) FROM (SELECT mm.record_id FROM match_members mm"
    " JOIN matches m ON m.id = mm.match_id WHERE m.status IN ('auto', 'suggested', 'confirmed')"
    " GROUP BY mm.record_id HAVING COUNT(*) > 1) doubled"
)


def start_cli(
    url: str, args: list[str], log: Path, *, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`workstation --db URL ARGS --json` in a new process; stdout to log.out, stderr to log.err."""
    out = log.with_suffix(".out").open("wb")
    err = log.with_suffix(".err").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "workstation", "--db", url, *args, "--json"],
        stdout=out,
        stderr=err,
        env={**os.environ, **(env or {})},
    )


def stderr_of(log: Path) -> str:
    return log.with_suffix(".err").read_text()


def stdout_of(log: Path) -> str:
    return log.with_suffix(".out").read_text()


def wait_until_waiting(logs: list[Path], timeout: float = 60.0) -> None:
    """Until every process has said on stderr that it waits for another writer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(WAITING in stderr_of(p) for p in logs):
            return
        time.sleep(0.1)
    raise AssertionError([stderr_of(p) for p in logs])


def count(session: Session, sql: str) -> int:
    return int(session.execute(text(sql)).scalar_one())
