"""Each row's `raw` JSON text for big CSV files, built straight from the file's bytes.

A record's `raw` is the original row. For files read on the fast path with more rows than
`csvutil.RAW_DICT_ROWS` it is `{"line": "<the row's CSV text>"}`, made here with a newline scan,
one `bytes.replace` and an offsets array (0.3-0.5 s per million rows), because building per-row
dicts, or JSON objects column by column with pyarrow string kernels, measured 3-7 s per million
rows, and every byte of `raw` is also scanned for card numbers and written to the database.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

Bytes = bytes | bytearray

JSON_ESCAPES = ((b"\\", b"\\\\"), (b'"', b'\\"'), (b"\t", b"\\t"), (b"\r", b""))
OTHER_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def line_starts(data: Bytes | np.ndarray) -> tuple[np.ndarray, bool]:
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


STEP_BYTES = 1 << 22


def _piece(data: Bytes | np.ndarray, start: int) -> bytes:
    part = data[start : start + STEP_BYTES]
    return part.tobytes() if isinstance(part, np.ndarray) else bytes(part)


def replace_in_steps(data: Bytes | np.ndarray, old: bytes, new: bytes) -> Bytes | np.ndarray:
    """`data.replace(old, new)` for a single byte `old`, done 4 MiB at a time into one buffer.

    The same bytes as one call, but no single call holds the GIL for a tenth of a second on a
    big file, and only one output buffer exists (joining slices would need two). The buffer is
    a numpy array: `bytearray(n)` would zero-fill hundreds of megabytes in one GIL-held call.
    """
    if len(data) <= STEP_BYTES:
        return _piece(data, 0).replace(old, new)
    steps = range(0, len(data), STEP_BYTES)
    hits = sum(_piece(data, i).count(old) for i in steps)
    out = np.empty(len(data) + hits * (len(new) - len(old)), dtype=np.uint8)
    pos = 0
    for i in steps:
        piece = _piece(data, i).replace(old, new)
        out[pos : pos + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
        pos += len(piece)
    return out


def blank_controls_in_steps(data: Bytes) -> Bytes | np.ndarray:
    """Control characters other than tab, CR and LF become spaces (same length), in steps."""
    if len(data) <= STEP_BYTES:
        return OTHER_CONTROL.sub(b" ", data)
    out = np.empty(len(data), dtype=np.uint8)
    for i in range(0, len(data), STEP_BYTES):
        piece = OTHER_CONTROL.sub(b" ", _piece(data, i))
        out[i : i + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
    return out


def raw_json_lines(data: Bytes, starts: np.ndarray, other_control: bool) -> pa.Array:
    """`{"line": "..."}` JSON text per data line, built from the file bytes with no per-row work.

    `starts` are the byte offsets of every line (header included) plus len(data). Escaping is
    done on the whole text (a few `bytes.replace` calls) only when the text needs it.
    """
    text: Bytes | np.ndarray = blank_controls_in_steps(data) if other_control else data
    for plain, escaped in JSON_ESCAPES:
        # Looked up in the original: no step creates a byte a later step escapes (backslashes
        # are escaped first), so this is the same test as on the edited text.
        if plain in data:
            text = replace_in_steps(text, plain, escaped)
    if text is not data:
        starts, _ = line_starts(text)
    prefix, suffix = b'{"line":"', b'"}'
    # body = L0 S P L1 S P ... L(n) S P: every data line i >= 1 reads P L(i) S, and the header
    # line (value 0, dropped below) needs no prefix, which saves copying the whole file again.
    body = replace_in_steps(text, b"\n", suffix + prefix)
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
