"""Status-bar widget: what runs in the background, its progress, and a Cancel button."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget


class TaskStatus(QWidget):
    """Follows a TaskRunner: shows the newest running task; hidden when nothing runs."""

    def __init__(self, runner, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("task_status")
        self.runner = runner
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(160)
        self.bar.setMaximumHeight(14)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop this task; nothing it did is kept")
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self._current = None
        self._text = ""
        runner.task_started.connect(self._on_started)
        runner.task_finished.connect(self._on_finished)
        self.hide()

    @property
    def current(self):
        return self._current

    def _on_started(self, task) -> None:
        task.progressed.connect(
            lambda done, total, text, t=task: self._on_progress(t, done, total, text)
        )
        self._follow(task)

    def _follow(self, task) -> None:
        self._current = task
        self.cancel_button.setVisible(task.cancellable)
        self.cancel_button.setEnabled(not task.cancel_requested)
        self._on_progress(task, *task.last_progress)
        self.show()

    def _on_finished(self, task) -> None:
        if task is not self._current:
            self._update_label()
            return
        active = self.runner.active()
        if active:
            self._follow(active[-1])
        else:
            self._current = None
            self.hide()

    def _on_progress(self, task, done: int, total: int, text: str) -> None:
        if task is not self._current:
            return
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:
            self.bar.setRange(0, 0)  # busy indicator
        self._text = text if text and text != task.label else ""
        self._update_label()

    def _update_label(self) -> None:
        task = self._current
        if task is None:
            return
        text = task.label + (f": {self._text}" if self._text else "")
        others = len(self.runner.active()) - 1
        if others > 0:
            text += f" (+{others} more)"
        self.label.setText(text)

    def cancel(self) -> None:
        if self._current is not None:
            self._current.cancel()
            self.cancel_button.setEnabled(False)
            self.label.setText(f"{self._current.label}: cancelling…")
