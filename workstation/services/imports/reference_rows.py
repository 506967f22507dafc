"""Reference tokens of lines: normalised ids from id columns, payout ids and free text.

The rows go to `record_references`, the table the reconciliation joins records on.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .column_conversions import strings

_MIN_TOKEN = 4


def normalise_tokens(tokens: pa.Array) -> pa.Array:
    """Vectorised `services.common.reference_tokens.normalise`: upper case, alphanumerics only, no
    leading zeros."""
    t = pc.utf8_upper(tokens)
    for ch in ("_", "-"):  # by far the most common separators: cheap literal replaces
        t = pc.replace_substring(t, ch, "")
    odd = pc.fill_null(pc.match_substring_regex(t, r"[^0-9A-Z]"), False)
    if pc.any(odd).as_py():  # the regex runs only on the few tokens that need it
        fixed = pc.replace_substring_regex(pc.filter(t, odd), r"[^0-9A-Z]+", "")
        t = pc.replace_with_mask(t, odd, fixed)
    digits = pc.fill_null(pc.match_substring_regex(t, r"^[0-9]+$"), False)
    if pc.any(digits).as_py():
        t = pc.replace_with_mask(t, digits, pc.utf8_ltrim(pc.filter(t, digits), characters="0"))
    return t


def _text_tokens(values: pa.Array, ids: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Id-like tokens of free text: words of >= 6 characters holding a digit."""
    words = pc.split_pattern(pc.fill_null(values, ""), " ")
    flat = pc.list_flatten(words)
    parents = pc.list_parent_indices(words)
    flat = pc.utf8_trim(flat, characters=",.;:()[]{}'\"<>")
    keep = pc.and_(
        pc.greater_equal(pc.utf8_length(flat), 6), pc.match_substring_regex(flat, r"[0-9]")
    )
    return pc.filter(flat, keep), pc.take(ids, pc.filter(parents, keep))


def reference_rows(df: pd.DataFrame, *, with_external_id: bool = True) -> pa.Table:
    """Table (value, record_id, kind) of normalised tokens, one row per distinct token a record.

    Sources, in priority order for the token's kind: the external id, `ref_<kind>` columns, the
    payout id of payout lines, then id-like words of the description and counterparty. Rows come
    out ordered by (value, record_id), the clustered key of record_references, so SQLite appends.
    """
    ids = pa.array(df["id"].to_numpy(), type=pa.int64())
    kinds: list[str] = []
    values: list[pa.Array] = []
    owners: list[pa.Array] = []
    codes: list[np.ndarray] = []

    def add(kind: str, arr: pa.Array, rec: pa.Array) -> None:
        # Normalised at once, so only the short normalised copy of each column is kept.
        arr = pc.utf8_slice_codeunits(normalise_tokens(arr.cast(pa.string())), 0, 128)
        keep = pc.fill_null(pc.greater_equal(pc.utf8_length(arr), _MIN_TOKEN), False)
        if kind not in kinds:
            kinds.append(kind)
        values.append(pc.filter(arr, keep))
        owners.append(pc.filter(rec, keep))
        codes.append(np.full(len(values[-1]), kinds.index(kind), dtype=np.int8))

    explicit = [("external_id", "id")] if with_external_id else []
    # ref_e2e, ref_e2e_2, ... (several ids of one kind on a line) all have the kind "e2e"
    explicit += [(c, re.sub(r"_\d+$", "", c[4:])) for c in df.columns if c.startswith("ref_")]
    for col, kind in explicit:
        arr = strings(df[col])
        valid = pc.is_valid(arr)
        add(kind, pc.filter(arr, valid), pc.filter(ids, valid))
    payouts = pc.fill_null(pc.equal(strings(df["kind"]), "payout"), False)
    if pc.any(payouts).as_py():
        arr = pc.filter(strings(df["payout_ref"]), payouts)
        valid = pc.is_valid(arr)
        add("payout", pc.filter(arr, valid), pc.filter(pc.filter(ids, payouts), valid))
    # Free text is scanned where the line has no order reference of its own (bank lines,
    # unstructured exports); structured PSP lines already name their ids in columns.
    scan = pc.is_null(strings(df["ref_order"])) if "ref_order" in df.columns else None
    for col in ("description", "counterparty"):
        texts = strings(df[col])
        if scan is not None:
            texts = pc.if_else(scan, texts, pa.scalar(None, pa.string()))
        add("text", *_text_tokens(texts, ids))
    table = pa.table(
        {
            "value": pa.concat_arrays(values),
            "record_id": pa.concat_arrays(owners),
            "code": pa.array(np.concatenate(codes)),
        }
    )
    for parts in (values, owners, codes):  # the concatenated copies are all that is needed now
        parts.clear()
    # Sorted by (value, record, segment): for a token repeated on one line the first segment
    # wins, so explicit columns name the kind before free text does.
    keys = [("value", "ascending"), ("record_id", "ascending"), ("code", "ascending")]
    table = table.take(pc.sort_indices(table, sort_keys=keys))
    value = table.column("value").combine_chunks()
    record = table.column("record_id").combine_chunks()
    n = len(value)
    first = np.ones(n, dtype=bool)
    if n > 1:
        same = pc.and_(
            pc.equal(value.slice(1), value.slice(0, n - 1)),
            pc.equal(record.slice(1), record.slice(0, n - 1)),
        )
        first[1:] = ~same.to_numpy(zero_copy_only=False)
    table = table.filter(pa.array(first))
    kind_col = pa.DictionaryArray.from_arrays(
        table.column("code").combine_chunks(), pa.array(kinds, type=pa.string())
    )
    return pa.table(
        {
            "value": table.column("value"),
            "record_id": table.column("record_id"),
            "kind": kind_col,
        }
    )
