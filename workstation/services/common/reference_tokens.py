"""Reference tokens: normalisation and extraction of id-like tokens from free text."""

from __future__ import annotations

import re

import pandas as pd

# Known PSP id shapes (Stripe po_/ch_/pi_/txn_..., Adyen 16-char PSP refs), bank end-to-end ids and
# order-number-like tokens (letters and digits mixed, or long digit runs).
_TOKEN = re.compile(
    r"\b(?:(?:po|ch|pi|py|txn|re|dp|tr|in|pm|src|cus|ba|pyr|du)_[A-Za-z0-9]{6,})\b"
    r"|\b(?=[A-Za-z0-9-]*[0-9])(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9-]{5,40}[A-Za-z0-9]\b"
    r"|\b[0-9]{6,30}\b"
)
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")
_STOP = frozenset({"SEPA", "IBAN", "NONREF", "NOTPROVIDED"})


def normalise(token: str) -> str:
    """Case-, punctuation- and leading-zero-insensitive form used for matching."""
    t = _NON_ALNUM.sub("", token).upper()
    if t.isdigit():
        t = t.lstrip("0") or "0"
    return t


def normalise_series(values: pd.Series) -> pd.Series:
    """Vectorised `normalise` over a string Series (nulls stay null)."""
    s = values.astype("string").str.replace(r"[^0-9A-Za-z]+", "", regex=True).str.upper()
    digits = s.str.fullmatch(r"[0-9]+", na=False)
    stripped = s.where(~digits, s.str.lstrip("0"))
    return stripped.mask(digits & (stripped == ""), "0")


def extract_tokens(text: str | None) -> list[str]:
    """Id-like tokens in free text, e.g. `STRIPE PAYMENTS po_1Abc...` -> [`po_1Abc...`]."""
    if not text:
        return []
    out = []
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if normalise(tok) in _STOP or len(normalise(tok)) < 6:
            continue
        out.append(tok)
    return out


def extract_series(values: pd.Series) -> pd.DataFrame:
    """Tokens of each row of a text Series: frame (row, token) with the Series' index as row."""
    s = values.astype("string").dropna()
    if s.empty:
        return pd.DataFrame({"row": pd.Series([], dtype="int64"), "token": []})
    found = s.str.findall(_TOKEN.pattern)
    exploded = found.explode().dropna()
    frame = pd.DataFrame({"row": exploded.index.astype("int64"), "token": exploded.astype(str)})
    return frame
