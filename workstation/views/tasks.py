"""Background work: run an operation on a worker thread with its own Session, progress and Cancel.

The shape follows Anki's `QueryOp`/`CollectionOp`: `TaskRunner.run(op, on_success, on_failure)`.
`op(session, progress)` runs on a worker thread with a Session of its own (committed when the op
returns, rolled back when it raises or is cancelled). `progress(done, total, text)` is the
plain callable every service accepts; once the user presses Cancel it raises `Cancelled`, so the
service stops at its next progress report and the transaction rolls back. Results, progress and
errors come back to the main thread through queued signals, so callbacks may touch widgets.

The workers are a `concurrent.futures.ThreadPoolExecutor`, not a `QThreadPool`: under PySide6
6.12.0 every `QThreadPool.start(callable)` releases one reference to `None` it never took, which
aborts the interpreter ("none_dealloc") after a few thousand tasks on CPython 3.11.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QWidget
from sqlalchemy.orm import Session

from ..db import Database
from ..errors import Cancelled, UserError
from . import crash, messages

T = TypeVar("T")
Progress = Callable[[int, int, str], None]
Op = Callable[[Session, Progress], Any]

PROGRESS_INTERVAL = 0.05  # seconds between progress signals; services may report every row


class TaskState(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class _Job:
    """The worker-thread half of a Task: plain Python, so a worker never touches a QObject
    that the main thread may delete (Qt forbids deleting an object while another thread emits
    its signals); results travel through the long-lived runner's signals instead."""

    def __init__(
        self,
        db: Database,
        op: Op,
        label: str,
        commit: bool,
        report: Callable[[_Job, int, int, str], None],
        complete: Callable[[_Job, Any, BaseException | None], None],
    ) -> None:
        self.db = db
        self.op = op
        self.label = label
        self.commit = commit
        self.cancel_event = threading.Event()
        self.task: Task | None = None  # set by the runner; read on the main thread only
        self._report = report
        self._complete = complete
        self._last_emit = 0.0

    def progress(self, done: int, total: int, text: str) -> None:
        """The `progress` callable handed to the op (called on the worker thread)."""
        if self.cancel_event.is_set():
            raise Cancelled(f"{self.label}: cancelled")
        now = time.monotonic()
        due = now - self._last_emit >= PROGRESS_INTERVAL or (total and done >= total)
        if (text or total) and due:
            self._last_emit = now
            self._report(self, int(done), int(total), text)

    def run(self) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            if self.cancel_event.is_set():
                raise Cancelled(f"{self.label}: cancelled")
            result = self.db.run(lambda s: self.op(s, self.progress), commit=self.commit)
        except BaseException as exc:
            error = exc
        self._complete(self, result, error)  # the last thing the worker does


class Task(QObject):
    """One background operation as the main thread sees it: signals, state, Cancel.

    Plain attributes (`state`, `result`, `error`, `label`) stay readable after the task finished
    and its Qt object was deleted.
    """

    progressed = Signal(int, int, str)  # done, total (0 = unknown), text
    finished = Signal()  # after the success/failure/cancel callback ran

    def __init__(
        self,
        job: _Job,
        *,
        cancellable: bool,
        on_success: Callable[[Any], None] | None,
        on_failure: Callable[[UserError], None] | None,
        on_cancelled: Callable[[], None] | None,
        dialog_parent: Callable[[], QWidget | None],
        on_done: Callable[[Task], None],
        parent: QObject,
    ) -> None:
        super().__init__(parent)  # owned by the runner; deleted after `finished`
        self.label = job.label
        self.cancellable = cancellable
        self.state = TaskState.PENDING
        self.result: Any = None
        self.error: BaseException | None = None
        self.last_progress: tuple[int, int, str] = (0, 0, job.label)
        self._job = job
        self._on_success = on_success
        self._on_failure = on_failure
        self._on_cancelled = on_cancelled
        self._dialog_parent = dialog_parent
        self._on_done = on_done

    def cancel(self) -> None:
        """Ask the operation to stop at its next progress report (it then rolls back)."""
        if self.cancellable:
            self._job.cancel_event.set()

    @property
    def cancel_requested(self) -> bool:
        return self._job.cancel_event.is_set()

    @property
    def done(self) -> bool:
        return self.state in (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED)

    def _relay_progress(self, done: int, total: int, text: str) -> None:
        if self.done:
            return
        self.last_progress = (done, total, text or self.label)
        self.progressed.emit(*self.last_progress)

    def _complete(self, result: Any, error: BaseException | None) -> None:
        self.result, self.error = result, error
        bug: BaseException | None = None
        try:
            if error is None:
                self.state = TaskState.SUCCEEDED
                if self._on_success is not None:
                    self._on_success(result)
            elif isinstance(error, Cancelled):
                self.state = TaskState.CANCELLED
                if self._on_cancelled is not None:
                    self._on_cancelled()
            elif isinstance(error, UserError):
                self.state = TaskState.FAILED
                if self._on_failure is not None:
                    self._on_failure(error)
                else:
                    messages.show_error(self._dialog_parent(), error)
            else:
                self.state = TaskState.FAILED
                bug = error
        finally:
            self._on_done(self)
            self.finished.emit()
            self.deleteLater()
        if bug is not None:  # after the bookkeeping: the crash dialog is modal
            crash.show_crash(bug, self._dialog_parent())


