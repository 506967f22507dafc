"""Fixtures of the concurrency tests: a filled store on both backends, clerks, process runners."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from workstation.db import Database
from workstation.services.common.users import ensure_user
from workstation.services.demo.merchant_month import load_demo
from workstation.services.reconcile import engine

CLERKS = [f"clerk{i}" for i in range(8)]
CLI = str(Path(sys.executable).with_name("workstation"))


@pytest.fixture
def store(any_db: Database) -> Database:
    """The demo month, reconciled (open exception cases), with eight clerks."""
    with any_db.session() as s:
        load_demo(s, orders=400)
    with any_db.session() as s:
        engine.run(s, actor="tester")
        for login in CLERKS:
            ensure_user(s, login)
    return any_db


def run_processes(target: Callable[..., None], arg_lists: Sequence[tuple[Any, ...]]) -> dict:
    """Run `target(*args, barrier, queue)` in one spawned process per arg list; results by actor.

    Every worker puts one (actor, result) on the queue; a worker that raised puts its traceback
    under "error", so a failure shows what happened in the child.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(arg_lists))
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, barrier, out)) for a in arg_lists]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=240) for _ in procs)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    return results


def run_cli(url: str, actors_and_args: Sequence[tuple[str, list[str]]]) -> list[tuple[str, Any]]:
    """Start `workstation --db URL ...` once per (actor, args) at the same moment; wait for all.

    Returns (actor, CompletedProcess-like result with returncode, stdout, stderr) in order.
    """
    procs = []
    for actor, args in actors_and_args:
        env = {**os.environ, "WORKSTATION_USER": actor, "QT_QPA_PLATFORM": "offscreen"}
        procs.append(
            (
                actor,
                subprocess.Popen(
                    [CLI, "--db", url, *args],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    done = []
    for actor, p in procs:
        stdout, stderr = p.communicate(timeout=300)
        done.append((actor, subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)))
    return done
