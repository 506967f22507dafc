"""Converting a table's text columns to exact money, ISO currencies, dates and row problems.

Every converter works on a whole column at once (pyarrow casts, numpy integer arithmetic) and
reads the few rows that fail the fast path one by one, so it can say what is wrong with each:
those become `Issues` (file line, field, message) and the rows are left out.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..money import MAX_MINOR, check_bound, exponent, parse_decimal, too_large_message
from .base import Problem
from .csvutil import STRING, Table, arrow

DATE = pd.ArrowDtype(pa.date32())
UTC_TS = pd.ArrowDtype(pa.timestamp("us", tz="UTC"))

# Active ISO 4217 codes (plus precious metals / units of account that appear in reports).
_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR
    ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD
    MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR
    PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL
    THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF
    XAG XAU XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL
"""
KNOWN_CURRENCIES = frozenset(_ISO_4217.split())

# Time zone abbreviations PSP reports write (fixed offsets: the abbreviation already says
# whether daylight saving applies). Anything with a "/" is an IANA name.
TZ_ABBREVIATIONS: dict[str, int] = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    "BST": 60,
    "WEST": 60,
    "IST": 330,
    "CET": 60,
    "CEST": 120,
    "MET": 60,
    "MEST": 120,
    "EET": 120,
    "EEST": 180,
    "MSK": 180,
    "HST": -600,
    "AKST": -540,
    "AKDT": -480,
    "PST": -480,
    "PDT": -420,
    "MST": -420,
    "MDT": -360,
    "CST": -360,
    "CDT": -300,
    "EST": -300,
    "EDT": -240,
    "AST": -240,
    "ADT": -180,
    "BRT": -180,
    "JST": 540,
    "KST": 540,
    "HKT": 480,
    "SGT": 480,
    "AWST": 480,
    "ACST": 570,
    "ACDT": 630,
    "AEST": 600,
    "AEDT": 660,
    "NZST": 720,
    "NZDT": 780,
}


class Issues:
    """Row problems of one table: each bad row is reported once and left out."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.bad = np.zeros(len(table), dtype=bool)
        self.problems: list[Problem] = list(table.ragged)
        self.notes: list[str] = []  # how the file was read (decimal mark...), for the report

    def add(
        self,
        mask: np.ndarray | pd.Series,
        field: str | None,
        message: str | Callable[[int], str],
        severity: str = "error",
    ) -> None:
        """Report rows where `mask` is true (message may depend on the row position)."""
        m = np.asarray(mask, dtype=bool)
        rows = np.flatnonzero(m & ~self.bad)
        if severity == "error":
            self.bad |= m
        lines = self.table.line_no
        for i in rows:
            text = message(int(i)) if callable(message) else message
            self.problems.append(Problem(text, line=int(lines[i]), field=field, severity=severity))

    def skip(
        self, mask: np.ndarray | pd.Series, field: str | None, message: str | Callable[[int], str]
    ) -> None:
        """Leave rows out on purpose (a status that moves no money): a warning each, no error."""
        self.add(mask, field, message, severity="warning")
        self.bad |= np.asarray(mask, dtype=bool)

    def sorted(self) -> list[Problem]:
        """Problems in file order."""
        return sorted(self.problems, key=lambda p: p.line or 0)


def map_values(values: pd.Series, fn: Callable[[str], Any], typ: pa.DataType) -> pd.Series:
    """Apply `fn` to each distinct non-null value and spread the results (low-cardinality text).

    Far cheaper than `Series.map` on a million rows of a dozen currency or category codes.
    """
    arr = arrow(values)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    enc = pc.dictionary_encode(arr)
    mapped = pa.array([fn(v) for v in enc.dictionary.to_pylist()], type=typ)
    return pd.Series(pd.array(mapped.take(enc.indices), dtype=pd.ArrowDtype(typ)))


def _currency_code(text: str) -> str | None:
    code = text.strip().upper()
    return code if code in KNOWN_CURRENCIES else None


def currencies(
    values: pd.Series, issues: Issues, field: str, *, default: str | None = None
) -> pd.Series:
    """Upper-cased ISO 4217 codes; unknown or missing codes are row problems (left null)."""
    if default is not None:
        values = values.fillna(default)
    codes = map_values(values, _currency_code, pa.string())
    unknown = codes.isna().to_numpy(dtype=bool)
    if unknown.any():
        texts = values.to_numpy(dtype=object, na_value=None)
        issues.add(
            unknown,
            field,
            lambda i: (
                "currency is missing"
                if texts[i] is None
                else f"unknown currency {texts[i]!r} (not an ISO 4217 code)"
            ),
        )
    return codes


def exponents(cur: pd.Series) -> np.ndarray:
    """Minor-unit exponent of each row's currency (2 where the currency is unknown)."""
    exps = map_values(cur, exponent, pa.int64())
    return exps.fillna(2).to_numpy(dtype=np.int64)


