"""Export what a queue table shows (its filters, order and visible columns) in the background."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog

from ..models.table_export import export_source
from ..models.table_source import SortSpec, SourceColumn

FILE_TYPES = "Excel workbook (*.xlsx);;CSV (*.csv)"
ID_KEYS = frozenset({"id", "match_id", "case_id", "record_id"})  # shown as digits, exported as ints


class _Shown:
    """A source restricted to the columns the table shows, in the table's order."""

    def __init__(self, source: Any, columns: Sequence[SourceColumn]) -> None:
        self.source = source
        self.columns = tuple(
            dataclasses.replace(c, kind="int", text=None) if c.key in ID_KEYS else c
            for c in columns
        )

    def count(self, session, filters):
        return self.source.count(session, filters)

    def fetch(self, session, filters, sort, after_key, limit):
        return self.source.fetch(session, filters, sort, after_key, limit)

    def row_id(self, row):
        return self.source.row_id(row)


def visible_columns(table) -> list[SourceColumn]:
    model = table.sql_model
    header = table.horizontalHeader()
    shown = [i for i in range(len(model.columns)) if not table.isColumnHidden(i)]
    return [model.columns[i] for i in sorted(shown, key=header.visualIndex)]


def ask_path(parent, title: str, default_name: str, *, fix_suffix: bool = True) -> Path | None:
    """The file to export to (None: cancelled); without .xlsx or .csv, `fix_suffix` adds .xlsx."""
    name, _ = QFileDialog.getSaveFileName(parent, title, default_name, FILE_TYPES)
    if not name:
        return None
    path = Path(name)
    if fix_suffix and path.suffix.lower() not in (".xlsx", ".csv"):
        path = path.with_suffix(".xlsx")
    return path


def export_table(
    ctx,
    *,
    make_source: Callable[[], Any],
    columns: Sequence[SourceColumn],
    filters: Any,
    sort: SortSpec | None,
    path: Path,
    title: str,
    noun: str = "row(s)",
    on_done: Callable[[int], None] | None = None,
):
    """Write the rows `filters` select, in `sort` order, to `path` (.xlsx or .csv).

    `make_source()` builds a source for the worker thread (the table's belongs to the GUI);
    `noun` names the rows in the message at the end ("Exported 12 row(s) to …").
    """

    def op(session, progress):
        return export_source(
            session,
            _Shown(make_source(), columns),
            filters,
            sort,
            path,
            title=title,
            progress=progress,
        )

    def done(n: int) -> None:
        ctx.notify(f"Exported {n:,} {noun} to {path}")
        if on_done is not None:
            on_done(n)

    return ctx.tasks.run(op, done, label=f"Exporting {title.lower()}")
