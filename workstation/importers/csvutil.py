"""Reading CSV/XLSX tables and converting their columns to exact money, dates and problems.

Shared by the PSP report importers (Stripe, Adyen, PayPal, Braintree) and the generic tabular one.
A file becomes a `Table`: every column as text (pyarrow-backed strings, empty cells null), the
1-based file line of each row, and the header names as written. Columns are always looked up by a
normalised header name (case, spacing, accents and punctuation ignored), never by position.

Reading: `pd.read_csv(engine="pyarrow", dtype_backend="pyarrow")` first, which parses a million
rows in a fraction of a second. It is trusted only when every data row is exactly one physical
line (the newline count says so), because only then the line numbers are known without reading
the text again. Anything else (quoted newlines, blank lines, ragged or truncated rows, legacy
charsets) goes through the `csv` module on the decoded text, which knows each row's line.

Raw rows (`Table.raw`): a record's `raw` is the original row. For tables up to `RAW_DICT_ROWS`
rows it is a dict of header -> value (empty cells left out). For bigger files that were read on the
fast path it is `{"line": "<the row's CSV text>"}`, built as JSON text straight from the file's
bytes (a newline scan, one `bytes.replace` and an offsets array: 0.3-0.5 s per million rows)
because building per-row dicts, or JSON objects column by column with pyarrow string kernels,
measured 3-7 s per million rows here, and every byte of `raw` is also scanned for card numbers
and written to the database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import UserError
from ..money import exponent, parse_decimal
from .base import Problem, Progress
from .text import decode

STRING = pd.ArrowDtype(pa.string())
Bytes = bytes | bytearray
DATE = pd.ArrowDtype(pa.date32())
UTC_TS = pd.ArrowDtype(pa.timestamp("us", tz="UTC"))
RAW_DICT_ROWS = 200_000
_DELIMITERS = ",;\t|"

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


def norm(name: str) -> str:
    """Normalised header name: lower case, no accents, punctuation and spacing collapsed.

    `"Created (UTC)"` -> `"created utc"`, `"Id. de transacción"` -> `"id de transaccion"`,
    `"payment_metadata[order_id]"` -> `"payment metadata order id"`.
    """
    text = unicodedata.normalize("NFKD", name.replace("\ufeff", ""))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def head_text(head: bytes) -> str:
    """The first 64 KiB decoded (BOM aware), cut at the last complete line."""
    text, _enc = decode(head)
    if len(head) >= 65536 and "\n" in text:
        text = text[: text.rindex("\n")]
    return text


def sniff_delimiter(sample: str) -> str:
    """Delimiter of a CSV sample (csv.Sniffer on the first lines, else the most frequent)."""
    lines = [ln for ln in sample.splitlines() if ln.strip()][:20]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def header_names(head: bytes) -> list[str]:
    """Normalised names of the first non-empty line of a CSV head (for sniffers); [] if none."""
    if is_xlsx(head):
        return []
    try:
        text = head_text(head)
    except (UnicodeDecodeError, LookupError):
        return []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    delim = sniff_delimiter("\n".join(lines[:20]))
    try:
        row = next(csv.reader([lines[0]], delimiter=delim))
    except (csv.Error, StopIteration):
        return []
    return [norm(c) for c in row]


def is_xlsx(head: bytes) -> bool:
    """An Office Open XML workbook (zip with an `xl/` part)."""
    return head.startswith(b"PK\x03\x04") and (b"xl/" in head or b"[Content_Types]" in head)


@dataclass
class Table:
    """A file's rows as text columns, with each row's line number and header names."""

    path: Path
    frame: pd.DataFrame
    line_no: np.ndarray
    headers: list[str]
    encoding: str = "utf-8"
    delimiter: str = ","
    raw_lines: pa.Array | None = None
    ragged: list[Problem] = field(default_factory=list)
    _by_norm: dict[str, str] = field(default_factory=dict, repr=False)
    _stripped: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        for h in self.headers:
            self._by_norm.setdefault(norm(h), h)

    def __len__(self) -> int:
        return len(self.frame)

    def find(self, *candidates: str) -> str | None:
        """The header (as written) of the first candidate name present, compared normalised."""
        for cand in candidates:
            hit = self._by_norm.get(norm(cand))
            if hit is not None:
                return hit
        return None

    def require(self, what: str, *candidates: str) -> str:
        """Like `find`, but a missing column is a UserError naming the headers found."""
        hit = self.find(*candidates)
        if hit is None:
            raise UserError(
                f"no {what} column (looked for {', '.join(repr(c) for c in candidates)}); "
                f"headers: {', '.join(self.headers)}",
                file=str(self.path),
                line=1,
            )
        return hit

    def col(self, header: str | None) -> pd.Series:
        """Column text (stripped, empty = null); an all-null column when `header` is None."""
        if header is None:
            return pd.Series(pd.array(pa.nulls(len(self.frame), pa.string()), dtype=STRING))
        if header not in self._stripped:
            s = self.frame[header]
            arr = _arrow(s)
            padded = (
                pc.any(pc.starts_with(arr, " ")).as_py() or pc.any(pc.ends_with(arr, " ")).as_py()
            )
            if padded:  # trimming costs a copy, so only columns that need it are trimmed
                s = s.str.strip()
                s = s.mask(s == "", None)
            chunked = _arrow(s)
            if isinstance(chunked, pa.ChunkedArray) and chunked.num_chunks > 1:
                # one contiguous array per column (replacing the reader's chunks, not copying
                # them alongside): consumers may treat a column as a plain pa.Array
                s = pd.Series(pd.array(chunked.combine_chunks(), dtype=s.dtype))
            self.frame[header] = s
            self._stripped.add(header)
        return self.frame[header]

    def values(self, header: str | None) -> pd.Series:
        """Column as read, for the converters (amounts, dates, codes), which tolerate blanks
        themselves: skips `col`'s trimming check and re-chunking."""
        if header is None or header in self._stripped:
            return self.col(header)
        return self.frame[header]

    def raw(self) -> pd.Series:
        """The `raw` column (see the module docstring for the two shapes)."""
        if self.raw_lines is not None and len(self.frame) > RAW_DICT_ROWS:
            return pd.Series(pd.array(self.raw_lines, dtype=STRING))
        records = self.frame.to_dict("records")
        return pd.Series(
            [{k: v for k, v in r.items() if isinstance(v, str)} for r in records], dtype=object
        )


