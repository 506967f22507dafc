"""Decoding of text files: BOMs, UTF-8, legacy 8-bit charsets detected with charset-normalizer."""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: bytes, *, fallback: str = "cp1252") -> tuple[str, str]:
    """Decode bytes to text; returns (text, encoding used).

    UTF-8 is tried first (most files); otherwise charset-normalizer picks the legacy charset, and
    `fallback` is used when it has no opinion (short files).
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data.decode(enc), enc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[:200_000]).best()
    if best is not None and best.encoding:
        try:
            return data.decode(best.encoding), best.encoding
        except (UnicodeDecodeError, LookupError):
            pass
    return data.decode(fallback, errors="replace"), fallback


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
