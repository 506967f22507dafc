"""Reading CSV/XLSX files into a `Table`: every column as text, each row's line, the headers.

Shared by the PSP report importers (Stripe, Adyen, PayPal, Braintree) and the generic tabular one;
`column_values` turns the text into money, currencies and dates. A file becomes a `Table`: every
column as text (pyarrow-backed strings, empty cells null), the 1-based file line of each row, and
the header names as written. Columns are always looked up by a normalised header name (case,
spacing, accents and punctuation ignored), never by position.

Reading: `pd.read_csv(engine="pyarrow", dtype_backend="pyarrow")` first, which parses a million
rows in a fraction of a second. It is trusted only when every data row is exactly one physical
line (the newline count says so), because only then the line numbers are known without reading
the text again. Anything else (quoted newlines, blank lines, ragged or truncated rows, legacy
charsets) goes through the `csv` module on the decoded text, which knows each row's line.

Raw rows (`Table.raw`): a record's `raw` is the original row. For tables up to `RAW_DICT_ROWS`
rows it is a dict of header -> value (empty cells left out). For bigger files that were read on the
fast path it is `{"line": "<the row's CSV text>"}`, built from the file's bytes by `raw_lines`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import UserError
from .base import Problem
from .raw_lines import line_starts, raw_json_lines
from .text import DecodeError, check_line_length, decode

STRING = pd.ArrowDtype(pa.string())
RAW_DICT_ROWS = 200_000
_DELIMITERS = ",;\t|"


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
    if len(head) >= 65536 and b"\n" in head:
        head = head[: head.rindex(b"\n")]  # never decode a character cut in two
    try:
        text, _enc = decode(head)
    except DecodeError:  # a sample for sniffing only; reading the file says what is wrong
        utf16 = head[:2] in (b"\xff\xfe", b"\xfe\xff")
        text = head.decode("utf-16" if utf16 else "utf-8", errors="replace")
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
    except (UnicodeError, LookupError):
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


def arrow(values: pd.Series) -> pa.ChunkedArray:
    """The pyarrow array behind a text column (built from the values if there is none)."""
    arr = values.array
    pa_arr = getattr(arr, "_pa_array", None)
    if pa_arr is None:
        return pa.chunked_array([pa.array(values.astype(object).tolist(), type=pa.string())])
    return pa_arr  # type: ignore[no-any-return]


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
            arr = arrow(s)
            padded = (
                pc.any(pc.starts_with(arr, " ")).as_py() or pc.any(pc.ends_with(arr, " ")).as_py()
            )
            if padded:  # trimming costs a copy, so only columns that need it are trimmed
                s = s.str.strip()
                s = s.mask(s == "", None)
            chunked = arrow(s)
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
        starts, other_control = line_starts(data)
        if len(starts) - 1 != len(frame) + 1:
            return None
        raw_lines = raw_json_lines(data, starts, other_control)
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
        try:
            text, encoding = decode(data, file=str(path))
        except DecodeError as exc:  # say which column the undecodable byte is in
            field = exc.field or _field_at(data, exc.line)
            raise DecodeError(exc.message, file=exc.file, line=exc.line, field=field) from None
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
        if "field limit" in str(exc):
            raise UserError(
                f"a value on this line is longer than {csv.field_size_limit():,} characters",
                file=str(path),
                line=last_line + 1,
            ) from exc
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


def _field_at(data: bytes, line: int | None) -> str | None:
    """The header of the cell holding an undecodable byte on `line` (for the message)."""
    if not line or line < 2 or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None
    lines = data.split(b"\n", line)[:line]
    header, row = (ln.decode("utf-8", errors="replace") for ln in (lines[0], lines[-1]))
    delimiter = sniff_delimiter(header)
    try:
        names = next(csv.reader([header], delimiter=delimiter))
        cells = next(csv.reader([row], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return None
    hit = next((i for i, c in enumerate(cells) if "\ufffd" in c), None)
    return names[hit].strip() if hit is not None and hit < len(names) else None


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
    check_line_length(data, str(path))
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