_JSON_ESCAPES = ((b"\\", b"\\\\"), (b'"', b'\\"'), (b"\t", b"\\t"), (b"\r", b""))
_OTHER_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _line_starts(data: Bytes | np.ndarray) -> tuple[np.ndarray, bool]:
    """Byte offset of every line start plus len(data) (data ends with a newline), and whether
    the text holds control characters other than tab, CR and LF.

    Scanned in 16 MiB slices so the temporary comparison masks stay small.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    step = 1 << 24
    parts = [np.zeros(1, dtype=np.int64)]
    low = 0
    for off in range(0, len(buf), step):
        chunk = buf[off : off + step]
        parts.append(np.flatnonzero(chunk == 10).astype(np.int64) + (off + 1))
        low += int(np.count_nonzero(chunk < 32))
    starts = np.concatenate(parts)
    other = low - (len(starts) - 1)
    for byte in (9, 13):  # tab and CR are fine; `in` is a fast memchr, counting only if present
        if not isinstance(data, bytes | bytearray) or bytes((byte,)) in data:
            other -= sum(
                int(np.count_nonzero(buf[o : o + step] == byte)) for o in range(0, len(buf), step)
            )
    return starts, other > 0


_STEP_BYTES = 1 << 22


def _piece(data: Bytes | np.ndarray, start: int) -> bytes:
    part = data[start : start + _STEP_BYTES]
    return part.tobytes() if isinstance(part, np.ndarray) else bytes(part)


def _replace_in_steps(data: Bytes | np.ndarray, old: bytes, new: bytes) -> Bytes | np.ndarray:
    """`data.replace(old, new)` for a single byte `old`, done 4 MiB at a time into one buffer.

    The same bytes as one call, but no single call holds the GIL for a tenth of a second on a
    big file, and only one output buffer exists (joining slices would need two). The buffer is
    a numpy array: `bytearray(n)` would zero-fill hundreds of megabytes in one GIL-held call.
    """
    if len(data) <= _STEP_BYTES:
        return _piece(data, 0).replace(old, new)
    steps = range(0, len(data), _STEP_BYTES)
    hits = sum(_piece(data, i).count(old) for i in steps)
    out = np.empty(len(data) + hits * (len(new) - len(old)), dtype=np.uint8)
    pos = 0
    for i in steps:
        piece = _piece(data, i).replace(old, new)
        out[pos : pos + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
        pos += len(piece)
    return out


def _blank_controls_in_steps(data: Bytes) -> Bytes | np.ndarray:
    """Control characters other than tab, CR and LF become spaces (same length), in steps."""
    if len(data) <= _STEP_BYTES:
        return _OTHER_CONTROL.sub(b" ", data)
    out = np.empty(len(data), dtype=np.uint8)
    for i in range(0, len(data), _STEP_BYTES):
        piece = _OTHER_CONTROL.sub(b" ", _piece(data, i))
        out[i : i + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
    return out


def _raw_json_lines(data: Bytes, starts: np.ndarray, other_control: bool) -> pa.Array:
    """`{"line": "..."}` JSON text per data line, built from the file bytes with no per-row work.

    `starts` are the byte offsets of every line (header included) plus len(data). Escaping is
    done on the whole text (a few `bytes.replace` calls) only when the text needs it.
    """
    text: Bytes | np.ndarray = _blank_controls_in_steps(data) if other_control else data
    for plain, escaped in _JSON_ESCAPES:
        # Looked up in the original: no step creates a byte a later step escapes (backslashes
        # are escaped first), so this is the same test as on the edited text.
        if plain in data:
            text = _replace_in_steps(text, plain, escaped)
    if text is not data:
        starts, _ = _line_starts(text)
    prefix, suffix = b'{"line":"', b'"}'
    # body = L0 S P L1 S P ... L(n) S P: every data line i >= 1 reads P L(i) S, and the header
    # line (value 0, dropped below) needs no prefix, which saves copying the whole file again.
    body = _replace_in_steps(text, b"\n", suffix + prefix)
    grow = len(prefix) + len(suffix) - 1
    offsets = starts + np.arange(len(starts), dtype=np.int64) * grow - len(prefix)
    offsets[0] = 0
    if offsets[-1] >= 2**31 - 1:
        typ: pa.DataType = pa.large_string()
        buf = pa.py_buffer(offsets.astype(np.int64))
    else:
        typ = pa.string()
        buf = pa.py_buffer(offsets.astype(np.int32))
    lines = pa.Array.from_buffers(typ, len(starts) - 1, [None, buf, pa.py_buffer(body)])
    return lines.slice(1)


def _fast_read(path: Path, data: bytes, delimiter: str) -> Table | None:
    """pyarrow read when the file is plain UTF-8 with one row per line; else None."""
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            engine="pyarrow",
            dtype_backend="pyarrow",
            dtype=STRING,
            sep=delimiter,
            keep_default_na=False,
            na_values=[""],
        )
    except Exception:  # pyarrow refuses ragged rows, bad UTF-8, odd quoting: read it slowly
        return None
    headers = [str(c) for c in frame.columns]
    if any(not h.strip() or h.startswith("Unnamed:") for h in headers) or len(set(headers)) != len(
        headers
    ):
        return None
    if not data.endswith(b"\n"):
        data += b"\n"
    if len(frame) <= RAW_DICT_ROWS:
        if data.count(b"\n") != len(frame) + 1:
            return None  # blank lines or newlines inside quoted values: line numbers unknown
        raw_lines = None
    else:
        starts, other_control = _line_starts(data)
        if len(starts) - 1 != len(frame) + 1:
            return None
        raw_lines = _raw_json_lines(data, starts, other_control)
    return Table(
        path=path,
        frame=frame,
        line_no=np.arange(2, len(frame) + 2, dtype=np.int64),
        headers=headers,
        encoding="utf-8",
        delimiter=delimiter,
        raw_lines=raw_lines,
    )


def _unique_headers(row: Sequence[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, h in enumerate(row):
        name = h.replace("\ufeff", "").strip() or f"column {i + 1}"
        base, n = name, 2
        while name in seen:
            name, n = f"{base} ({n})", n + 1
        seen.add(name)
        out.append(name)
    return out


def _slow_read(path: Path, data: bytes, encoding: str | None = None) -> Table:
    """The csv module on the decoded text: any charset, ragged rows, exact line numbers."""
    if encoding:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise UserError(f"the file is not {encoding} text: {exc}", file=str(path)) from exc
    else:
        text, encoding = decode(data)
    delimiter = sniff_delimiter(text[:65536])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    ragged: list[tuple[int, int]] = []
    last_line = 0
    try:
        for row in reader:
            start = last_line + 1
            last_line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _unique_headers(row)
                continue
            rows.append(row)
            lines.append(start)
    except csv.Error as exc:
        raise UserError(
            f"the file is cut off or malformed inside a quoted value ({exc}); export it again",
            file=str(path),
            line=last_line + 1,
        ) from exc
    if header is None:
        raise UserError("the file has no header line", file=str(path))
    width = len(header)
    named = max((i + 1 for i, h in enumerate(header) if not h.startswith("column ")), default=0)
    cleaned: list[list[str | None]] = []
    keep_lines: list[int] = []
    for i, (row, line) in enumerate(zip(rows, lines, strict=True)):
        if len(row) < named:
            if i == len(rows) - 1 and not text.endswith(("\n", "\r")):
                raise UserError(
                    f"the file is cut off: the last row has {len(row)} of {named} fields",
                    file=str(path),
                    line=line,
                )
            ragged.append((line, len(row)))
            continue
        if len(row) > width and any(c.strip() for c in row[width:]):
            ragged.append((line, len(row)))
            continue
        cells = row[:width] + [""] * (width - len(row))
        cleaned.append([c.strip() or None for c in cells])
        keep_lines.append(line)
    frame = pd.DataFrame(cleaned, columns=header, dtype=object).astype(STRING)
    if not cleaned:
        frame = pd.DataFrame({h: pd.array([], dtype=STRING) for h in header})
    return Table(
        path=path,
        frame=frame,
        line_no=np.asarray(keep_lines, dtype=np.int64),
        headers=header,
        encoding=encoding,
        delimiter=delimiter,
        ragged=[
            Problem(f"row has {n} fields, the header has {width}", line=ln) for ln, n in ragged
        ],
    )


def _cell_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return f"{Decimal(format(value, '.15g')):f}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def read_xlsx(path: Path, data: bytes, sheet: str | int | None = None) -> Table:
    """First (or named) sheet of a workbook via python-calamine, every cell as text."""
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        ws = (
            wb.get_sheet_by_name(sheet)
            if isinstance(sheet, str)
            else wb.get_sheet_by_index(sheet or 0)
        )
        cells = ws.to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises its own error types for broken workbooks
        raise UserError(f"cannot read the workbook: {exc}", file=str(path)) from exc
    header: list[str] | None = None
    rows: list[list[str | None]] = []
    lines: list[int] = []
    for i, row in enumerate(cells, start=1):
        texts = [_cell_text(v) for v in row]
        if not any(texts):
            continue
        if header is None:
            header = _unique_headers([t or "" for t in texts])
            continue
        width = len(header)
        rows.append((texts + [None] * width)[:width])
        lines.append(i)
    if header is None:
        raise UserError("the workbook's first sheet is empty", file=str(path))
    frame = (
        pd.DataFrame(rows, columns=header, dtype=object).astype(STRING)
        if rows
        else pd.DataFrame({h: pd.array([], dtype=STRING) for h in header})
    )
    return Table(path, frame, np.asarray(lines, dtype=np.int64), header, encoding="xlsx")


def read_table(path: Path, data: bytes, encoding: str | None = None) -> Table:
    """A CSV (any delimiter, encoding detected unless given) or XLSX file as a `Table`."""
    if is_xlsx(data[:4096]):
        return read_xlsx(path, data)
    if encoding and encoding.lower().replace("-", "").replace("_", "") not in ("utf8", "ascii"):
        return _slow_read(path, data, encoding)
    sample = head_text(data[:65536])
    if not sample.strip():
        raise UserError("the file is empty", file=str(path))
    delimiter = sniff_delimiter(sample)
    table = None
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        table = _fast_read(path, data, delimiter)
    if table is None:
        table = _slow_read(path, data)
    return table


# --------------------------------------------------------------------------- value conversion


class Issues:
    """Row problems of one table: each bad row is reported once and left out."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.bad = np.zeros(len(table), dtype=bool)
        self.problems: list[Problem] = list(table.ragged)

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

    def sorted(self) -> list[Problem]:
        """Problems in file order."""
        return sorted(self.problems, key=lambda p: p.line or 0)


