"""Storing parsed lines: PAN masking, fingerprints, dedupe, references, one-transaction bulk insert.

This is the single write path for imported and generated records. It works on whole columns
(pandas/pyarrow compute, RE2 regexes in C++) and writes with the driver's executemany on SQLite or
COPY on PostgreSQL (services.common.bulk_write), because per-row Python and ORM inserts are an
order of magnitude slower at a million rows (PERFORMANCE.md). The caller owns the transaction:
nothing here commits, so an error anywhere leaves no trace. The column conversions are
`column_conversions`, fingerprints and dedupe `dedupe`, the reference tokens `reference_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
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
from ..common.card_numbers import mask_text, may_hold_pan
from ..settlement.payout_build import refresh_payouts
from .column_conversions import (
    GIL_STEP,
    ints,
    iso_dates,
    pylist,
    raw_texts,
    row_slice,
    strings,
    utc_texts,
)
from .dedupe import FINGERPRINT_VERSION, already_stored, fingerprints
from .reference_rows import reference_rows
from .statement_overlap import StatementOverlap, find_overlaps

# Large inserts rebuild indexes once instead of maintaining them row by row, which through
# executemany costs more (1M Stripe rows: records +13 s maintained vs 7.5 s rebuilt; tokens
# +7 s vs 4.5 s). SQLite only: on PostgreSQL, a shared server, indexes stay (readers would wait
# on a dropped one, duplicates slip past a dropped unique one); the rows go through a temporary
# staging table instead (bulk_write.bulk_insert(staged=True)).
_DEFER_INDEXES_AT = 50_000

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
    # Bank lines inside a period already stored for their account (camt and MT940 of one
    # account, overlapping exports): which were taken as stored and which are new.
    overlaps: list[StatementOverlap] = field(default_factory=list)


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
    cur = pc.utf8_upper(strings(df["currency"]))
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
    df["raw"] = raw_texts(df["raw"])
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
        arr = strings(df[col])
        if exempt_values:
            stripped = arr.to_pylist()
            for ids in exempt_values:
                stripped = [
                    t.replace(v, "") if t is not None and v else t
                    for t, v in zip(stripped, ids, strict=True)
                ]
            arr = pa.array(stripped, type=pa.string())
        hits = may_hold_pan(arr)
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
        return strings(df[col]).to_pylist()

    cols: dict[str, list[Any]] = {
        "id": df["id"].tolist(),
        "source_id": df["source_id"].tolist(),
        "batch_id": df["batch_id"].tolist(),
        "line_no": ints(df["line_no"]),
        "external_id": texts("external_id"),
        "fingerprint": df["fingerprint"].tolist(),
        "occurrence": df["occurrence"].tolist(),
        "booked_on": texts("_booked"),
        "value_on": strings(iso_dates(df["value_on"])).to_pylist()
        if df["value_on"].notna().any()
        else [None] * n,
        "occurred_at": utc_texts(df["occurred_at"], tz_suffix),
        "amount_minor": df["amount_minor"].tolist(),
        "currency": df["currency"].tolist(),
        "fee_minor": ints(df["fee_minor"]),
        "net_minor": ints(df["net_minor"]),
        "orig_amount_minor": ints(df["orig_amount_minor"]),
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
    accounts_col = strings(df["account"])
    slot = pc.index_in(accounts_col, value_set=pa.array(keys, type=pa.string()))
    if slot.null_count:
        unknown = sorted(map(str, pc.filter(accounts_col, pc.is_null(slot)).unique().to_pylist()))
        raise UserError(f"lines refer to unknown account(s) {unknown}", file=file_name)
    ids = np.asarray([sources[k].id for k in keys], dtype=np.int64)
    df["source_id"] = ids[slot.to_numpy(zero_copy_only=False)]
    df["_booked"] = iso_dates(df["booked_on"])
    _report(progress, 1, 5, "Masking card numbers")
    masked = _mask_pans(df, result.pan_exempt_columns)
    _report(progress, 2, 5, "Finding duplicates")
    df["fingerprint"] = fingerprints(df)
    df["occurrence"] = df.groupby(["source_id", "fingerprint"], sort=False).cumcount() + 1
    dup = already_stored(session, df)
    # The same bookings as another statement of the account (other format, other reference).
    banks = {s.id: s.name for s in sources.values() if s.kind == "bank"}
    overlap = find_overlaps(session, df, dup, result.format, banks)
    dup = dup | overlap.duplicates
    overlaps = overlap.overlaps
    new = df[~dup].copy() if dup.any() else df
    duplicates = int(dup.sum())
    batch = _new_batch(
        session, result, file_name, sha256, actor, total, len(new), duplicates, problems
    )
    batch.masked_pans = masked
    if overlaps:
        batch.report = {**(batch.report or {}), "overlaps": [o.summary() for o in overlaps]}
    if dry_run or new.empty:
        return StoreResult(batch.id, total, len(new), duplicates, masked, accounts, new, overlaps)
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
            for start in range(0, len(new), GIL_STEP):
                part = row_slice(new, start, GIL_STEP, _ROW_SOURCES)
                columns, rows = _record_rows(part, dialect)
                bulk_insert(session, "records", columns, rows, staged=big)
                del rows
                _report(progress, 3, 5, f"Storing lines ({min(start + GIL_STEP, len(new)):,})")
            _insert_raw(session, new)
            if release_records:
                result.records = pd.DataFrame(columns=result.records.columns)  # no slice of it
                df = new = new.drop(columns="raw")
            tokens = pool.submit(reference_rows, new, with_external_id=result.tokenise_external_id)
            _report(progress, 4, 5, "Indexing lines")
        _report(progress, 4, 5, "Storing references")
        with deferred_indexes(session, ("record_references",), enabled=big):
            _insert_references(session, tokens.result())
    if "payout_ref" in new:  # the payouts these lines belong to now have more lines
        refresh_payouts(session, pd.unique(new["payout_ref"].dropna().astype(str)).tolist())
    audit.log(
        session,
        actor,
        "import",
        "import_batch",
        batch.id,
        {"file": file_name, "format": result.format, "new": len(new), "duplicates": duplicates},
    )
    _report(progress, 5, 5, "Done")
    return StoreResult(batch.id, total, len(new), duplicates, masked, accounts, new, overlaps)


def _insert_raw(session: Session, new: pd.DataFrame) -> None:
    """The original lines into record_raw (record id, JSON text), for records that have one."""
    raw = strings(new["raw"])
    keep = pc.is_valid(raw)
    ids = pc.filter(pa.array(new["id"].to_numpy(), type=pa.int64()), keep)
    raw = pc.filter(raw, keep)
    for start in range(0, len(raw), GIL_STEP):
        rows = list(
            zip(
                ids.slice(start, GIL_STEP).to_pylist(),
                raw.slice(start, GIL_STEP).to_pylist(),
                strict=True,
            )
        )
        bulk_insert(session, "record_raw", ("record_id", "raw"), rows)


def _insert_references(session: Session, refs: pa.Table) -> None:
    # Python tuples are built a chunk at a time: bounded memory, short GIL holds.
    for start in range(0, refs.num_rows, GIL_STEP):
        part = refs.slice(start, GIL_STEP)
        rows = list(zip(*(pylist(part.column(c)) for c in part.column_names), strict=True))
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
            "notes": list(result.notes),  # how the file was read (e.g. its decimal mark)
            "fingerprint_version": FINGERPRINT_VERSION,
        },
    )
    session.add(batch)
    session.flush()
    return batch
