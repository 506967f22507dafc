"""Synthetic data sources for the lazy table model: numpy in memory, and a SQLite table.

Both follow the `TableSource` protocol of `workstation.views.models.table_source` and are shared by
the GUI tests and `bench/bench_table_model.py`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workstation.views.models.table_source import SortSpec, SourceColumn

CURRENCIES = np.array(["EUR", "USD", "GBP", "JPY"])
STATUSES = np.array(["unmatched", "suggested", "matched"])
EPOCH = dt.date(2024, 1, 1)

COLUMNS = (
    SourceColumn("id", "Id", "int", sort_key="id", width=80),
    SourceColumn("booked_on", "Booked", "date", sort_key="booked_on", width=90),
    SourceColumn("amount_minor", "Amount", "money", sort_key="amount_minor", width=110),
    SourceColumn("currency", "Currency", width=60),
    SourceColumn("status", "Status", sort_key="status", width=90),
    SourceColumn("counterparty", "Counterparty", width=160),
    SourceColumn("share", "Share", "percent", width=60),
)


@dataclass(frozen=True)
class Filters:
    """What the synthetic sources filter on (both indexed in SQLite)."""

    status: str | None = None
    currency: str | None = None


def synthetic_arrays(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "id": np.arange(1, n + 1, dtype=np.int64),
        "day": rng.integers(0, 730, n).astype(np.int32),
        "amount": rng.integers(-500_000, 2_000_000, n).astype(np.int64),
        "cur": rng.integers(0, len(CURRENCIES), n).astype(np.int8),
        "status": rng.choice(len(STATUSES), n, p=[0.2, 0.1, 0.7]).astype(np.int8),
    }


class MemorySource:
    """N rows in numpy arrays; sort and filter by index arrays, keys are positions."""

    columns = COLUMNS

    def __init__(self, n: int, seed: int = 7) -> None:
        self.a = synthetic_arrays(n, seed)
        self._orders: dict[tuple[Any, ...], np.ndarray] = {}
        self.fetch_calls = 0

    def _order(self, filters: Filters | None, sort: SortSpec | None) -> np.ndarray:
        f = filters or Filters()
        key = (f.status, f.currency, sort)
        found = self._orders.get(key)
        if found is not None:
            return found
        a = self.a
        mask = np.ones(len(a["id"]), dtype=bool)
        if f.status is not None:
            mask &= a["status"] == list(STATUSES).index(f.status)
        if f.currency is not None:
            mask &= a["cur"] == list(CURRENCIES).index(f.currency)
        idx = np.flatnonzero(mask)
        if sort is not None and sort.key != "id":
            col = {"booked_on": "day", "amount_minor": "amount", "status": "status"}[sort.key]
            idx = idx[np.argsort(a[col][idx], kind="stable")]
        if sort is not None and sort.descending:
            idx = idx[::-1].copy()
        self._orders = {key: idx}  # keep one: a real store would not cache orders either
        return idx

    def count(self, session: Any, filters: Filters | None) -> int:
        return len(self._order(filters, None))

    def fetch(
        self, session: Any, filters: Filters | None, sort: SortSpec | None, after: Any, limit: int
    ) -> tuple[list[dict[str, Any]], Any]:
        self.fetch_calls += 1
        order = self._order(filters, sort)
        start = int(after or 0)
        picked = order[start : start + limit]
        a = self.a
        rows = [
            {
                "id": int(a["id"][i]),
                "booked_on": EPOCH + dt.timedelta(days=int(a["day"][i])),
                "amount_minor": int(a["amount"][i]),
                "currency": str(CURRENCIES[a["cur"][i]]),
                "status": str(STATUSES[a["status"][i]]),
                "counterparty": f"Customer {int(a['id'][i]) % 9973:04d}",
                "share": (int(a["id"][i]) % 1000) / 1000,
            }
            for i in picked
        ]
        end = start + len(rows)
        return rows, (end if end < len(order) else None)

    def key_at(
        self, session: Any, filters: Filters | None, sort: SortSpec | None, offset: int
    ) -> Any:
        return offset or None

    def row_id(self, row: dict[str, Any]) -> int:
        return int(row["id"])

    def row_state(self, row: dict[str, Any]) -> str | None:
        return "muted" if row["status"] == "matched" else None


class WalkingSource(MemorySource):
    """The same rows without `key_at`: far jumps walk forward by keyset."""

    key_at = None  # type: ignore[assignment]


# ----------------------------------------------------------------------------- SQLite


def build_sqlite(path: Path, n: int, seed: int = 7) -> None:
    """An `items` table of `n` rows with the indexes a queue needs."""
    a = synthetic_arrays(n, seed)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, booked_on TEXT NOT NULL, "
        "amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, "
        "counterparty TEXT, share REAL)"
    )
    days = [(EPOCH + dt.timedelta(days=d)).isoformat() for d in range(730)]
    rows = (
        (
            int(i),
            days[int(d)],
            int(m),
            str(CURRENCIES[c]),
            str(STATUSES[s]),
            f"Customer {int(i) % 9973:04d}",
            (int(i) % 1000) / 1000,
        )
        for i, d, m, c, s in zip(a["id"], a["day"], a["amount"], a["cur"], a["status"])
    )
    with conn:
        conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    with conn:
        conn.execute("CREATE INDEX ix_items_booked ON items (booked_on, id)")
        conn.execute("CREATE INDEX ix_items_amount ON items (amount_minor, id)")
        conn.execute("CREATE INDEX ix_items_status ON items (status, id)")
        conn.execute("CREATE INDEX ix_items_status_booked ON items (status, booked_on, id)")
        conn.execute("CREATE INDEX ix_items_status_amount ON items (status, amount_minor, id)")
        conn.execute("ANALYZE")
    conn.close()


class SqliteSource:
    """Keyset pages over the `items` table; `key_at` by OFFSET on the narrow key query."""

    columns = COLUMNS
    SORTS = {
        "id": "id",
        "booked_on": "booked_on",
        "amount_minor": "amount_minor",
        "status": "status",
    }

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row

    def sessions(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return contextlib.nullcontext(self.conn)

    def close(self) -> None:
        self.conn.close()

    @staticmethod
    def _where(f: Filters | None) -> tuple[str, list[Any]]:
        f = f or Filters()
        parts, args = [], []
        if f.status is not None:
            parts.append("status = ?")
            args.append(f.status)
        if f.currency is not None:
            parts.append("currency = ?")
            args.append(f.currency)
        return (" WHERE " + " AND ".join(parts)) if parts else "", args

    def _sort(self, sort: SortSpec | None) -> tuple[str, bool]:
        if sort is None:
            return "id", False
        return self.SORTS.get(sort.key, "id"), sort.descending

    def count(self, conn: sqlite3.Connection, filters: Filters | None) -> int:
        where, args = self._where(filters)
        return int(conn.execute(f"SELECT count(*) FROM items{where}", args).fetchone()[0])

    def fetch(
        self,
        conn: sqlite3.Connection,
        filters: Filters | None,
        sort: SortSpec | None,
        after: Any,
        limit: int,
    ) -> tuple[list[dict[str, Any]], Any]:
        col, desc = self._sort(sort)
        where, args = self._where(filters)
        if after is not None:
            op = "<" if desc else ">"
            cond = f"(id {op} ?)" if col == "id" else f"(({col}, id) {op} (?, ?))"
            where = (where + " AND " if where else " WHERE ") + cond
            args = [*args, *([after[1]] if col == "id" else list(after))]
        direction = "DESC" if desc else "ASC"
        order = f"id {direction}" if col == "id" else f"{col} {direction}, id {direction}"
        sql = f"SELECT * FROM items{where} ORDER BY {order} LIMIT ?"
        rows = [dict(r) for r in conn.execute(sql, [*args, limit + 1])]
        more = len(rows) > limit
        rows = rows[:limit]
        for r in rows:
            r["booked_on"] = dt.date.fromisoformat(r["booked_on"])
        last = rows[-1] if rows else None
        next_key = None
        if more and last is not None:
            value = last[col]
            next_key = (value.isoformat() if isinstance(value, dt.date) else value, last["id"])
        return rows, next_key

    def key_at(
        self, conn: sqlite3.Connection, filters: Filters | None, sort: SortSpec | None, offset: int
    ) -> Any:
        if offset <= 0:
            return None
        col, desc = self._sort(sort)
        where, args = self._where(filters)
        direction = "DESC" if desc else "ASC"
        order = f"id {direction}" if col == "id" else f"{col} {direction}, id {direction}"
        row = conn.execute(
            f"SELECT {col}, id FROM items{where} ORDER BY {order} LIMIT 1 OFFSET ?",
            [*args, offset - 1],
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def row_id(self, row: dict[str, Any]) -> int:
        return int(row["id"])

    def position_of(
        self, conn: sqlite3.Connection, filters: Filters | None, sort: SortSpec | None, rid: Any
    ) -> int | None:
        where, args = self._where(filters)
        match = (where + " AND " if where else " WHERE ") + "id = ?"
        row = conn.execute(f"SELECT * FROM items{match}", [*args, rid]).fetchone()
        if row is None:
            return None
        col, desc = self._sort(sort)
        op = ">" if desc else "<"
        cond = f"(id {op} ?)" if col == "id" else f"(({col}, id) {op} (?, ?))"
        where = (where + " AND " if where else " WHERE ") + cond
        args = [*args, *([rid] if col == "id" else [row[col], rid])]
        return int(conn.execute(f"SELECT count(*) FROM items{where}", args).fetchone()[0])


def iter_ids(source: Any, session: Any, filters: Any, sort: SortSpec | None) -> Iterator[int]:
    """Every id in order, by plain keyset paging (the reference the model is checked against)."""
    key = None
    while True:
        rows, key = source.fetch(session, filters, sort, key, 5000)
        yield from (int(r["id"]) for r in rows)
        if key is None:
            return
