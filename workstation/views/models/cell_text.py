"""Display text of a plain cell (int, date, datetime, free text), shared by the table models."""

from __future__ import annotations

import datetime as dt
from typing import Any


def plain_text(kind: str, value: Any) -> str:
    """`value` (not missing) as a cell shows it: ints with separators, ISO dates, local date and
    time to the minute, and any other value as one line of text."""
    if kind == "int":
        return f"{int(value):,}"
    if kind == "date":
        if isinstance(value, dt.datetime):
            value = value.date()
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if kind == "datetime":
        if isinstance(value, dt.datetime):
            local = value.astimezone() if value.tzinfo else value
            return local.strftime("%Y-%m-%d %H:%M")
        return str(value)
    text = str(value)
    return " ".join(text.split()) if "\n" in text or "\r" in text else text