def _arrow(values: pd.Series) -> pa.ChunkedArray:
    arr = values.array
    pa_arr = getattr(arr, "_pa_array", None)
    if pa_arr is None:
        return pa.chunked_array([pa.array(values.astype(object).tolist(), type=pa.string())])
    return pa_arr  # type: ignore[no-any-return]


def map_values(values: pd.Series, fn: Callable[[str], Any], typ: pa.DataType) -> pd.Series:
    """Apply `fn` to each distinct non-null value and spread the results (low-cardinality text).

    Far cheaper than `Series.map` on a million rows of a dozen currency or category codes.
    """
    arr = _arrow(values)
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


def guess_decimal_comma(samples: Iterable[pd.Series]) -> bool:
    """True when amounts are written `1.234,56` rather than `1,234.56` (decided per file)."""
    comma = dot = 0
    for s in samples:
        v = s.dropna().astype(str).head(5000)
        comma += int(v.str.contains(r",\d{1,2}$", regex=True).sum())
        dot += int(v.str.contains(r"\.\d{1,2}$", regex=True).sum())
        comma += int(v.str.contains(r"\.\d{3},", regex=True).sum())
        dot += int(v.str.contains(r",\d{3}\.", regex=True).sum())
    return comma > dot


def _scale(d: Decimal, exp: int, text: str) -> int:
    scaled = d.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text} has more than {exp} decimals")
    return int(scaled)


