"""The bank's calendar day of a booking time stamp, from the time zone of the account's country.

A bank books in its own day: an entry at 23:30 UTC on 31 December is booked on 1 January by a
bank in Amsterdam. camt (and other XML formats) write booking times as ISO date-times; the rule:

1. no offset (`2014-12-31T23:30:00`): local time of the bank, the date as written;
2. an offset other than zero (`2014-12-31T23:30:00-05:00`): the bank said which local time it
   means, so the date as written is its date;
3. UTC (`Z` or `+00:00`): converted to the bank's zone when it is known and the date taken there;
   when it is not known, the UTC date.

The bank's zone is that of the country of the account's IBAN (its first two letters), for the
countries that have one zone for all their IBAN accounts (`ZONES`). Accounts without an IBAN
(`Othr` ids, BBANs) and countries not listed (several zones: US, ES with the Canaries, PT with the
Azores) have no known zone, so rule 3 falls back to UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_IBAN = re.compile(r"^([A-Z]{2})[0-9]{2}[A-Z0-9]{10,30}$")

# IBAN country -> the one IANA zone of that country's accounts.
ZONES = {
    "AT": "Europe/Vienna",
    "BE": "Europe/Brussels",
    "BG": "Europe/Sofia",
    "CH": "Europe/Zurich",
    "CY": "Asia/Nicosia",
    "CZ": "Europe/Prague",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "EE": "Europe/Tallinn",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "GR": "Europe/Athens",
    "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest",
    "IE": "Europe/Dublin",
    "IT": "Europe/Rome",
    "LI": "Europe/Vaduz",
    "LT": "Europe/Vilnius",
    "LU": "Europe/Luxembourg",
    "LV": "Europe/Riga",
    "MC": "Europe/Monaco",
    "MT": "Europe/Malta",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "PL": "Europe/Warsaw",
    "RO": "Europe/Bucharest",
    "SE": "Europe/Stockholm",
    "SI": "Europe/Ljubljana",
    "SK": "Europe/Bratislava",
}


@cache
def _zone(name: str) -> dt.tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # no time zone database: fall back to UTC
        return None


def bank_zone(account: str | None) -> dt.tzinfo | None:
    """The time zone of the bank keeping `account` (an IBAN), or None when not known."""
    found = _IBAN.match((account or "").replace(" ", "").upper())
    if not found or found.group(1) not in ZONES:
        return None
    return _zone(ZONES[found.group(1)])


def bank_date(stamp: dt.datetime, zone: dt.tzinfo | None) -> dt.date:
    """The bank's date of the time stamp `stamp` by the rule of this module."""
    if stamp.tzinfo is None or stamp.utcoffset() != dt.timedelta(0):
        return stamp.date()
    return stamp.astimezone(zone).date() if zone is not None else stamp.date()
