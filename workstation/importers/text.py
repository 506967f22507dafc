"""Decoding of text files: BOMs, UTF-8, legacy 8-bit charsets detected with charset-normalizer."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from ..errors import UserError

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


# A multi-byte UTF-8 sequence (2-4 bytes): a file that has these is UTF-8, whatever else it holds.
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


class DecodeError(UserError, UnicodeError):
    """Bytes no charset reads without loss, with their line (sniffers: an undecodable head)."""


def decode(data: bytes, *, fallback: str = "cp1252", file: str | None = None) -> tuple[str, str]:
    """Decode bytes to text without losing a character; returns (text, encoding used).

    UTF-8 is tried first (most files). A file that is UTF-8 in places and not in others is
    refused, naming the first line that is not (read as a legacy charset it would turn "Gödel"
    into mojibake). Otherwise charset-normalizer picks the legacy charset, and `fallback` is
    used when it has no opinion (short files); both decode strictly.

    Raises:
        DecodeError: bytes the chosen charset cannot read (with their line).
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return _strict(data, enc, file), enc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if _UTF8_MULTIBYTE.search(data):
            line = data.count(b"\n", 0, exc.start) + 1
            raise DecodeError(
                f"the file is UTF-8 but byte 0x{data[exc.start]:02X} on this line is not valid "
                "UTF-8 (mixed encodings); fix or re-export the file as UTF-8",
                file=file,
                line=line,
            ) from None
    best = from_bytes(data[:200_000]).best()
    if best is not None and best.encoding:
        try:
            return data.decode(best.encoding), best.encoding
        except (UnicodeDecodeError, LookupError):
            pass
    return _strict(data, fallback, file), fallback


def _strict(data: bytes, encoding: str, file: str | None) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].decode(encoding, errors="replace").count("\n") + 1
        raise DecodeError(
            f"byte(s) {data[exc.start : exc.end].hex(' ').upper()} on this line are not {encoding} "
            "text; the file's "
            "encoding could not be recognised (re-export it as UTF-8)",
            file=file,
            line=line,
        ) from None


def looks_binary(head: bytes) -> bool:
    """True for content that is not text (NULs outside UTF-16, many control bytes)."""
    if not head:
        return False
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    ctrl = sum(1 for b in head[:4096] if b < 9 or (13 < b < 32 and b not in (26, 27)))
    return ctrl > max(8, len(head[:4096]) // 50)


# The longest line a line-based file (CSV, MT940, BAI2) may have. Real rows are a few hundred
# bytes; a longer line is a file without line breaks or a quote left open, and reading it would
# cost many times its size in memory before failing.
MAX_LINE_BYTES = 1 << 20


def check_line_length(data: bytes, file: str, limit: int = MAX_LINE_BYTES) -> None:
    """Refuse a file with a line longer than `limit` bytes, before it is decoded or parsed.

    A line longer than `limit` covers a whole aligned window of `limit // 2` bytes, so only
    windows without any newline (found by a C-level `find` that stops at the first one) are
    looked at closer: a gigabyte of short lines costs a few thousand `find` calls.

    Raises:
        UserError: naming the first line that is too long.
    """
    if len(data) <= limit:
        return
    step = max(1, limit // 2)
    for start in range(0, len(data), step):
        end = min(start + step, len(data))
        if end - start < step or data.find(b"\n", start, end) >= 0:
            continue
        line_start = data.rfind(b"\n", 0, start) + 1
        line_end = data.find(b"\n", end)
        if (len(data) if line_end < 0 else line_end) - line_start > limit:
            _too_long(file, data.count(b"\n", 0, line_start) + 1, limit)
    tail = data.rfind(b"\n") + 1  # the last line, shorter than a window but maybe still long
    if len(data) - tail > limit:
        _too_long(file, data.count(b"\n", 0, tail) + 1, limit)


def _too_long(file: str, line: int, limit: int) -> None:
    raise UserError(
        f"this line is longer than {limit:,} bytes: the file has no line breaks there or a "
        "quote that is never closed; export it again",
        file=file,
        line=line,
    )