# A value shows its decimal mark when the mark is followed by one or two digits at the end, or
# when the other separator groups thousands before it (`1.234,5`). `1,234` and `1.234` show none.
_COMMA_DECIMAL = r"(?:,\d{1,2}$)|(?:\.\d{3},)"
_DOT_DECIMAL = r"(?:\.\d{1,2}$)|(?:,\d{3}\.)"


def guess_decimal_comma(samples: Iterable[pd.Series]) -> bool:
    """True when amounts are written `1.234,56` rather than `1,234.56` (decided per file)."""
    comma = dot = 0
    for s in samples:
        arr = arrow(s)
        comma += int(pc.sum(pc.match_substring_regex(arr, _COMMA_DECIMAL)).as_py() or 0)
        dot += int(pc.sum(pc.match_substring_regex(arr, _DOT_DECIMAL)).as_py() or 0)
    return comma > dot


def decimal_mark(
    columns: Sequence[tuple[str, pd.Series]], issues: Issues, declared: bool | None = None
) -> tuple[bool, str | None]:
    """The decimal mark of a file's amount columns, decided from every value, never per row.

    Values that show a comma decimal mark (`12,34`, `1.234,56`) and values that show a point
    (`12.34`, `1,234.56`) are counted over the whole columns (arrow regex kernels). When both
    occur the file mixes conventions: the minority's rows (both sides on a tie) are problems.
    A `declared` mark (mapping profile) is used as is; `amounts` refuses values against it.

    Returns:
        (decimal comma?, a sentence for the import report saying how the mark was decided, or
        None when no value shows one).
    """
    n = len(issues.table)
    comma_rows, dot_rows = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for _field, values in columns:
        arr = arrow(values.reset_index(drop=True))
        for rows, pattern in ((comma_rows, _COMMA_DECIMAL), (dot_rows, _DOT_DECIMAL)):
            hit = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
            rows |= hit.to_numpy(zero_copy_only=False)
    n_comma, n_dot = int(comma_rows.sum()), int(dot_rows.sum())
    if declared is not None:
        mark = "," if declared else "."
        return bool(declared), f"amounts read with {mark!r} as the decimal mark (declared)"
    if not n_comma and not n_dot:
        return False, None
    comma = n_comma > n_dot
    mark = "," if comma else "."
    if n_comma and n_dot:
        against = (
            (comma_rows | dot_rows) if n_comma == n_dot else (dot_rows if comma else comma_rows)
        )
        texts = [
            v.reset_index(drop=True).to_numpy(dtype=object, na_value=None) for _f, v in columns
        ]

        def message(i: int) -> str:
            text = next((t[i] for t in texts if t[i] is not None), None)
            own, other, count = (".", ",", n_comma) if dot_rows[i] else (",", ".", n_dot)
            return (
                f"amount {text!r} uses {own!r} as the decimal mark, but {count:,} other value(s) "
                f"use {other!r}: the file mixes number formats; correct the line or declare the "
                "decimal mark in a mapping profile (decimal_comma)"
            )

        issues.add(against, columns[0][0], message)
        return comma, (
            f"amounts read with {mark!r} as the decimal mark ({max(n_comma, n_dot):,} values "
            f"show it, {min(n_comma, n_dot):,} show the other mark and are refused)"
        )
    return comma, (
        f"amounts read with {mark!r} as the decimal mark (detected from all "
        f"{n_comma or n_dot:,} values that show one)"
    )


def _scale(d: Decimal, exp: int, text: str) -> int:
    scaled = d.scaleb(exp)
    check_bound(scaled, text)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text} has more than {exp} decimals")
    return int(scaled)


