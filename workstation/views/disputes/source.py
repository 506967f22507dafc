"""Data source of the disputes queue for the lazy table model (pure Python, no Qt).

Adapts `services.disputes.intake.queue` to the `TableSource` protocol of
`views.models.table_source`: urgency order by default, due date / amount / opened date when a
header is clicked, keyset pages, and `key_at` for far jumps (per urgency bucket: counts, then
OFFSET on the narrow key query).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ...models import Dispute, utcnow
from ...services.disputes import queue as dq
from ...services.disputes.queue import QueueFilters, QueueRow, count_disputes, list_disputes
from ..models.table_source import SortSpec, SourceColumn

STAGES = ("inquiry", "chargeback", "pre_arbitration", "arbitration")
STATUSES = ("needs_response", "under_review", "won", "lost", "accepted", "expired")
OPEN_STATUSES = ("needs_response", "under_review")
NETWORKS = ("Visa", "Mastercard", "Amex", "Discover")
HIGHLIGHT = {"overdue": "overdue", "due_today": "due_today"}
KEY_LIST_LIMIT = 300_000  # cases: above this a far jump uses OFFSET instead of a key list


def words(value: str | None) -> str:
    """`pre_arbitration` -> `pre arbitration`."""
    return (value or "").replace("_", " ")


def reason_text(row: QueueRow) -> str:
    code = row.reason_code or "?"
    return f"{code} · {words(row.reason_category)}" if row.reason_category else code


def due_text(row: QueueRow) -> str:
    return row.countdown


COLUMNS = (
    SourceColumn("psp_dispute_id", "Case", width=170, tooltip="The PSP's dispute id"),
    SourceColumn(
        "countdown",
        "Due",
        sort_key="due_by",
        width=104,
        tooltip="Time left to respond (PSP due-by)",
        text=due_text,
    ),
    SourceColumn("amount_minor", "Amount", "money", sort_key="amount", width=100),
    SourceColumn("currency", "Cur.", width=46, tooltip="Currency"),
    SourceColumn("network", "Network", width=80),
    SourceColumn("reason_code", "Reason", width=146, text=reason_text),
    SourceColumn("stage", "Stage", width=100, text=lambda r: words(r.stage)),
    SourceColumn("status", "Status", width=104, text=lambda r: words(r.status)),
    SourceColumn("psp", "PSP", width=80),
    SourceColumn("assignee", "Assignee", width=90),
    SourceColumn("evidence_count", "Evidence", "int", width=70, tooltip="Evidence files attached"),
    SourceColumn("opened_at", "Opened", "date", sort_key="opened_at", width=84),
)


@dataclass(frozen=True)
class DisputeQuery:
    """Queue filters plus the moment urgency and countdowns are computed at (pinned per load)."""

    filters: QueueFilters = field(default_factory=QueueFilters)
    now: dt.datetime | None = None


def snapshot_id(q: DisputeQuery, *extra: Any) -> int:
    """A hashable identity of a query snapshot (filters may hold lists)."""
    parts = tuple(
        (f.name, tuple(v) if isinstance(v, list | set) else v)
        for f in dataclasses.fields(q.filters)
        for v in (getattr(q.filters, f.name),)
    )
    return hash((parts, q.now, *extra))


class DisputeQueueSource:
    """The disputes queue as a `TableSource`."""

    columns = COLUMNS

    def __init__(self) -> None:
        self._bucket_counts: dict[int, int] = {}
        self._keys: tuple[int, list[tuple[Any, ...]], dict[int, int]] | None = None

    @staticmethod
    def _query(query: DisputeQuery | QueueFilters | None) -> DisputeQuery:
        if isinstance(query, DisputeQuery):
            return query
        return DisputeQuery(query or QueueFilters())

    def prepare(self, session: Session, query: Any) -> DisputeQuery:
        return dataclasses.replace(self._query(query), now=utcnow())

    def count(self, session: Session, query: Any) -> int:
        """Cases the filters select (one narrow count; see `header_counts` for the chips)."""
        q = self._query(query)
        conds = dq._where(session, q.filters, q.now or utcnow())
        return int(session.scalar(select(func.count()).select_from(Dispute).where(*conds)) or 0)

    @staticmethod
    def header_counts(session: Session, query: Any) -> dict[str, int]:
        """Total, overdue, due in 24 h and unassigned (slower: reads every selected case)."""
        q = DisputeQueueSource._query(query)
        return count_disputes(session, q.filters, now=q.now)

    def fetch(
        self, session: Session, query: Any, sort: SortSpec | None, after_key: Any, limit: int
    ) -> tuple[list[QueueRow], Any]:
        q = self._query(query)
        listed = self._from_key_list(session, q, sort, after_key, limit)
        if listed is not None:
            return listed
        page = list_disputes(
            session,
            q.filters,
            sort=sort.key if sort else "urgency",
            after_key=after_key,
            limit=limit,
            descending=bool(sort and sort.descending),
            now=q.now,
        )
        return page.rows, page.next_key

    def key_at(self, session: Session, query: Any, sort: SortSpec | None, offset: int) -> Any:
        """The page key of row `offset - 1` (what `list_disputes` continues after)."""
        if offset <= 0:
            return None
        q = self._query(query)
        now = q.now or utcnow()
        conds = dq._where(session, q.filters, now)
        stamp = now.isoformat()
        keys = self._key_list(session, q, sort, conds, now)
        if keys is not None:
            return (stamp, *keys[offset - 1]) if offset - 1 < len(keys) else None
        if sort is None or sort.key == "urgency":
            skip = offset - 1
            for bucket, cond, score in dq._buckets(session, now):
                n = self._bucket_count(session, q, bucket, cond, conds)
                if skip >= n:
                    skip -= n
                    continue
                row = session.execute(
                    select(score, Dispute.id)
                    .where(cond, *conds)
                    .order_by(score.desc(), Dispute.id.asc())
                    .offset(skip)
                    .limit(1)
                ).one()
                return (stamp, bucket, float(row[0]), int(row[1]))
            return None
        cols = dq._sort_columns(session, sort.key, sort.descending, now)
        stmt = (
            select(*(c for c, _ in cols))
            .where(*conds)
            .order_by(*((c.desc() if d else c.asc()) for c, d in cols))
            .offset(offset - 1)
            .limit(1)
        )
        found = session.execute(stmt).first()
        return None if found is None else (stamp, *found)

    def _from_key_list(
        self, session: Session, q: DisputeQuery, sort: SortSpec | None, after_key: Any, limit: int
    ) -> tuple[list[QueueRow], Any] | None:
        """A page read by id from the snapshot's key list, when it is there (None otherwise).

        The urgency order is computed, not indexed: a keyset page deep in a bucket costs a scan
        of the bucket. With the key list a page costs its own rows, wherever it is.
        """
        found = self._keys
        if found is None or q.now is None:
            return None
        if found[0] != snapshot_id(q, sort):
            return None
        _ident, keys, positions = found
        start = 0 if after_key is None else positions.get(int(after_key[-1]), -1) + 1
        if start <= 0 and after_key is not None:
            return None  # not a key of this snapshot
        chosen = keys[start : start + limit]
        urgency = sort is None or sort.key == "urgency"
        try:
            rows = dq._rows(
                session, [int(k[-1]) for k in chosen], q.now, chosen if urgency else None
            )
        except KeyError:
            return None  # a case went away since the list was read: ask the queue itself
        end = start + len(chosen)
        stamp = q.now.isoformat()
        return rows, ((stamp, *keys[end - 1]) if end < len(keys) and chosen else None)

    def warm(self, session: Session, query: Any, sort: SortSpec | None) -> int:
        """Read the key list of a snapshot ahead of time (a background task after each load).

        Returns the number of keys (0 when the queue is too big to list).
        """
        q = self._query(query)
        now = q.now or utcnow()
        keys = self._key_list(session, q, sort, dq._where(session, q.filters, now), now)
        return 0 if keys is None else len(keys)

    def _key_list(
        self, session: Session, q: DisputeQuery, sort: SortSpec | None, conds: list[Any], now: Any
    ) -> list[tuple[Any, ...]] | None:
        """Every page key of the snapshot in order, read once on the first far jump.

        Dragging the scroll bar then costs a list lookup instead of an OFFSET over a computed
        order (a sort of the whole bucket each time). None above KEY_LIST_LIMIT cases.
        """
        ident = snapshot_id(q, sort)
        if self._keys is not None and self._keys[0] == ident:
            return self._keys[1]
        if self.count(session, q) > KEY_LIST_LIMIT:
            return None
        keys: list[tuple[Any, ...]] = []
        if sort is None or sort.key == "urgency":
            for bucket, cond, score in dq._buckets(session, now):
                stmt = (
                    select(score, Dispute.id)
                    .where(cond, *conds)
                    .order_by(score.desc(), Dispute.id.asc())
                )
                keys += [(bucket, float(sc), int(i)) for sc, i in session.execute(stmt)]
        else:
            cols = dq._sort_columns(session, sort.key, sort.descending, now)
            stmt = (
                select(*(c for c, _ in cols))
                .where(*conds)
                .order_by(*((c.desc() if d else c.asc()) for c, d in cols))
            )
            keys = [tuple(r) for r in session.execute(stmt)]
        positions = {int(k[-1]): i for i, k in enumerate(keys)}
        self._keys = (ident, keys, positions)  # one assignment: safe to read from another thread
        return keys

    def _bucket_count(
        self, session: Session, q: DisputeQuery, bucket: int, cond: Any, conds: list[Any]
    ) -> int:
        """Cases in one urgency bucket, remembered for the snapshot (`q` carries its "now")."""
        key = snapshot_id(q, bucket)
        if key in self._bucket_counts:
            return self._bucket_counts[key]
        n = int(session.scalar(select(func.count()).where(cond, *conds)) or 0)
        if len(self._bucket_counts) > 256:
            self._bucket_counts.clear()
        self._bucket_counts[key] = n
        return n

    def position_of(
        self, session: Session, query: Any, sort: SortSpec | None, row_id: Any
    ) -> int | None:
        """Rows before case `row_id` in the current order (None if the filters exclude it)."""
        q = self._query(query)
        now = q.now or utcnow()
        conds = dq._where(session, q.filters, now)
        if session.scalar(select(Dispute.id).where(Dispute.id == int(row_id), *conds)) is None:
            return None
        if sort is None or sort.key == "urgency":
            before = 0
            for _bucket, cond, score in dq._buckets(session, now):
                mine = session.execute(select(score).where(cond, Dispute.id == int(row_id))).first()
                if mine is None:
                    before += int(session.scalar(select(func.count()).where(cond, *conds)) or 0)
                    continue
                s = mine[0]
                ahead = or_(score > s, and_(score == s, Dispute.id < int(row_id)))
                before += int(session.scalar(select(func.count()).where(cond, *conds, ahead)) or 0)
                return before
            return None
        cols = dq._sort_columns(session, sort.key, sort.descending, now)
        values = session.execute(
            select(*(c for c, _ in cols)).where(Dispute.id == int(row_id))
        ).one()
        ahead = _before(cols, list(values))
        return int(session.scalar(select(func.count()).where(*conds, ahead)) or 0)

    def row_id(self, row: QueueRow) -> int:
        return int(row.id)

    def row_state(self, row: QueueRow) -> str | None:
        state = HIGHLIGHT.get(row.due_state)
        if state:
            return state
        return None if row.status in OPEN_STATUSES else "muted"


def _before(cols: list[tuple[Any, bool]], key: list[Any]) -> Any:
    """Rows strictly before `key` in the order of `cols` (mirror of the queue's keyset step)."""
    ors = []
    for i, (col, desc) in enumerate(cols):
        eqs = [c == v for (c, _), v in zip(cols[:i], key[:i], strict=True)]
        step = col > key[i] if desc else col < key[i]
        ors.append(and_(*eqs, step))
    return or_(*ors)
