"""Calendar arithmetic of the metrics: months, day/week/month grains, trend windows, age buckets."""

from __future__ import annotations

import calendar
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
    """First day of the month `months` after `day`'s month (clamped to the calendar's ends,
    year 1 and year 9999, so a stored 9999-12-31 never breaks a computation)."""
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    if y > dt.MAXYEAR:
        return dt.date(dt.MAXYEAR, 12, 1)
    if y < dt.MINYEAR:
        return dt.date.min
    return dt.date(y, m + 1, 1)


def month_end(day: dt.date) -> dt.date:
    return dt.date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def add_days(day: dt.date, days: int) -> dt.date:
    """`day` + `days`, clamped to the calendar's first and last day."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.max if days > 0 else dt.date.min


def months(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    """First days of the months touching [date_from, date_to]."""
    out, cur = [], month_start(date_from)
    while cur <= date_to:
        out.append(cur)
        nxt = add_months(cur, 1)
        if nxt <= cur:  # the calendar's last month
            break
        cur = nxt
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
        return add_days(day, -day.weekday())
    return month_start(day)


def period_end(start: dt.date, grain: str) -> dt.date:
    """Last day of the day / week / month starting `start`."""
    if check_grain(grain) == "day":
        return start
    if grain == "week":
        return add_days(start, 6)
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
    if date_to >= dt.date.max:
        return lo, dt.datetime.max.replace(tzinfo=dt.UTC)
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
