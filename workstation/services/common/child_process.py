"""Run a service in a child process: the caller's interpreter (and its UI thread) keeps the GIL.

Whole-column pandas steps over millions of rows hold the GIL for a tenth of a second or more;
on a worker thread that freezes the UI thread for as long. In a child process they run on the
other core and the parent only relays progress. The child opens the same database by URL, runs
`target(session, *args, progress=..., **kwargs)` in one transaction and commits (or rolls back),
so the parent sees the result only once it is committed, exactly as with a worker thread.

`run_in_child(url, target, ...)` blocks the calling (worker) thread until the child is done;
`progress(done, total, text)` is the caller's callable and may raise `Cancelled`, which asks the
child to stop at its next progress report (it then rolls back) and is raised again here.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import traceback
from collections.abc import Callable
from typing import Any

from ...errors import Cancelled, UserError

Progress = Callable[[int, int, str], None]
_POLL = 0.05  # seconds between looks at the child's messages (and at the caller's Cancel)


def _child_main(
    url: str,
    target: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    commit: bool,
    messages: Any,
    cancel: Any,
) -> None:
    from ...db import Database

    def progress(done: int, total: int, text: str) -> None:
        if cancel.is_set():
            raise Cancelled("cancelled")
        messages.put(("progress", (int(done), int(total), str(text))))

    try:
        db = Database(url, migrate=False)
        try:
            result = db.run(lambda s: target(s, *args, progress=progress, **kwargs), commit=commit)
        finally:
            db.dispose()
        messages.put(("done", result))
    except Cancelled:
        messages.put(("cancelled", None))
    except UserError as exc:
        messages.put(("user_error", (exc.message, exc.file, exc.line, exc.field)))
    except BaseException as exc:  # a bug: the parent reports it with the child's traceback
        messages.put(("error", f"{exc!r}\n{traceback.format_exc()}"))


def run_in_child(
    url: str,
    target: Callable[..., Any],
    *args: Any,
    progress: Progress,
    commit: bool = True,
    **kwargs: Any,
) -> Any:
    """`target(session, *args, progress=..., **kwargs)` in a child process; returns its result.

    `target` must be a module-level function and its arguments and result picklable.
    """
    ctx = mp.get_context("spawn")  # no fork of a process that runs Qt and threads
    messages = ctx.Queue()
    cancel = ctx.Event()
    proc = ctx.Process(
        target=_child_main,
        args=(url, target, args, kwargs, commit, messages, cancel),
        name="workstation-child",
        daemon=True,
    )
    proc.start()
    last = (0, 0, "Starting…")
    cancelled = False
    try:
        while True:
            try:
                kind, payload = messages.get(timeout=_POLL)
            except queue.Empty:
                if not proc.is_alive():
                    try:  # its last message may still be in the pipe
                        kind, payload = messages.get(timeout=1.0)
                    except queue.Empty:
                        code = proc.exitcode
                        raise RuntimeError(f"background process ended with code {code}") from None
                elif not cancelled:
                    try:
                        progress(*last)  # lets the caller's Cancel through between reports
                    except Cancelled:
                        cancelled = True
                        cancel.set()
                    continue
                else:
                    continue
            if kind == "progress":
                last = payload
                if not cancelled:
                    try:
                        progress(*payload)
                    except Cancelled:
                        cancelled = True
                        cancel.set()
            elif kind == "done":
                return payload
            elif kind == "cancelled":
                raise Cancelled("cancelled")
            elif kind == "user_error":
                message, file, line, field = payload
                raise UserError(message, file=file, line=line, field=field)
            else:
                raise RuntimeError(f"background process failed: {payload}")
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join()
        messages.close()
