"""Storing parsed lines: PAN masking, fingerprints, dedupe, references, one-transaction bulk insert.

This is the single write path for imported and generated records. It works on whole columns
(pandas) and writes with the driver's executemany on SQLite or COPY on PostgreSQL, because the ORM
and even Core executemany are several times slower at a million rows (see PERFORMANCE.md).
The caller owns the transaction: nothing here commits, so an error anywhere leaves no trace.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from ..errors import UserError
from ..importers.base import REQUIRED_COLUMNS, AccountInfo, ParseResult, Problem, Progress
from ..models import ImportBatch, Record, Source
from . import audit
from .pan import mask_series
from .refs import extract_series, normalise_series

FINGERPRINT_VERSION = 1
_HASH_KEY = "workstation-fp01"  # 16 bytes: pandas' hash key; fixed so fingerprints are stable
_TEXT_COLUMNS = ("external_id", "counterparty", "description", "raw")

_RECORD_INSERT_COLUMNS = (
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
    "raw",
)


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


def fingerprints(df: pd.DataFrame) -> pd.Series:
    """64-bit fingerprint of account, bank reference, date, amount and direction (vectorised)."""
    ref = df["bank_ref"].where(df["bank_ref"].notna(), df["external_id"])
    key = pd.DataFrame(
        {
            "s": df["source_id"].astype("int64"),
            "r": ref.astype("string").fillna("").str.strip(),
            "d": df["booked_on"].astype("string"),
            "a": df["amount_minor"].astype("int64"),
            "c": df["currency"].astype("string"),
        }
    )
    hashed = pd.util.hash_pandas_object(key, index=False, hash_key=_HASH_KEY, categorize=False)
    return pd.Series(hashed.to_numpy().view(np.int64), index=df.index)


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
    df["currency"] = df["currency"].astype("string").str.upper()
    bad_cur = ~df["currency"].str.fullmatch(r"[A-Z]{3}", na=False)
    if bad_cur.any():
        i = bad_cur.idxmax()
        raise UserError(
            f"not an ISO 4217 currency: {df.loc[i, 'currency']!r}",
            file=file_name,
            line=int(df.loc[i, "line_no"]),
            field="currency",
        )
    df["amount_minor"] = df["amount_minor"].astype("int64")
    df["direction"] = np.where(df["amount_minor"] >= 0, "credit", "debit")
    return df


def _mask_pans(df: pd.DataFrame) -> int:
    total = 0
    cols = [c for c in df.columns if c in _TEXT_COLUMNS or c.startswith("ref_")]
    for col in cols:
        if col == "raw" and df[col].map(lambda v: isinstance(v, dict)).any():
            df[col] = df[col].map(
                lambda v: (
                    json.dumps(v, default=str, ensure_ascii=False) if isinstance(v, dict) else v
                )
            )
        masked, n = mask_series(df[col])
        if n:
            df[col] = masked
            total += n
    return total


def _existing_keys(session: Session, df: pd.DataFrame) -> set[tuple[int, int, int]]:
    keys: set[tuple[int, int, int]] = set()
    for source_id, part in df.groupby("source_id"):
        lo, hi = part["booked_on"].min(), part["booked_on"].max()
        rows = session.execute(
            select(Record.source_id, Record.fingerprint, Record.occurrence).where(
                Record.source_id == int(source_id),  # type: ignore[call-overload]
                Record.booked_on.between(lo, hi),
            )
        )
        keys.update((int(s), int(f), int(o)) for s, f, o in rows)
    return keys


def _date_text(values: pd.Series) -> list[str | None]:
    return [v.isoformat() if v is not None and not pd.isna(v) else None for v in values]


def _datetime_text(values: pd.Series, suffix: str) -> list[str | None]:
    out: list[str | None] = []
    for v in values:
        if v is None or pd.isna(v):
            out.append(None)
        else:
            utc = v.astimezone(dt.UTC) if v.tzinfo else v
            out.append(utc.strftime("%Y-%m-%d %H:%M:%S.%f") + suffix)
    return out


def _nullable_int(values: pd.Series) -> list[int | None]:
    return [None if pd.isna(v) else int(v) for v in values]


def _nullable_str(values: pd.Series) -> list[str | None]:
    return [
        None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in values
    ]


def _raw_json(values: pd.Series) -> list[str | None]:
    out: list[str | None] = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif isinstance(v, str):
            out.append(v)
        else:
            out.append(json.dumps(v, default=str, ensure_ascii=False))
    return out


def _record_rows(df: pd.DataFrame, dialect: str) -> list[tuple[Any, ...]]:
    # SQLite keeps UTC as naive text (as UTCDateTime does); PostgreSQL gets an explicit offset.
    tz_suffix = "+00:00" if dialect == "postgresql" else ""
    cols: dict[str, Sequence[Any]] = {
        "id": df["id"].tolist(),
        "source_id": df["source_id"].tolist(),
        "batch_id": df["batch_id"].tolist(),
        "line_no": _nullable_int(df["line_no"]),
        "external_id": _nullable_str(df["external_id"]),
        "fingerprint": df["fingerprint"].tolist(),
        "occurrence": df["occurrence"].tolist(),
        "booked_on": _date_text(df["booked_on"]),
        "value_on": _date_text(df["value_on"]),
        "occurred_at": _datetime_text(df["occurred_at"], tz_suffix),
        "amount_minor": df["amount_minor"].tolist(),
        "currency": df["currency"].tolist(),
        "fee_minor": _nullable_int(df["fee_minor"]),
        "net_minor": _nullable_int(df["net_minor"]),
        "orig_amount_minor": _nullable_int(df["orig_amount_minor"]),
        "orig_currency": _nullable_str(df["orig_currency"]),
        "direction": df["direction"].tolist(),
        "kind": df["kind"].astype(str).tolist(),
        "counterparty": _nullable_str(df["counterparty"]),
        "description": _nullable_str(df["description"]),
        "payout_ref": _nullable_str(df["payout_ref"]),
        "match_state": ["unmatched"] * len(df),
        "raw": _raw_json(df["raw"]),
    }
    return list(zip(*(cols[c] for c in _RECORD_INSERT_COLUMNS), strict=True))


def _bulk_insert(session: Session, table: str, columns: Sequence[str], rows: list[Any]) -> None:
    """Driver-level executemany (SQLite) / COPY (PostgreSQL) inside the session's transaction."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect.name
    raw = conn.connection.driver_connection
    if dialect == "sqlite":
        marks = ",".join("?" * len(columns))
        cur = raw.cursor()  # type: ignore[union-attr]
        cur.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)
        cur.close()
    elif dialect == "postgresql":
        sql = f"COPY {table} ({','.join(columns)}) FROM STDIN"
        with raw.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    else:  # any other SQLAlchemy backend: portable Core executemany
        from ..models import Base

        tbl = Base.metadata.tables[table]
        conn.execute(insert(tbl), [dict(zip(columns, r, strict=True)) for r in rows])


