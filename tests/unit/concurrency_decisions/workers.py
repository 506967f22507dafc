"""What one clerk's process does in the concurrency tests: its own engine, a barrier, a report.

Run by `multiprocessing` (spawn) so that each worker is a separate interpreter with its own
database connection; the barrier makes every worker finish reading before any of them writes,
which is the race that used to lose decisions.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from workstation.db import Database
from workstation.errors import UserError


def apply_workbook(url: str, path: str, actor: str, barrier: Any, out: Any) -> None:
    """Plan `path`, wait for the others, apply it in the same transaction (as the CLI does)."""
    from workstation.services.roundtrip.apply import apply_roundtrip
    from workstation.services.roundtrip.plan import plan_roundtrip

    try:
        db = Database(url, migrate=False)
        try:
            with db.session() as s:
                plan = plan_roundtrip(s, Path(path))
                barrier.wait(180)
                report = apply_roundtrip(s, plan, actor)
            out.put(
                (
                    actor,
                    {
                        "planned": [c.id for c in plan.changes],
                        "applied": [c.id for c in report.applied],
                        "conflicts": [c.id for c in report.conflicts],
                        "conflict_texts": [str(c.conflict) for c in report.conflicts],
                        "failed": [(c.id, e) for c, e in report.failed],
                    },
                )
            )
        finally:
            db.dispose()
    except BaseException:
        out.put((actor, {"error": traceback.format_exc()}))


def decide_all(
    url: str, dispute_ids: list[int], decision: str, actor: str, barrier: Any, out: Any
) -> None:
    """Decide each dispute (one session per decision, as an agent would), after the barrier."""
    from workstation.services.disputes.agent_actions import decide

    try:
        db = Database(url, migrate=False)
        won: list[int] = []
        refused: dict[int, str] = {}
        try:
            barrier.wait(180)
            for did in dispute_ids:
                try:
                    with db.session() as s:
                        decide(s, did, decision, actor, seen_event=None)
                    won.append(did)
                except UserError as exc:
                    refused[did] = str(exc)
        finally:
            db.dispose()
        out.put((actor, {"won": won, "refused": refused}))
    except BaseException:
        out.put((actor, {"error": traceback.format_exc()}))
