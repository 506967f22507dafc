"""Base of a queue page's filter bar: declared widgets in, one `changed(filters)` per edit out.

A bar declares its widgets with `combo`, `search_box` and `reset_control` (and `add_extra_chip`
for filters no widget shows), lays them out (`two_rows` is the usual shape) and names the ones
that edit the filters with `watch`. It says how widgets become filters (`filters()`) and back
(`_show(filters) -> extra`, for `set_filters`, with `set_data`, `show_one` and `keep_fields`).

The contract: `changed(filters)` is emitted once for every edit the user makes (a combo choice, a
spin step, Enter in a text box, a text box cleared), with the complete new filters; showing
filters programmatically (`set_filters`) emits at most once, at the end, never once per widget.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

ANY = None  # the data of a combo's "all" item
Choices = Sequence[tuple[str, str, tuple[str, ...]]]  # (text, key, values): combos hold the key


def choice_value(choices: Choices, key, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The values of the choice with this key (`default` when none has it)."""
    return next((v for _, k, v in choices if k == key), default)


def choice_key(choices: Choices, values) -> str | None:
    """The key of the choice holding exactly these values (None when none does)."""
    return next((k for _, k, v in choices if set(v) == set(values)), None)


class QueueFilterBar(QWidget):
    """Filters of a queue as widgets; `changed` carries the new filters (see the module docstring).

    Filters that no widget shows (a date range from a dashboard drill, several accounts) are kept
    as `extra` and named in a chip with a clear button (`add_extra_chip`, `describe_extra`).
    """

    changed = Signal(object)
    FILTERS: Any = None  # the filters class; `reset` shows its defaults

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._extra: dict[str, object] = {}
        self._watched: list[QWidget] = []
        self.second: QHBoxLayout | None = None
        self.extra_chip: QLabel | None = None

    # -- declaring widgets -----------------------------------------------------------------------
    @staticmethod
    def combo(
        name: str,
        tip: str,
        items: Iterable[tuple[str, Any]],
        width: int = 8,
        min_width: int | None = 60,
    ) -> QComboBox:
        """A compact combo: the closed box shows about `width` characters, the list everything; it
        may shrink to `min_width` pixels in a narrow window (None: never below its text)."""
        box = QComboBox()
        box.setObjectName(name)
        box.setToolTip(tip)
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(width)
        if min_width is not None:
            box.setMinimumWidth(min_width)
        for text, data in items:
            box.addItem(text, data)
        return box

    def search_box(self, name: str, placeholder: str, min_width: int = 80) -> QLineEdit:
        """The free-text box (Enter applies, clearing it applies at once)."""
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        edit.setClearButtonEnabled(True)
        edit.setMinimumWidth(min_width)
        return edit

    def reset_control(self, tip: str | None = "Clear all filters") -> QToolButton:
        button = QToolButton()
        button.setText("Reset")
        if tip:
            button.setToolTip(tip)
        button.clicked.connect(self.reset)
        return button

    def add_extra_chip(self) -> None:
        """The chip naming the filters no widget shows, and its clear button."""
        self.extra_chip = QLabel()
        self.extra_chip.setObjectName("count_chip")
        self.extra_chip.setMinimumWidth(40)
        self.extra_clear = QToolButton()
        self.extra_clear.setText("✕")
        self.extra_clear.setToolTip("Remove this filter")
        self.extra_clear.clicked.connect(self.clear_extra)

    def watch(self, widgets: Iterable[QWidget]) -> None:
        """Emit `changed` when one of these is edited: a combo's choice, a spin box's value, or
        a text box's Enter or clearing."""
        for w in widgets:
            self._watched.append(w)
            if isinstance(w, QComboBox):
                w.currentIndexChanged.connect(self._emit)
            elif isinstance(w, QSpinBox):
                w.valueChanged.connect(self._emit)
            elif isinstance(w, QLineEdit):
                w.returnPressed.connect(self._emit)
                w.textChanged.connect(lambda text: None if text else self._emit())
            else:
                raise TypeError(f"cannot watch {type(w).__name__}")

    def two_rows(
        self, first: Sequence[QWidget], second: Sequence[QWidget], search: QLineEdit, reset
    ) -> None:
        """The usual layout: `first` widgets, then a row of `second`, the search box, the chip of
        extra filters and Reset; `add_tail` appends to that second row."""
        top = QHBoxLayout()
        top.setSpacing(6)
        for w in first:
            top.addWidget(w)
        top.addStretch(1)
        self.second = QHBoxLayout()
        self.second.setSpacing(6)
        for w in second:
            self.second.addWidget(w)
        self.second.addWidget(search, 1)
        if self.extra_chip is not None:
            self.second.addWidget(self.extra_chip)
            self.second.addWidget(self.extra_clear)
        self.second.addWidget(reset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addLayout(self.second)

    def add_tail(self, widget: QWidget) -> None:
        """Put `widget` (e.g. the saved filters) at the end of the second row."""
        assert self.second is not None, "add_tail needs the two_rows layout"
        self.second.addSpacing(8)
        self.second.addWidget(widget)

    # -- filters ---------------------------------------------------------------------------------
    @staticmethod
    def set_data(box: QComboBox, data) -> bool:
        """Select the item holding `data`; False (first item) when there is none."""
        i = box.findData(data)
        box.setCurrentIndex(max(0, i))
        return i >= 0

    @staticmethod
    def refill(box: QComboBox, keep: int, items: Iterable[tuple[str, Any]]) -> None:
        """Replace the items after the first `keep` (quietly), keeping the choice if it stays."""
        current = box.currentData()
        box.blockSignals(True)
        while box.count() > keep:
            box.removeItem(keep)
        for text, data in items:
            box.addItem(text, data)
        QueueFilterBar.set_data(box, current)
        box.blockSignals(False)

    @staticmethod
    def show_one(box: QComboBox, values: tuple, extra: dict[str, object], key: str) -> None:
        """Show a single value in `box` (added to it when it is not offered yet); no value or
        several select the first item, and several are kept in `extra[key]`."""
        if len(values) == 1:
            if box.findData(values[0]) < 0:
                box.addItem(str(values[0]), values[0])
            QueueFilterBar.set_data(box, values[0])
        else:
            QueueFilterBar.set_data(box, ANY)
            if values:
                extra[key] = values

    @staticmethod
    def keep_fields(filters: Any, names: Iterable[str], extra: dict[str, object]) -> None:
        """Put the fields of `filters` that no widget shows into `extra`, those that are set."""
        for name in names:
            value = getattr(filters, name)
            if value:
                extra[name] = value

    def filters(self) -> Any:
        """The filters the widgets show (with the extra ones)."""
        raise NotImplementedError

    def _show(self, filters: Any) -> dict[str, object]:
        """Show `filters` in the widgets (their signals are blocked); returns what they cannot
        show, by field name."""
        raise NotImplementedError

    def with_extra(self, filters: Any) -> Any:
        """`filters` with the extra filters put back."""
        return dataclasses.replace(filters, **self._extra) if self._extra else filters

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """The watched widgets' signals blocked: showing filters emits nothing per widget."""
        for w in self._watched:
            w.blockSignals(True)
        try:
            yield
        finally:
            for w in self._watched:
                w.blockSignals(False)

    def set_filters(self, filters: Any, *, emit: bool = True) -> None:
        """Show `filters` in the widgets (what they cannot show goes to the chip)."""
        with self.quiet():
            extra = self._show(filters)
        self._extra = extra
        self._show_extra()
        if emit:
            self._emit()

    def extra(self) -> dict[str, object]:
        return dict(self._extra)

    def describe_extra(self, extra: dict[str, Any]) -> list[str]:
        """Short texts naming the extra filters, for the chip."""
        return []

    def _show_extra(self) -> None:
        if self.extra_chip is None:
            return
        parts = self.describe_extra(self._extra)
        self.extra_chip.setText(" · ".join(parts))
        self.extra_chip.setVisible(bool(parts))
        self.extra_clear.setVisible(bool(parts))

    def clear_extra(self) -> None:
        self._extra = {}
        self._show_extra()
        self._emit()

    def reset(self) -> None:
        """Clear all filters."""
        self.set_filters(self.FILTERS())

    def _emit(self, *_args) -> None:
        self.changed.emit(self.filters())