def _reserve_ids(session: Session, table: str, count: int) -> int:
    """First id of a block of `count` explicit ids (the caller holds the write lock)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
        start = int(
            conn.execute(text(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")).scalar_one()
        )
        seq = conn.execute(text(f"SELECT pg_get_serial_sequence('{table}', 'id')")).scalar_one()
        if seq:
            conn.execute(text("SELECT setval(:s, :v)"), {"s": seq, "v": start + count})
        return start
    return int(conn.execute(text(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")).scalar_one())


def _reference_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Long frame (record_id, kind, value) of normalised tokens, one row per distinct token."""
    parts: list[pd.DataFrame] = []
    ref_cols = [c for c in df.columns if c.startswith("ref_")]
    explicit = [("external_id", "id"), ("payout_ref", "payout")] + [(c, c[4:]) for c in ref_cols]
    for col, kind in explicit:
        vals = df[col]
        mask = vals.notna()
        if not mask.any():
            continue
        parts.append(
            pd.DataFrame(
                {"record_id": df.loc[mask, "id"].to_numpy(), "kind": kind, "raw": vals[mask]}
            )
        )
    for col in ("description", "counterparty"):
        found = extract_series(df[col])
        if not found.empty:
            parts.append(
                pd.DataFrame(
                    {
                        "record_id": df.loc[found["row"].to_numpy(), "id"].to_numpy(),
                        "kind": "text",
                        "raw": found["token"].to_numpy(),
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=["record_id", "kind", "value"])
    refs = pd.concat(parts, ignore_index=True)
    refs["value"] = normalise_series(refs["raw"]).str.slice(0, 128)
    refs = refs[refs["value"].str.len().fillna(0) >= 4]
    refs = refs.drop_duplicates(["record_id", "value"])
    return refs[["record_id", "kind", "value"]]


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
) -> StoreResult:
    """Store the records of `result` as one import batch; duplicates are skipped.

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

    Returns:
        counts and the new batch id.
    """
    df = result.records.copy()
    total = len(df)
    _report(progress, 0, 4, "Checking lines")
    sources = resolve_sources(session, result.accounts, forced_account)
    accounts = sorted({s.name for s in sources.values()})
    if total == 0:
        batch = _new_batch(session, result, file_name, sha256, actor, 0, 0, 0, problems)
        return StoreResult(batch.id, 0, 0, 0, 0, accounts)
    df = _normalise_frame(df, file_name)
    unknown = set(df["account"].unique()) - set(sources)
    if unknown:
        raise UserError(f"lines refer to unknown account(s) {sorted(unknown)}", file=file_name)
    df["source_id"] = df["account"].map({k: s.id for k, s in sources.items()}).astype("int64")
    masked = _mask_pans(df)
    _report(progress, 1, 4, "Finding duplicates")
    df["fingerprint"] = fingerprints(df)
    df["occurrence"] = df.groupby(["source_id", "fingerprint"]).cumcount() + 1
    existing = _existing_keys(session, df)
    if existing:
        keys = list(zip(df["source_id"], df["fingerprint"], df["occurrence"], strict=True))
        dup = np.fromiter((k in existing for k in keys), dtype=bool, count=len(keys))
    else:
        dup = np.zeros(len(df), dtype=bool)
    new = df[~dup].copy()
    duplicates = int(dup.sum())
    _report(progress, 2, 4, "Storing lines")
    batch = _new_batch(
        session, result, file_name, sha256, actor, total, len(new), duplicates, problems
    )
    batch.masked_pans = masked
    if dry_run or new.empty:
        return StoreResult(batch.id, total, len(new), duplicates, masked, accounts, new)
    first = _reserve_ids(session, "records", len(new))
    new["id"] = np.arange(first, first + len(new), dtype=np.int64)
    new["batch_id"] = batch.id
    dialect = session.connection().dialect.name
    _bulk_insert(session, "records", _RECORD_INSERT_COLUMNS, _record_rows(new, dialect))
    _report(progress, 3, 4, "Indexing references")
    refs = _reference_rows(new)
    if not refs.empty:
        rfirst = _reserve_ids(session, "record_references", len(refs))
        ref_rows = list(
            zip(
                range(rfirst, rfirst + len(refs)),
                refs["record_id"].astype("int64").tolist(),
                refs["kind"].tolist(),
                refs["value"].tolist(),
                strict=True,
            )
        )
        _bulk_insert(session, "record_references", ("id", "record_id", "kind", "value"), ref_rows)
    audit.log(
        session,
        actor,
        "import",
        "import_batch",
        batch.id,
        {"file": file_name, "format": result.format, "new": len(new), "duplicates": duplicates},
    )
    _report(progress, 4, 4, "Done")
    return StoreResult(batch.id, total, len(new), duplicates, masked, accounts, new)


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


def check_cancel(progress: Progress | None) -> None:
    """Give a progress callback the chance to raise `Cancelled` between steps."""
    if progress is not None:
        progress(0, 0, "")
