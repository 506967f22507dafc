"""Calendar arithmetic of the metrics: months, day/week/month grains, trend windows, age buckets."""

from __future__ import annotations

import datetime as dt

AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-2", 0, 2),
    ("3-7", 3, 7),
    ("8-30", 8, 30),
    (">30", 31, None),
)
GRAINS = ("day", "week", "month")
TREND_MONTHS = 6  # ratio charts and sheets show at least this many months, ending with the period


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """First day of the month `months` after `day`'s month."""
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(y, m + 1, 1)


def month_end(day: dt.date) -> dt.date:
    return add_months(day, 1) - dt.timedelta(days=1)


def months(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    """First days of the months touching [date_from, date_to]."""
    out, cur = [], month_start(date_from)
    while cur <= date_to:
        out.append(cur)
        cur = add_months(cur, 1)
    return out


def check_grain(grain: str) -> str:
    """`grain` itself; ValueError when it is not one of GRAINS."""
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}; use one of {GRAINS}")
    return grain


def period_start(day: dt.date, grain: str) -> dt.date:
    """Start of the day / ISO week (Monday) / month containing `day`."""
    if check_grain(grain) == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    return month_start(day)


def period_end(start: dt.date, grain: str) -> dt.date:
    """Last day of the day / week / month starting `start`."""
    if check_grain(grain) == "day":
        return start
    if grain == "week":
        return start + dt.timedelta(days=6)
    return month_end(start)


def auto_grain(date_from: dt.date, date_to: dt.date) -> str:
    """A grain giving a readable number of points for a time series over the period."""
    days = (date_to - date_from).days + 1
    return "day" if days <= 62 else "week" if days <= 366 else "month"


def trend_start(date_from: dt.date, date_to: dt.date) -> dt.date:
    """First day of a monthly trend ending with the period: its first month, or further back to
    show TREND_MONTHS months."""
    return min(month_start(date_from), add_months(date_to, -(TREND_MONTHS - 1)))


def day_bounds(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of the inclusive dates, for timestamp columns."""
    lo = dt.datetime.combine(date_from, dt.time(), dt.UTC)
    hi = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), dt.UTC)
    return lo, hi


def age_bucket(days: int) -> str | None:
    """Name of the age bucket of an item `days` old (None for a future date)."""
    for name, lo, hi in AGE_BUCKETS:
        if days >= lo and (hi is None or days <= hi):
            return name
    return None


def bucket_bounds(name: str) -> tuple[int, int | None]:
    """Inclusive age bounds in days of a bucket name ("8-30" -> (8, 30), ">30" -> (31, None))."""
    for b, lo, hi in AGE_BUCKETS:
        if b == name:
            return lo, hi
    raise ValueError(f"unknown age bucket {name!r}")


def bucket_names() -> list[str]:
    """The age bucket names, youngest first."""
    return [b[0] for b in AGE_BUCKETS]