def _decimal_words(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Cast text to decimal128(18, 4) and return the unscaled values (value * 10**4) as int64.

    Scientific notation (`1e3`), which the cast would accept, is refused: no report writes it.
    """
    if pc.any(pc.match_substring(arr, "e")).as_py() or pc.any(pc.match_substring(arr, "E")).as_py():
        raise pa.ArrowInvalid("scientific notation")
    dec = pc.cast(arr, pa.decimal128(18, 4))
    if isinstance(dec, pa.ChunkedArray):
        dec = dec.combine_chunks()
    words = np.frombuffer(dec.buffers()[1], dtype=np.int64)[::2]  # low word, two's complement
    return words[dec.offset : dec.offset + len(dec)].copy()


def amounts(
    values: pd.Series,
    exps: np.ndarray,
    issues: Issues,
    field: str,
    *,
    decimal_comma: bool | None = False,
    required: bool = True,
) -> pd.Series:
    """Exact integer minor units from major-unit text (vectorised; no floats).

    The column is cast to decimal128 by pyarrow in one go and scaled with integer arithmetic;
    only when that fails (`1.234,56`, `(3.00)`, `$120`) are the rows that are not plain
    `-1234.5` amounts read one by one with `money.parse_decimal`, which also says what is wrong.
    Missing values are problems when `required`, else null.

    Returns:
        nullable Int64 Series (null where missing or bad).
    """
    values = values.reset_index(drop=True)
    isnull = values.isna().to_numpy(dtype=bool)
    try:
        scaled = _decimal_words(arrow(values)) if decimal_comma is not True else None
        plain = ~isnull
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        scaled = None
    if scaled is None:
        s = values
        if decimal_comma:
            # only well-grouped values take the fast path; the rest are read (and refused) below
            ok = s.str.fullmatch(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d*)(?:,\d*)?", na=False)
            s = s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            s = s.where(ok, "x")
        elif decimal_comma is False:
            grouped = s.str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", na=False)
            if grouped.any():
                s = s.where(~grouped, s.str.replace(",", "", regex=False))
        plain = s.str.fullmatch(r"[+-]?[0-9]{1,14}(\.[0-9]{0,4})?", na=False).to_numpy(dtype=bool)
        parr = pa.array(s.to_numpy(dtype=object, na_value=None), type=pa.string())
        parr = pc.if_else(pa.array(plain), parr, pa.scalar(None, pa.string()))
        scaled = _decimal_words(parr)
    div = 10 ** (4 - np.clip(exps, 0, 4))
    out = np.where(plain, scaled // div, 0)
    bad = plain & (scaled % div != 0)
    large = plain & (np.abs(out) > MAX_MINOR)
    if plain.all() and not bad.any() and not large.any():
        return pd.Series(pd.array(out, dtype="Int64"))
    texts = values.to_numpy(dtype=object, na_value=None)
    messages: dict[int, str] = {
        int(i): f"{texts[i]} has more than {exps[i]} decimals" for i in np.flatnonzero(bad)
    }
    for i in np.flatnonzero(large):
        messages[int(i)] = too_large_message(str(texts[i]))
    bad |= large
    for i in np.flatnonzero(~plain & ~isnull):
        try:
            d = parse_decimal(texts[i], decimal_comma=decimal_comma)
            out[i] = _scale(d, int(exps[i]), texts[i])
        except ValueError as exc:
            bad[i] = True
            messages[int(i)] = str(exc)
    if required:
        bad |= isnull
        for i in np.flatnonzero(isnull):
            messages[int(i)] = "amount is missing"
    issues.add(bad, field, lambda i: messages[i])
    result = pd.array(out, dtype="Int64")
    result[isnull | bad] = pd.NA
    return pd.Series(result)


def iso_timestamps(
    values: pd.Series, issues: Issues, field: str, *, required: bool = True
) -> pd.Series:
    """`YYYY-MM-DD[ HH:MM[:SS]]` text (UTC) to aware UTC timestamps; invalid dates are problems.

    pyarrow's cast is strict (2026-02-30 fails), so the whole column is cast at once and only a
    failing column is parsed again by pandas to find the bad rows.
    """
    values = values.reset_index(drop=True)
    try:
        ts = pc.cast(arrow(values), pa.timestamp("us"))
    except pa.ArrowInvalid:
        parsed = pd.to_datetime(values.astype(object), format="ISO8601", errors="coerce", utc=True)
        bad = (parsed.isna() & values.notna()).to_numpy(dtype=bool)
        texts = values.to_numpy(dtype=object, na_value=None)
        issues.add(bad, field, lambda i: f"not a valid date/time: {texts[i]!r}")
        naive = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        ts = pa.array(naive, type=pa.timestamp("us"), from_pandas=True)
    if required:
        issues.add(values.isna().to_numpy(dtype=bool), field, "date is missing")
    return pd.Series(pd.array(pc.assume_timezone(ts, "UTC"), dtype=UTC_TS))


def epoch_seconds(values: Sequence[int | None]) -> pd.Series:
    """Unix seconds (Stripe API) to aware UTC timestamps."""
    arr = pa.array([None if v is None else int(v) * 1_000_000 for v in values], type=pa.int64())
    return pd.Series(pd.array(arr.cast(pa.timestamp("us", tz="UTC")), dtype=UTC_TS))


def utc_dates(ts: pd.Series) -> pd.Series:
    """Calendar date (UTC) of aware timestamps."""
    arr = arrow(ts)
    return pd.Series(pd.array(pc.cast(pc.cast(arr, pa.timestamp("us")), pa.date32()), dtype=DATE))


def guess_day_first(values: pd.Series, default: bool) -> bool:
    """For `a/b/yyyy` dates: day first if some a > 12, month first if some b > 12, else default."""
    parts = values.dropna().astype(str).str.extract(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}")
    parts = parts.dropna()
    if parts.empty:
        return default
    a, b = parts[0].astype(int), parts[1].astype(int)
    if (a > 12).any():
        return True
    if (b > 12).any():
        return False
    return default


def _tz_offset(name: str) -> dt.tzinfo | None:
    key = name.strip()
    if not key:
        return dt.UTC
    if key.upper() in TZ_ABBREVIATIONS:
        return dt.timezone(dt.timedelta(minutes=TZ_ABBREVIATIONS[key.upper()]), key.upper())
    m = re.fullmatch(r"(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?", key, flags=re.IGNORECASE)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        return dt.timezone(dt.timedelta(minutes=minutes if m.group(1) == "+" else -minutes))
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def local_datetimes(
    dates: pd.Series,
    times: pd.Series | None,
    zones: pd.Series | None,
    issues: Issues,
    *,
    date_field: str,
    zone_field: str | None,
    date_format: str | None,
    default_zone: str = "UTC",
) -> tuple[pd.Series, pd.Series]:
    """Local date (+ time) text in a per-row time zone -> (local date, aware UTC timestamp).

    `date_format` is a strptime format for the date part (None: ISO 8601, time included); the
    time part is `HH:MM[:SS]`. pandas parses with an explicit format, which rejects 2026-02-30.
    Ambiguous local times (the repeated hour when clocks go back) are read as standard time.
    """
    dates = dates.reset_index(drop=True)
    n = len(dates)
    d_text = dates.astype(object).where(dates.notna(), None)
    # Values that carry their own offset (`2026-10-01T12:00:00+02:00`, `...Z`) need no zone.
    offset = (
        dates.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True, na=False).to_numpy(dtype=bool)
        if date_format is None
        else np.zeros(n, dtype=bool)
    )
    if offset.any():
        with_offset = pd.to_datetime(
            d_text.where(offset), format="ISO8601", errors="coerce", utc=True
        )
        bare = dates.str.replace(r"\s*(?:Z|[+-]\d{2}:?\d{2})$", "", regex=True)
        local_text = d_text.where(~offset, bare.astype(object))
        stamp = pd.to_datetime(local_text, format="ISO8601", errors="coerce")
    else:
        stamp = pd.to_datetime(d_text, format=date_format or "ISO8601", errors="coerce")
    bad_day = (stamp.isna() & dates.notna()).to_numpy(dtype=bool)
    raw_dates = dates.to_numpy(dtype=object, na_value=None)
    issues.add(bad_day, date_field, lambda i: f"not a valid date: {raw_dates[i]!r}")
    issues.add(dates.isna().to_numpy(dtype=bool), date_field, "date is missing")
    local = stamp.to_numpy(dtype="datetime64[s]")
    if times is not None:
        t = times.reset_index(drop=True).fillna("00:00:00").astype(str).str.strip()
        tt = pd.to_timedelta(t.where(t.str.count(":") >= 2, t + ":00"), errors="coerce")
        bad_t = (tt.isna() | (tt >= pd.Timedelta(days=1))).to_numpy(dtype=bool)
        raw_t = times.to_numpy(dtype=object, na_value=None)
        issues.add(bad_t, None, lambda i: f"not a valid time: {raw_t[i]!r}")
        local = local + tt.fillna(pd.Timedelta(0)).to_numpy(dtype="timedelta64[s]")
    utc = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    zone_names = (
        zones.reset_index(drop=True).fillna(default_zone).astype(str).str.strip()
        if zones is not None
        else pd.Series([default_zone] * n, dtype=object)
    )
    zone_arr = zone_names.to_numpy(dtype=object)
    for name in pd.unique(zone_arr[~offset]):
        rows = (zone_arr == name) & ~offset
        tz = _tz_offset(str(name))
        if tz is None:
            issues.add(rows, zone_field, f"unknown time zone {name!r}")
            continue
        part = pd.DatetimeIndex(local[rows])
        aware = part.tz_localize(
            tz, ambiguous=np.zeros(len(part), dtype=bool), nonexistent="shift_forward"
        )
        utc[rows] = aware.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[s]")
    if offset.any():
        utc[offset] = with_offset[offset].dt.tz_localize(None).to_numpy(dtype="datetime64[s]")
    day = pa.array(local.astype("datetime64[D]"), from_pandas=True).cast(pa.date32())
    stamp_utc = pa.array(utc.astype("datetime64[us]"), from_pandas=True)
    return (
        pd.Series(pd.array(day, dtype=DATE)),
        pd.Series(pd.array(pc.assume_timezone(stamp_utc, "UTC"), dtype=UTC_TS)),
    )


def _all_distinct(values: pa.ChunkedArray | pa.Array) -> bool:
    """True when no non-null value occurs twice.

    PSP ids have one length per file: their bytes are then folded into one 64-bit hash each
    (numpy), and distinct hashes prove distinct ids in a fraction of the time a string hash
    table takes. Anything else (or a hash collision) is decided by arrow's exact `unique`.
    """
    arr = pc.drop_null(values)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    n = len(arr)
    if n < 2:
        return True
    if pa.types.is_string(arr.type):
        lo, hi = pc.min_max(pc.binary_length(arr)).values()
        width = int(lo.as_py() or 0)
        if width == hi.as_py() and 0 < width <= 64:
            offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset :]
            start = int(offsets[0])
            raw = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[start : start + n * width]
            words = -(-width // 8)
            padded = np.zeros((n, words * 8), dtype=np.uint8)
            padded[:, :width] = raw.reshape(n, width)
            h = np.zeros(n, dtype=np.uint64)
            with np.errstate(over="ignore"):
                for w in padded.view(np.uint64).T:
                    h = (h ^ w) * np.uint64(0x9E3779B97F4A7C15)
                    h ^= h >> np.uint64(29)
            if len(pd.unique(h)) == n:
                return True
    return len(pc.unique(arr)) == n


def repeated_ids(
    ids: pd.Series, issues: Issues, field: str, what: str, among: np.ndarray | None = None
) -> None:
    """A PSP's unique transaction id that occurs again in the same file: each later row is a
    problem naming the line of the first (one charge is never stored twice).

    Rows already refused are not counted; `among` limits the check to some rows (Adyen's
    payment lines, whose PSP reference is the payment's own).
    """
    if _all_distinct(arrow(ids)):
        return  # every id once: the usual case
    keep = ~issues.bad if among is None else (~issues.bad & among)
    live = ids.reset_index(drop=True).where(pd.Series(keep))
    dup = (live.duplicated(keep="first") & live.notna()).to_numpy(dtype=bool)
    if not dup.any():
        return
    texts = live.to_numpy(dtype=object, na_value=None)
    repeated = set(texts[dup])
    lines = issues.table.line_no
    first: dict[str, int] = {}
    for i in np.flatnonzero(~dup & live.notna().to_numpy(dtype=bool)):
        if texts[i] in repeated:
            first.setdefault(texts[i], int(lines[i]))
    issues.add(
        dup,
        field,
        lambda i: (
            f"{what} {texts[i]} occurs again (first on line {first[texts[i]]}): the same "
            "transaction twice in one file"
        ),
    )


def strs(values: pd.Series) -> pd.Series:
    """A text column with surrounding blanks removed and empty strings null."""
    s = values.astype(STRING).str.strip()
    return s.mask(s == "", None)


def first_of(*cols: pd.Series) -> pd.Series:
    """Row-wise first non-null of several text columns."""
    out = cols[0]
    for c in cols[1:]:
        out = out.fillna(c)
    return out