class TaskRunner(QObject):
    """Starts tasks on its own thread pool and tells the status bar what is running."""

    task_started = Signal(object)  # Task
    task_finished = Signal(object)  # Task
    message_posted = Signal(str)  # short status text (e.g. "Import cancelled")
    _job_reported = Signal(object, int, int, str)  # worker -> main thread
    _job_completed = Signal(object, object, object)  # (job, result, error) worker -> main

    def __init__(self, db: Database, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self.db = db
        self.pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="task")
        self._futures: set[Future[None]] = set()
        self._futures_lock = threading.Lock()  # done-callbacks run on the workers
        self.dialog_parent: QWidget | None = None  # set by the main window
        self._active: list[Task] = []
        self._job_reported.connect(self._on_job_reported)
        self._job_completed.connect(self._on_job_completed)

    def run(
        self,
        op: Op,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[UserError], None] | None = None,
        *,
        label: str = "Working…",
        cancellable: bool = True,
        commit: bool = True,
        on_cancelled: Callable[[], None] | None = None,
    ) -> Task:
        """Run `op(session, progress)` in the background.

        Args:
            op: the work; gets its own Session and the progress callable. Must not touch widgets.
            on_success: called on the main thread with the op's return value.
            on_failure: called on the main thread with a `UserError`; without it a message box
                explains the problem. Any other exception is a bug and opens the crash dialog.
            label: what the status bar shows while the task runs.
            cancellable: offer Cancel (the op must report progress for Cancel to take effect).
            commit: commit the Session when the op returns (False: roll back, e.g. a preview).
            on_cancelled: called on the main thread after a cancelled op rolled back.

        Returns:
            the Task: connect to `progressed`/`finished`, call `cancel()`.
        """
        job = _Job(self.db, op, label, commit, self._job_reported.emit, self._job_completed.emit)
        task = Task(
            job,
            cancellable=cancellable,
            on_success=on_success,
            on_failure=on_failure,
            on_cancelled=on_cancelled or (lambda: self.message_posted.emit(f"{label}: cancelled")),
            dialog_parent=lambda: self.dialog_parent,
            on_done=self._forget,
            parent=self,
        )
        job.task = task
        self._active.append(task)
        task.state = TaskState.RUNNING
        self.task_started.emit(task)
        future = self.pool.submit(job.run)
        with self._futures_lock:
            self._futures.add(future)
        future.add_done_callback(self._future_done)
        return task

    def _future_done(self, future: Future[None]) -> None:
        with self._futures_lock:
            self._futures.discard(future)

    @Slot(object, int, int, str)
    def _on_job_reported(self, job: _Job, done: int, total: int, text: str) -> None:
        if job.task is not None:
            job.task._relay_progress(done, total, text)

    @Slot(object, object, object)
    def _on_job_completed(self, job: _Job, result: Any, error: BaseException | None) -> None:
        task, job.task = job.task, None
        if task is not None:
            task._complete(result, error)

    def _forget(self, task: Task) -> None:
        if task in self._active:
            self._active.remove(task)
        self.task_finished.emit(task)

    def active(self) -> list[Task]:
        """Tasks started and not finished yet, oldest first."""
        return list(self._active)

    def cancel_all(self) -> None:
        for task in self._active:
            task.cancel()

    def wait(self, msecs: int = -1) -> bool:
        """Block until the worker threads are idle (shutdown and tests); True if they are."""
        with self._futures_lock:
            running = list(self._futures)
        _done, pending = wait_futures(running, None if msecs < 0 else msecs / 1000)
        return not pending

    def shutdown(self, msecs: int = 10000) -> bool:
        """Cancel everything and wait for the workers (call before disposing the database)."""
        self.cancel_all()
        return self.wait(msecs)