def _decimal_words(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Cast text to decimal128(18, 4) and return the unscaled values (value * 10**4) as int64."""
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
        scaled = _decimal_words(_arrow(values)) if decimal_comma is not True else None
        plain = ~isnull
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        scaled = None
    if scaled is None:
        s = values
        if decimal_comma:
            s = s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
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
    if plain.all() and not bad.any():
        return pd.Series(pd.array(out, dtype="Int64"))
    texts = values.to_numpy(dtype=object, na_value=None)
    messages: dict[int, str] = {
        int(i): f"{texts[i]} has more than {exps[i]} decimals" for i in np.flatnonzero(bad)
    }
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
        ts = pc.cast(_arrow(values), pa.timestamp("us"))
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
    arr = _arrow(ts)
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


def report(progress: Progress | None, done: int, total: int, text: str) -> None:
    """Call the progress callback (which may raise Cancelled)."""
    if progress is not None:
        progress(done, total, text)


def finish(records: dict[str, Any], issues: Issues) -> pd.DataFrame:
    """Build the records frame from column arrays and drop the rows with problems."""
    frame = pd.DataFrame(records, copy=False)
    keep = ~issues.bad
    if not keep.all():
        frame = frame.loc[keep].reset_index(drop=True)
    for name in frame.columns:
        col = frame[name]
        chunked = getattr(col.array, "_pa_array", None)
        if chunked is not None and chunked.num_chunks > 1:
            # one contiguous array per column: consumers may treat it as a plain pa.Array
            frame[name] = pd.Series(pd.array(chunked.combine_chunks(), dtype=col.dtype))
        elif isinstance(col.dtype, pd.Int64Dtype) and col.isna().any():
            # nullable integers with gaps travel as Python ints / None, which every writer takes
            frame[name] = col.astype(object).where(col.notna(), None)
    return frame
