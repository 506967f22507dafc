"""Storing parsed lines: PAN masking, fingerprints, dedupe, references, one-transaction bulk insert.

This is the single write path for imported and generated records. It works on whole columns
(pandas/pyarrow compute, RE2 regexes in C++) and writes with the driver's executemany on SQLite or
COPY on PostgreSQL (services.common.bulk_write), because per-row Python and ORM inserts are an
order of magnitude
slower at a million rows (PERFORMANCE.md). The caller owns the transaction: nothing here commits,
so an error anywhere leaves no trace.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ...errors import UserError
from ...importers.base import REQUIRED_COLUMNS, AccountInfo, ParseResult, Problem, Progress
from ...models import ImportBatch, Source
from ..common import audit
from ..common.bulk_write import (
    bulk_insert,
    deferred_indexes,
    gc_paused,
    reserve_ids,
    row_count_estimate,
)
from ..common.card_numbers import mask_text

FINGERPRINT_VERSION = 1
_HASH_KEY = "workstation-fp01"  # pandas' 16-byte hash key; fixed so fingerprints are stable
# Same shape as pan._CANDIDATE, without look-around (RE2): 13-19 digits not inside a longer run.
_PAN_HINT = r"(?:^|[^0-9])[0-9](?:[ -]?[0-9]){12,18}(?:[^0-9]|$)"
_MIN_TOKEN = 4
# Large inserts rebuild indexes once instead of maintaining them row by row, which through
# executemany costs more (1M Stripe rows: records +13 s maintained vs 7.5 s rebuilt; tokens
# +7 s vs 4.5 s).
_DEFER_INDEXES_AT = 50_000
# Rows per step of work that holds the GIL (building Python rows, hashing): a step of 25k rows
# takes ~10-30 ms, so the UI thread gets the interpreter back well within a frame or two.
_GIL_STEP = 25_000

_RECORD_COLUMNS = (
    "id",
    "source_id",
    "batch_id",
    "line_no",
    "external_id",
    "fingerprint",
    "occurrence",
    "booked_on",
    "value_on",
    "occurred_at",
    "amount_minor",
    "currency",
    "fee_minor",
    "net_minor",
    "orig_amount_minor",
    "orig_currency",
    "direction",
    "kind",
    "counterparty",
    "description",
    "payout_ref",
    "match_state",
)
_TEXT_COLUMNS = ("external_id", "counterparty", "description", "raw")


@dataclass
class StoreResult:
    """What `store` added (or would add, on a dry run)."""

    batch_id: int | None
    rows_total: int
    new: int
    duplicates: int
    masked_pans: int
    accounts: list[str] = field(default_factory=list)
    new_frame: pd.DataFrame | None = None


def _report(progress: Progress | None, done: int, total: int, msg: str) -> None:
    if progress is not None:
        progress(done, total, msg)


def resolve_sources(
    session: Session, accounts: dict[str, AccountInfo], forced_name: str | None = None
) -> dict[str, Source]:
    """Find or create the Source of each account key (by account number, then by name)."""
    out: dict[str, Source] = {}
    for key, info in accounts.items():
        src: Source | None = None
        if forced_name:
            src = session.scalar(select(Source).where(Source.name == forced_name))
            name = forced_name
        else:
            if info.account_number:
                src = session.scalar(
                    select(Source).where(
                        Source.account_number == info.account_number, Source.kind == info.kind
                    )
                )
            name = info.name or info.account_number or key
            if src is None:
                src = session.scalar(select(Source).where(Source.name == name))
        if src is None:
            src = Source(
                name=name,
                kind=info.kind,
                provider=info.provider,
                account_number=info.account_number,
                currency=info.currency,
            )
            session.add(src)
            session.flush()
        out[key] = src
    return out


# --- column conversions (vectorised) -------------------------------------------------------


def _strings(values: pd.Series) -> pa.Array:
    """A pandas column as an arrow string array (None for nulls)."""
    try:
        arr = pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # mixed types: numbers in an id column
        arr = pa.array(
            values.where(values.notna(), None).map(lambda v: v if v is None else str(v)),
            type=pa.string(),
        )
    if isinstance(arr, pa.ChunkedArray):  # arrow-backed columns built by pd.concat
        arr = arr.combine_chunks()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _arrow(values: pd.Series) -> pa.Array | None:
    """The arrow array behind an arrow-backed column (one chunk), else None."""
    if not isinstance(values.dtype, pd.ArrowDtype):
        return None
    arr = pa.array(values)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _iso_dates(values: pd.Series) -> pd.Series:
    """'YYYY-MM-DD' strings (arrow-backed, null for nulls) from dates, datetimes or text."""
    arr = _arrow(values)
    if arr is not None and (pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type)):
        if pa.types.is_timestamp(arr.type):  # the calendar date where the stamp was taken
            if arr.type.tz is not None:
                arr = pc.local_timestamp(arr)
            arr = arr.cast(pa.date32())
        # a cast prints ISO dates ~10x faster than strftime, and no Python objects are made
        text_vals = arr.cast(pa.date32()).cast(pa.string())
    else:
        days = pd.to_datetime(values, errors="raise").to_numpy(dtype="datetime64[D]")
        text_vals = pa.array(np.datetime_as_string(days, unit="D"), type=pa.string())
        text_vals = pc.if_else(pa.array(np.isnat(days)), pa.scalar(None, pa.string()), text_vals)
    return pd.Series(pd.arrays.ArrowExtensionArray(text_vals), index=values.index)


def _utc_texts(values: pd.Series, suffix: str) -> list[str | None]:
    """UTC timestamps as text for the driver; SQLite keeps naive UTC text like UTCDateTime."""
    if values.isna().all():
        return [None] * len(values)
    arr = _arrow(values)
    if arr is None or not pa.types.is_timestamp(arr.type):
        ts = pd.to_datetime(values, utc=True, errors="raise")
        arr = pa.array(ts.dt.tz_convert("UTC"), from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
    if arr.type.tz is not None:  # aware: arrow keeps UTC instants, drop the zone label
        arr = arr.cast(pa.timestamp(arr.type.unit, tz="UTC")).cast(pa.timestamp(arr.type.unit))
    # Microseconds always printed ("...:05.000000"), the text UTCDateTime reads back; a cast
    # prints it ~10x faster than strftime.
    text_vals = arr.cast(pa.timestamp("us")).cast(pa.string())
    if suffix:
        text_vals = pc.binary_join_element_wise(text_vals, suffix, "")
    return text_vals.to_pylist()


def _ints(values: pd.Series) -> list[int | None]:
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":  # not nullable Int64
        return values.tolist()
    return pa.array(values, type=pa.int64(), from_pandas=True).to_pylist()


def _raw_texts(values: pd.Series) -> pd.Series:
    """`raw` as JSON text (importers of big files pass text already)."""
    if values.dtype == object and values.map(lambda v: isinstance(v, dict | list)).any():
        return values.map(
            lambda v: (
                json.dumps(v, default=str, ensure_ascii=False) if isinstance(v, dict | list) else v
            )
        )
    return values


# --- steps ---------------------------------------------------------------------------------


def _normalise_frame(df: pd.DataFrame, file_name: str) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"importer produced no {', '.join(missing)}", file=file_name)
    df = df.reset_index(drop=True)
    for col in ("amount_minor", "booked_on", "currency"):
        bad = df[col].isna()
        if bad.any():
            line = df.loc[bad.idxmax(), "line_no"]
            raise UserError("value is missing", file=file_name, line=int(line), field=col)
    # arrow kernels (they release the GIL) rather than pandas string methods
    cur = pc.utf8_upper(_strings(df["currency"]))
    bad_cur = pc.invert(pc.fill_null(pc.match_substring_regex(cur, r"^[A-Z]{3}$"), False))
    if pc.any(bad_cur).as_py():
        i = int(pc.index(bad_cur, True).as_py())
        raise UserError(
            f"not an ISO 4217 currency: {df.loc[i, 'currency']!r}",
            file=file_name,
            line=int(df.loc[i, "line_no"]),
            field="currency",
        )
    df["currency"] = pd.Series(pd.arrays.ArrowExtensionArray(cur), index=df.index)
    df["amount_minor"] = df["amount_minor"].astype("int64")
    df["direction"] = pd.Categorical.from_codes(
        (df["amount_minor"].to_numpy() < 0).astype(np.int8), categories=["credit", "debit"]
    )
    df["raw"] = _raw_texts(df["raw"])
    return df


def _mask_pans(df: pd.DataFrame, exempt: tuple[str, ...] = ()) -> int:
    """Mask card numbers in every text column; a C++ regex pre-filter keeps this vectorised.

    Ids in `exempt` columns (PSP-assigned numeric references) are removed from a copy of each
    text before the pre-filter, so only lines that may really hold a card number are visited.
    """
    total = 0
    exempt = tuple(e for e in exempt if e in df.columns)
    columns = [c for c in df.columns if c in _TEXT_COLUMNS or c.startswith("ref_")]
    exempt_values = [df[e].astype(object).where(df[e].notna(), "").astype(str) for e in exempt]
    for col in [c for c in columns if c not in exempt]:
        arr = _strings(df[col])
        if exempt_values:
            stripped = arr.to_pylist()
            for ids in exempt_values:
                stripped = [
                    t.replace(v, "") if t is not None and v else t
                    for t, v in zip(stripped, ids, strict=True)
                ]
            arr = pa.array(stripped, type=pa.string())
        hits = pc.fill_null(pc.match_substring_regex(arr, _PAN_HINT), False)
        if not pc.any(hits).as_py():
            continue
        idx = np.flatnonzero(hits.to_numpy(zero_copy_only=False))
        values = df[col].astype(object).copy()
        for i in idx:
            keep = frozenset(ids.iat[i] for ids in exempt_values if ids.iat[i])
            masked, n = mask_text(str(values.iat[i]), keep)
            if n:
                values.iat[i] = masked
                total += n
        df[col] = values
    return total


def _rows(df: pd.DataFrame, start: int, count: int, columns: Iterable[str]) -> dict[str, pd.Series]:
    """Rows start..start+count of some columns, sliced column by column.

    `df.iloc[a:b]` on a wide frame of mixed columns may first consolidate all its blocks (a
    copy of the whole frame, holding the GIL); slicing single columns never does.
    """
    return {c: df[c].iloc[start : start + count] for c in columns}


def fingerprints(df: pd.DataFrame) -> pd.Series:
    """64-bit fingerprint of account, bank reference, date, amount (sign = direction), currency.

    Hashed in steps of rows (a row's hash does not depend on the others) so no single call
    holds the GIL for long.
    """
    out = np.empty(len(df), dtype=np.int64)
    for lo in range(0, len(df), _GIL_STEP):
        part = _rows(df, lo, _GIL_STEP, ("bank_ref", "external_id", "source_id", "_booked"))
        part |= _rows(df, lo, _GIL_STEP, ("amount_minor", "currency"))
        ref = part["bank_ref"].where(part["bank_ref"].notna(), part["external_id"])
        key = pd.DataFrame(
            {
                "s": part["source_id"].astype("int64").to_numpy(),
                "r": pd.Series(pc.utf8_trim_whitespace(_strings(ref)).to_pylist()).fillna(""),
                "d": part["_booked"].to_numpy(),
                "a": part["amount_minor"].astype("int64").to_numpy(),
                "c": part["currency"].to_numpy(dtype=object),
            }
        )
        hashed = pd.util.hash_pandas_object(key, index=False, hash_key=_HASH_KEY, categorize=False)
        out[lo : lo + len(key)] = hashed.to_numpy().view(np.int64)
    return pd.Series(out, index=df.index)


def _duplicates(session: Session, df: pd.DataFrame) -> np.ndarray:
    """Mask of rows whose (source, fingerprint, occurrence) is already stored."""
    conn = session.connection()
    found = []
    for source_id in df["source_id"].unique():
        rows = conn.execute(
            text("SELECT fingerprint, occurrence FROM records WHERE source_id = :s"),
            {"s": int(source_id)},
        ).all()
        if rows:
            part = pd.DataFrame(rows, columns=["fingerprint", "occurrence"])
            part["source_id"] = int(source_id)
            found.append(part)
    if not found:
        return np.zeros(len(df), dtype=bool)
    existing = pd.concat(found, ignore_index=True).astype("int64")
    keys = df[["source_id", "fingerprint", "occurrence"]].astype("int64")
    merged = keys.merge(
        existing, how="left", on=["source_id", "fingerprint", "occurrence"], indicator=True
    )
    return (merged["_merge"] == "both").to_numpy()


_ROW_SOURCES = (
    *(c for c in _RECORD_COLUMNS if c not in ("booked_on", "match_state")),
    "_booked",
)


def _record_rows(
    df: Mapping[str, pd.Series], dialect: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    # SQLite keeps UTC as naive text (as UTCDateTime does); PostgreSQL gets an explicit offset.
    tz_suffix = "+00:00" if dialect == "postgresql" else ""
    n = len(df["id"])

    def texts(col: str) -> list[Any]:
        return _strings(df[col]).to_pylist()

    cols: dict[str, list[Any]] = {
        "id": df["id"].tolist(),
        "source_id": df["source_id"].tolist(),
        "batch_id": df["batch_id"].tolist(),
        "line_no": _ints(df["line_no"]),
        "external_id": texts("external_id"),
        "fingerprint": df["fingerprint"].tolist(),
        "occurrence": df["occurrence"].tolist(),
        "booked_on": texts("_booked"),
        "value_on": _strings(_iso_dates(df["value_on"])).to_pylist()
        if df["value_on"].notna().any()
        else [None] * n,
        "occurred_at": _utc_texts(df["occurred_at"], tz_suffix),
        "amount_minor": df["amount_minor"].tolist(),
        "currency": df["currency"].tolist(),
        "fee_minor": _ints(df["fee_minor"]),
        "net_minor": _ints(df["net_minor"]),
        "orig_amount_minor": _ints(df["orig_amount_minor"]),
        "orig_currency": texts("orig_currency"),
        "direction": df["direction"].tolist(),
        "kind": texts("kind"),
        "counterparty": texts("counterparty"),
        "description": texts("description"),
        "payout_ref": texts("payout_ref"),
        "match_state": ["unmatched"] * n,
    }
    # Columns null in every row are left to their default: fewer bound parameters per row.
    used = [c for c in _RECORD_COLUMNS if any(v is not None for v in cols[c])]
    return used, list(zip(*(cols[c] for c in used), strict=True))


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
        arr = _strings(df[col])
        valid = pc.is_valid(arr)
        add(kind, pc.filter(arr, valid), pc.filter(ids, valid))
    payouts = pc.fill_null(pc.equal(_strings(df["kind"]), "payout"), False)
    if pc.any(payouts).as_py():
        arr = pc.filter(_strings(df["payout_ref"]), payouts)
        valid = pc.is_valid(arr)
        add("payout", pc.filter(arr, valid), pc.filter(pc.filter(ids, payouts), valid))
    # Free text is scanned where the line has no order reference of its own (bank lines,
    # unstructured exports); structured PSP lines already name their ids in columns.
    scan = pc.is_null(_strings(df["ref_order"])) if "ref_order" in df.columns else None
    for col in ("description", "counterparty"):
        texts = _strings(df[col])
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


def store(
    session: Session,
    result: ParseResult,
    *,
    file_name: str,
    sha256: str,
    actor: str,
    forced_account: str | None = None,
    dry_run: bool = False,
    problems: Iterable[Problem] = (),
    progress: Progress | None = None,
    release_records: bool = False,
) -> StoreResult:
    """Store the records of `result` as one import batch; duplicates are skipped.

    The garbage collector is paused meanwhile (see `bulk.gc_paused`).

    Args:
        session: an open Session; the caller commits (or rolls back on a dry run).
        result: the parsed file.
        file_name: shown in messages and stored on the batch.
        sha256: of the file's bytes.
        actor: login of the user importing.
        forced_account: put every line on this source name.
        dry_run: compute counts, write nothing (the caller rolls back).
        problems: row problems to keep in the batch report.
        progress: `(done, total, text)`; may raise `Cancelled`.
        release_records: the caller is done with `result.records`: once the lines are stored,
            `result.records` is emptied and the raw text dropped, so a big file's memory goes
            before the reference tokens are built (the peak of a 1M-line import).

    Returns:
        counts and the new batch id.
    """
    with gc_paused():
        return _store(
            session,
            result,
            file_name,
            sha256,
            actor,
            forced_account,
            dry_run,
            problems,
            progress,
            release_records,
        )


def _store(
    session: Session,
    result: ParseResult,
    file_name: str,
    sha256: str,
    actor: str,
    forced_account: str | None,
    dry_run: bool,
    problems: Iterable[Problem],
    progress: Progress | None,
    release_records: bool,
) -> StoreResult:
    df = result.records.copy(deep=False)
    total = len(df)
    _report(progress, 0, 5, "Checking lines")
    sources = resolve_sources(session, result.accounts, forced_account)
    accounts = sorted({s.name for s in sources.values()})
    if total == 0:
        batch = _new_batch(session, result, file_name, sha256, actor, 0, 0, 0, problems)
        return StoreResult(batch.id, 0, 0, 0, 0, accounts)
    df = _normalise_frame(df, file_name)
    # arrow kernels: a pandas map over a million strings would hold the GIL for ~0.1 s
    keys = list(sources)
    accounts_col = _strings(df["account"])
    slot = pc.index_in(accounts_col, value_set=pa.array(keys, type=pa.string()))
    if slot.null_count:
        unknown = sorted(map(str, pc.filter(accounts_col, pc.is_null(slot)).unique().to_pylist()))
        raise UserError(f"lines refer to unknown account(s) {unknown}", file=file_name)
    ids = np.asarray([sources[k].id for k in keys], dtype=np.int64)
    df["source_id"] = ids[slot.to_numpy(zero_copy_only=False)]
    df["_booked"] = _iso_dates(df["booked_on"])
    _report(progress, 1, 5, "Masking card numbers")
    masked = _mask_pans(df, result.pan_exempt_columns)
    _report(progress, 2, 5, "Finding duplicates")
    df["fingerprint"] = fingerprints(df)
    df["occurrence"] = df.groupby(["source_id", "fingerprint"], sort=False).cumcount() + 1
    dup = _duplicates(session, df)
    new = df[~dup].copy() if dup.any() else df
    duplicates = int(dup.sum())
    batch = _new_batch(
        session, result, file_name, sha256, actor, total, len(new), duplicates, problems
    )
    batch.masked_pans = masked
    if dry_run or new.empty:
        return StoreResult(batch.id, total, len(new), duplicates, masked, accounts, new)
    _report(progress, 3, 5, "Storing lines")
    dialect = session.connection().dialect.name
    big = len(new) >= _DEFER_INDEXES_AT and len(new) * 2 >= row_count_estimate(session, "records")
    first = reserve_ids(session, "records", len(new))
    new["id"] = np.arange(first, first + len(new), dtype=np.int64)
    new["batch_id"] = batch.id
    # The reference tokens are computed on a helper thread (arrow kernels, GIL released) while
    # SQLite rebuilds the records' indexes (GIL released too): on two cores that hides most of
    # the token work. Not earlier: next to the row tuples of the insert it would raise the peak.
    with ThreadPoolExecutor(1, thread_name_prefix="tokens") as pool:
        with deferred_indexes(session, ("records",), enabled=big):
            # Chunks keep the Python row tuples (the memory peak of a bulk insert) bounded.
            for start in range(0, len(new), _GIL_STEP):
                part = _rows(new, start, _GIL_STEP, _ROW_SOURCES)
                columns, rows = _record_rows(part, dialect)
                bulk_insert(session, "records", columns, rows)
                del rows
                _report(progress, 3, 5, f"Storing lines ({min(start + _GIL_STEP, len(new)):,})")
            _insert_raw(session, new)
            if release_records:
                result.records = pd.DataFrame(columns=result.records.columns)  # no slice of it
                df = new = new.drop(columns="raw")
            tokens = pool.submit(reference_rows, new, with_external_id=result.tokenise_external_id)
            _report(progress, 4, 5, "Indexing lines")
        _report(progress, 4, 5, "Storing references")
        with deferred_indexes(session, ("record_references",), enabled=big):
            _insert_references(session, tokens.result())
    audit.log(
        session,
        actor,
        "import",
        "import_batch",
        batch.id,
        {"file": file_name, "format": result.format, "new": len(new), "duplicates": duplicates},
    )
    _report(progress, 5, 5, "Done")
    return StoreResult(batch.id, total, len(new), duplicates, masked, accounts, new)


def _insert_raw(session: Session, new: pd.DataFrame) -> None:
    """The original lines into record_raw (record id, JSON text), for records that have one."""
    raw = _strings(new["raw"])
    keep = pc.is_valid(raw)
    ids = pc.filter(pa.array(new["id"].to_numpy(), type=pa.int64()), keep)
    raw = pc.filter(raw, keep)
    for start in range(0, len(raw), _GIL_STEP):
        rows = list(
            zip(
                ids.slice(start, _GIL_STEP).to_pylist(),
                raw.slice(start, _GIL_STEP).to_pylist(),
                strict=True,
            )
        )
        bulk_insert(session, "record_raw", ("record_id", "raw"), rows)


def _pylist(col: pa.ChunkedArray) -> list[Any]:
    """Python values of a column; dictionary columns decoded through their few values (an
    arrow dictionary array's own to_pylist is ~50x slower)."""
    arr = col.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        names = np.asarray(arr.dictionary.to_pylist(), dtype=object)
        return list(names[arr.indices.to_numpy(zero_copy_only=False)])
    return arr.to_pylist()


def _insert_references(session: Session, refs: pa.Table) -> None:
    # Python tuples are built a chunk at a time: bounded memory, short GIL holds.
    for start in range(0, refs.num_rows, _GIL_STEP):
        part = refs.slice(start, _GIL_STEP)
        rows = list(zip(*(_pylist(part.column(c)) for c in part.column_names), strict=True))
        bulk_insert(session, "record_references", part.column_names, rows)


def _new_batch(
    session: Session,
    result: ParseResult,
    file_name: str,
    sha256: str,
    actor: str,
    total: int,
    new: int,
    duplicates: int,
    problems: Iterable[Problem],
) -> ImportBatch:
    probs = list(problems)
    batch = ImportBatch(
        file_name=file_name,
        sha256=sha256,
        format=result.format,
        imported_by=actor,
        rows_total=total,
        rows_new=new,
        rows_duplicate=duplicates,
        rows_problem=sum(1 for p in probs if p.severity == "error"),
        report={
            "problems": [p.__dict__ for p in probs[:1000]],
            "checks": [p.__dict__ for p in result.checks],
            "fingerprint_version": FINGERPRINT_VERSION,
        },
    )
    session.add(batch)
    session.flush()
    return batch
