"""How much time a case has left: the countdown text and the due state used for highlighting."""

from __future__ import annotations

import datetime as dt

from ...models import utcnow


def countdown(due_by: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """`3 d 4 h left`, `5 h 20 min left`, `overdue 2 d`, `overdue 3 h`, or '' without a date."""
    if due_by is None:
        return ""
    now = now or utcnow()
    seconds = int((due_by - now).total_seconds())
    days, rest = divmod(abs(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if seconds >= 0:
        if days:
            return f"{days} d {hours} h left"
        if hours:
            return f"{hours} h {minutes} min left"
        return f"{minutes} min left"
    if days:
        return f"overdue {days} d"
    if hours:
        return f"overdue {hours} h"
    return f"overdue {max(1, minutes)} min"


def due_state(
    due_by: dt.datetime | None, now: dt.datetime | None = None, tz: dt.tzinfo | None = None
) -> str:
    """For highlighting: overdue, due_today (same local day), due_soon (3 days), ok, none."""
    if due_by is None:
        return "none"
    now = now or utcnow()
    if due_by <= now:
        return "overdue"
    local_due = due_by.astimezone(tz) if tz else due_by.astimezone()
    local_now = now.astimezone(tz) if tz else now.astimezone()
    if local_due.date() == local_now.date():
        return "due_today"
    if due_by - now <= dt.timedelta(days=3):
        return "due_soon"
    return "ok"
