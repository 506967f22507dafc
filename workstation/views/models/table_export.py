"""Every row of a table source in order, and its export to .xlsx/.csv (any thread, no Qt)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ...exporters.table import Column as ExportColumn
from ...exporters.table import write_table
from .table_source import SortSpec, TableSource, export_value


def iter_rows(
    session: Any,
    source: TableSource,
    filters: Any,
    sort: SortSpec | None = None,
    page_size: int = 2000,
) -> Iterator[Any]:
    """Every row of a source in order, page by page (exports)."""
    key: Any = None
    while True:
        rows, key = source.fetch(session, filters, sort, key, page_size)
        yield from rows
        if key is None or not rows:
            return


def export_source(
    session: Any,
    source: TableSource,
    filters: Any,
    sort: SortSpec | None,
    path: Path,
    *,
    title: str = "Export",
    progress: Callable[[int, int, str], None] | None = None,
) -> int:
    """Write what a table shows, in its order, with `exporters.table.write_table` (any thread)."""
    columns = list(source.columns)
    kinds = {"int": "int", "money": "money", "percent": "percent", "date": "date"}
    head = [
        ExportColumn(
            c.header,
            "text" if c.text is not None else kinds.get(c.kind, c.kind),
            width=max(10, (c.width or 80) // 7),
        )
        for c in columns
    ]
    total = source.count(session, filters)
    rows = (
        [export_value(c, r) for c in columns] for r in iter_rows(session, source, filters, sort)
    )
    return write_table(path, head, rows, sheet_title=title, total=total, progress=progress)
