"""Card numbers (PANs) never reach the database: Luhn-valid 13-19 digit runs are masked 6+4."""

from __future__ import annotations

import re

import pandas as pd

# Digits possibly grouped by single spaces or dashes, 13-19 digits in all, not inside a longer run.
_CANDIDATE = re.compile(r"(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])")
_QUICK = r"[0-9](?:[ -]?[0-9]){12,18}"


def luhn_ok(digits: str) -> bool:
    """Luhn checksum of a digit string."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _mask_digits(digits: str) -> str:
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def is_pan(digits: str) -> bool:
    """13-19 digits, Luhn-valid, not starting with 0 (no card scheme issues MII 0 numbers)."""
    return 13 <= len(digits) <= 19 and digits[0] != "0" and luhn_ok(digits)


def mask_text(text: str, keep: frozenset[str] = frozenset()) -> tuple[str, int]:
    """Mask every PAN-like, Luhn-valid run in `text`; returns (masked text, number masked).

    Args:
        text: any text.
        keep: digit strings that are known not to be card numbers (a PSP's own 16-digit
            payment references on the same line), left as they are.
    """
    count = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal count
        raw = m.group(0)
        digits = re.sub(r"[ -]", "", raw)
        if digits not in keep and is_pan(digits):
            count += 1
            return _mask_digits(digits)
        return raw

    if not text or not any(c.isdigit() for c in text):
        return text, 0
    return _CANDIDATE.sub(repl, text), count


def mask_series(values: pd.Series) -> tuple[pd.Series, int]:
    """Vectorised pre-filter, then `mask_text` only on the rows that may hold a PAN."""
    if values.empty:
        return values, 0
    as_str = values.astype("string")
    candidates = as_str.str.contains(_QUICK, regex=True, na=False)
    if not candidates.any():
        return values, 0
    total = 0
    out = values.copy().astype(object)
    for idx, text in as_str[candidates].items():
        masked, n = mask_text(str(text))
        if n:
            out.at[idx] = masked
            total += n
    return out, total
