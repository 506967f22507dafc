"""Set-based reads and writes for whole candidate sets: typed DataFrame reads, id-set updates.

Reads of whole candidate sets go through `read_frame`: on SQLite the session's own connection
fetches the rows and every column is converted in one step (text columns become categoricals by
factorising, so repeated values cost one hash each); PostgreSQL streams COPY ... TO STDOUT as CSV
into pyarrow. Measured on 2M records, a per-range CSV rendered by group_concat inside SQLite was
slower than fetchall, and a second SQLite library in the process (ADBC) is unsafe: POSIX locks
are per process, so its closing a file drops the other library's locks. Writes of many rows use
`services.common.bulk_write`.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals
from sqlalchemy import text
from sqlalchemy.orm import Session

from .bulk_write import bulk_insert


def id_table(session: Session, ids: np.ndarray | Sequence[int], name: str = "tmp_ids") -> str:
    """A temporary one-column table `name(id)` holding `ids` (for joins and set updates)."""
    conn = session.connection()
    conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"CREATE TEMPORARY TABLE {name} (id BIGINT PRIMARY KEY)"))
    else:
        conn.execute(text(f"CREATE TEMPORARY TABLE {name} (id INTEGER PRIMARY KEY)"))
    values = np.unique(np.asarray(ids, dtype=np.int64))
    bulk_insert(session, name, ("id",), list(zip(values.tolist())))  # 1-tuples built in C
    return name


def update_where_in(
    session: Session,
    table: str,
    assignments: str,
    ids: np.ndarray | Sequence[int],
    *,
    column: str = "id",
    where: str = "",
) -> int:
    """`UPDATE table SET assignments WHERE column IN ids` for any number of ids; returns the count.

    `assignments` and the extra `where` condition are trusted SQL (constants only), e.g.
    `match_state = 'matched'`.
    """
    extra = f" AND ({where})" if where else ""
    values = np.asarray(ids, dtype=np.int64)
    if values.size == 0:
        return 0
    conn = session.connection()
    if values.size <= 500:
        in_list = ",".join(str(int(v)) for v in values)
        res = conn.execute(
            text(f"UPDATE {table} SET {assignments} WHERE {column} IN ({in_list}){extra}")
        )
        return int(res.rowcount or 0)  # type: ignore[attr-defined]
    tmp = id_table(session, values, "tmp_update_ids")
    res = conn.execute(
        text(f"UPDATE {table} SET {assignments} WHERE {column} IN (SELECT id FROM {tmp}){extra}")
    )
    conn.execute(text(f"DROP TABLE {tmp}"))
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


def delete_where_in(session: Session, table: str, column: str, ids: Sequence[int]) -> int:
    """`DELETE FROM table WHERE column IN ids` in chunks; returns the count."""
    conn = session.connection()
    total = 0
    values = [int(v) for v in ids]
    for i in range(0, len(values), 500):
        chunk = ",".join(str(v) for v in values[i : i + 500])
        res = conn.execute(text(f"DELETE FROM {table} WHERE {column} IN ({chunk})"))
        total += int(res.rowcount or 0)  # type: ignore[attr-defined]
    return total


def timestamp_text(session: Session, when: dt.datetime) -> str:
    """A UTC timestamp as bulk paths write it (SQLite: naive text, as `UTCDateTime` stores it)."""
    utc = when.astimezone(dt.UTC) if when.tzinfo else when
    suffix = "+00:00" if session.connection().dialect.name == "postgresql" else ""
    return utc.strftime("%Y-%m-%d %H:%M:%S.%f") + suffix


# --- reads ----------------------------------------------------------------------------------------

KINDS = ("int64", "category", "string", "date")
# Rows per fetch: a fetch builds its rows' Python objects holding the GIL, so a big one freezes
# the UI thread (200k rows: ~0.5 s); 20k rows keep each hold to a few tens of milliseconds.
_FETCH_ROWS = 20_000


def _column(values: Sequence[Any], kind: str) -> Any:
    if kind == "int64":
        arr = np.asarray(values, dtype=object)
        if arr.size and any(v is None for v in values):
            arr = np.where(pd.isna(arr), 0, arr)
        return arr.astype(np.int64) if arr.size else np.zeros(0, dtype=np.int64)
    if kind == "category":
        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
        cats = pd.Index(["" if v is None else str(v) for v in uniques], dtype=object)
        if cats.has_duplicates:  # None and "" both became ""
            return pd.Categorical(cats[codes].to_numpy())
        return pd.Categorical.from_codes(codes.astype(np.int32), categories=cats)
    if kind == "date":
        codes, uniques = pd.factorize(np.asarray(values, dtype=object))
        days = pd.to_datetime(pd.Series([str(u)[:10] for u in uniques], dtype=object))
        out = days.to_numpy(dtype="datetime64[s]")[codes] if len(codes) else np.zeros(0, "M8[s]")
        return out
    if kind == "string":
        return np.asarray(["" if v is None else v for v in values], dtype=object)
    raise ValueError(f"unknown column kind {kind}")


def _frame(columns: Sequence[Sequence[Any]], schema: dict[str, str], n: int) -> pd.DataFrame:
    out = {
        name: _keep_objects(_column(col, kind))
        for (name, kind), col in zip(schema.items(), columns, strict=True)
    }
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def _empty(schema: dict[str, str]) -> pd.DataFrame:
    return _frame([[] for _ in schema], schema, 0)


def _parse_pg_csv(data: bytes, schema: dict[str, str]) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not data:
        return _empty(schema)
    types = {c: (pa.int64() if k == "int64" else pa.string()) for c, k in schema.items()}
    table = pacsv.read_csv(
        io.BytesIO(data),
        # columns by position: SQL expressions have no (or repeated) names in the header
        read_options=pacsv.ReadOptions(skip_rows=1, column_names=list(schema)),
        parse_options=pacsv.ParseOptions(double_quote=True, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    cols = [table.column(c).to_pylist() for c in schema]
    return _frame(cols, schema, table.num_rows)


def read_frame(session: Session, sql: str, schema: dict[str, str]) -> pd.DataFrame:
    """Rows of a trusted, parameter-free SELECT as a DataFrame typed by `schema`.

    Args:
        session: the reading session (its own uncommitted writes are seen).
        sql: SELECT with literal constants only, its columns in `schema` order.
        schema: column name -> "int64" (None reads as 0) | "category" | "string" (None reads
            as "") | "date" (ISO text in, datetime64 out).
    """
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect == "postgresql":
        raw = conn.connection.driver_connection
        buf = io.BytesIO()
        with raw.cursor() as cur:  # type: ignore[union-attr]
            copy_sql = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)"
            with cur.copy(copy_sql) as copy:
                for block in copy:
                    buf.write(block)
        return _parse_pg_csv(buf.getvalue(), schema)
    if dialect == "sqlite":
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.execute(sql)
            # Chunks: one chunk's Python objects at a time, the result as compact columns.
            parts = []
            while rows := cur.fetchmany(_FETCH_ROWS):
                parts.append(_frame(list(zip(*rows, strict=True)), schema, len(rows)))
                del rows
        finally:
            cur.close()
        return _concat(parts, schema)
    rows = [tuple(r) for r in conn.execute(text(sql)).fetchall()]
    if not rows:
        return _empty(schema)
    return _frame(list(zip(*rows, strict=True)), schema, len(rows))


def _concat(parts: list[pd.DataFrame], schema: dict[str, str]) -> pd.DataFrame:
    if not parts:
        return _empty(schema)
    if len(parts) == 1:
        return parts[0]
    out: dict[str, Any] = {}
    for name, kind in schema.items():
        if kind == "category":
            out[name] = union_categoricals([p[name].array for p in parts])
        else:
            out[name] = _keep_objects(np.concatenate([p[name].to_numpy() for p in parts]))
    return pd.DataFrame(out, index=pd.RangeIndex(sum(len(p) for p in parts)))


def _keep_objects(values: Any) -> Any:
    """Object arrays (text) as object Series: pandas would otherwise convert the Python strings
    into its arrow string type, holding the GIL for a quarter second per million rows."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        return pd.Series(values, dtype=object, copy=False)
    return values
