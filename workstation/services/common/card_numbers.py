"""Card numbers (PANs) never reach the database: Luhn-valid 13-19 digit runs are masked 6+4.

One masking function (`mask_text`) serves every write path: imports, notes, text fields, text
evidence and exports. A PAN may be written in one run (`4111111111111111`) or in groups split
by one or two spaces, dots or dashes (`4111 1111 1111 1111`, `4111.1111.1111.1111`,
`4111-1111-1111-1111`, `4111  1111  1111  1111`). `may_hold_pan` is the same shape for RE2
(pyarrow's vectorised `match_substring_regex`): a row it rejects holds no card number,
so bulk paths run `mask_text` only on the rows `may_hold_pan` lets through.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_SEP = r"[ .\-]{1,2}"
# A run of digit groups joined by separators with at least 13 digits in all, not touching
# other digits. Which groups form a card number is decided in Python (`_mask_run`).
_CANDIDATE = re.compile(rf"(?<![0-9])[0-9](?:(?:{_SEP})?[0-9]){{12,}}(?![0-9])")
_GROUP = re.compile(r"[0-9]+")
# Two necessary conditions without look-around, for RE2 (both must hold for a row to be
# visited): 13 digits in one run, and the start of a span `_mask_run` could mask: 13 digits in
# one group, two groups (4+ and 3+ digits) with 13 in all, or three groups of 4+, 3+, 3+.
PAN_HINT = rf"[0-9](?:(?:{_SEP})?[0-9]){{12}}"
PAN_GROUPS_HINT = "|".join(
    [
        "[0-9]{13}",
        rf"[0-9]{{4}}(?:{_SEP})[0-9]{{3,}}(?:{_SEP})[0-9]{{3}}",
        *(rf"[0-9]{{{a}}}(?:{_SEP})[0-9]{{{13 - a}}}" for a in range(4, 11)),
    ]
)


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


def _mask_run(run: str, keep: frozenset[str]) -> tuple[str, int]:
    """Mask the card numbers in one run of digit groups.

    A card number is one group of 13-19 digits, or consecutive groups of 3+ digits (the first
    of 4+, as every scheme's grouping starts) with 13-19 digits in all; the longest such span
    from each group is tried first. Dates and amounts (`2024-01-15`, `1.234,56`) have shorter
    groups and are never joined into a card number.
    """
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(run)]
    if len(groups) == 1:
        digits = run
        if digits not in keep and is_pan(digits):
            return _mask_digits(digits), 1
        return run, 0
    out: list[str] = []
    pos = 0
    count = 0
    i = 0
    while i < len(groups):
        start = groups[i][0]
        found = -1
        if groups[i][1] - start >= 4:
            digits = ""
            spans: list[tuple[int, str]] = []
            for j in range(i, len(groups)):
                g0, g1 = groups[j]
                if j > i and g1 - g0 < 3:
                    break
                digits += run[g0:g1]
                if len(digits) > 19:
                    break
                spans.append((j, digits))
            for j, digits in reversed(spans):
                if digits not in keep and is_pan(digits):
                    found = j
                    out.append(run[pos:start])
                    out.append(_mask_digits(digits))
                    pos = groups[j][1]
                    count += 1
                    break
        i = found + 1 if found >= 0 else i + 1
    if not count:
        return run, 0
    out.append(run[pos:])
    return "".join(out), count


def mask_text(text: str, keep: frozenset[str] = frozenset()) -> tuple[str, int]:
    """Mask every PAN-like, Luhn-valid run in `text`; returns (masked text, number masked).

    Args:
        text: any text.
        keep: digit strings that are known not to be card numbers (a PSP's own 16-digit
            payment references on the same line), left as they are.
    """
    if not text or not any(c.isdigit() for c in text):
        return text, 0
    count = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal count
        masked, n = _mask_run(m.group(0), keep)
        count += n
        return masked

    return _CANDIDATE.sub(repl, text), count


def mask_json(value: Any, keep: frozenset[str] = frozenset()) -> tuple[Any, int]:
    """`mask_text` over every string in a JSON value (dicts, lists), and every integer that
    reads as a card number; returns (masked copy, number masked).

    Args:
        value: a JSON-like value, e.g. a PSP's dispute object as stored with the case.
        keep: digit strings known not to be card numbers (the case's own references).
    """
    if isinstance(value, str):
        return mask_text(value, keep)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value, 0
    if isinstance(value, int):
        digits = str(abs(value))
        if is_pan(digits) and digits not in keep:
            return _mask_digits(digits), 1
        return value, 0
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        total = 0
        for k, v in value.items():
            out[k], n = mask_json(v, keep)
            total += n
        return out, total
    if isinstance(value, (list, tuple)):
        items = []
        total = 0
        for v in value:
            masked, n = mask_json(v, keep)
            items.append(masked)
            total += n
        return items, total
    return value, 0


def mask_optional(text: str | None) -> str | None:
    """`mask_text` for a nullable field (notes, comments): None and "" stay as they are."""
    if not text:
        return text
    return mask_text(text)[0]


def may_hold_pan(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Vectorised pre-filter (RE2 in C++): False for every string that holds no card number."""
    hint = pc.fill_null(pc.match_substring_regex(values, PAN_HINT), False)
    if not pc.any(hint).as_py():
        return hint
    return pc.and_(hint, pc.fill_null(pc.match_substring_regex(values, PAN_GROUPS_HINT), False))


def mask_series(values: pd.Series) -> tuple[pd.Series, int]:
    """Vectorised pre-filter, then `mask_text` only on the rows that may hold a PAN."""
    if values.empty:
        return values, 0
    as_str = values.astype("string")
    arrow = pa.array(as_str.to_numpy(dtype=object, na_value=None), type=pa.string())
    candidates = may_hold_pan(arrow).to_numpy(zero_copy_only=False)
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
