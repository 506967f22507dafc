"""The disputes queue as a lazy-table source: far jumps and positions agree with plain paging."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import insert

from workstation.models import Dispute
from workstation.services.disputes.queue import QueueFilters, list_disputes
from workstation.views.disputes import source as source_module
from workstation.views.disputes.source import DisputeQuery, DisputeQueueSource
from workstation.views.models.sql_table import SqlTableModel
from workstation.views.models.table_source import SortSpec

N = 2500
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
SORTS = (
    None,
    SortSpec("due_by"),
    SortSpec("amount", descending=True),
    SortSpec("opened_at", descending=True),
)


@pytest.fixture
def many(db):
    rng = random.Random(11)
    rows = []
    for i in range(N):
        rows.append(
            {
                "psp": rng.choice(("stripe", "adyen")),
                "psp_dispute_id": f"dp_{i:05d}",
                "network": rng.choice(("Visa", "Mastercard")),
                "reason_code": "10.4",
                "reason_category": "fraud",
                "stage": "chargeback",
                "status": rng.choice(("needs_response", "needs_response", "won", "under_review")),
                # repeated amounts and due dates: ties are broken by id
                "amount_minor": rng.choice((1000, 2500, 99_999, 12_345)),
                "currency": rng.choice(("EUR", "JPY")),
                "due_by": None if i % 17 == 0 else NOW + dt.timedelta(hours=rng.randint(-50, 300)),
                "opened_at": NOW - dt.timedelta(days=rng.randint(1, 60)),
                "evidence_locked": False,
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
    with db.session() as s:
        s.execute(insert(Dispute), rows)
    return db


def reference(
    db, filters: QueueFilters, sort: SortSpec | None, now: dt.datetime = NOW
) -> list[int]:
    ids, key = [], None
    with db.session() as s:
        while True:
            page = list_disputes(
                s,
                filters,
                sort=sort.key if sort else "urgency",
                after_key=key,
                limit=700,
                descending=bool(sort and sort.descending),
                now=now,
            )
            ids += [r.id for r in page.rows]
            key = page.next_key
            if key is None:
                return ids


@pytest.mark.parametrize("key_list", [True, False], ids=["key-list", "offset"])
def test_key_at_and_position_of_agree_with_keyset_paging(many, monkeypatch, key_list):
    if not key_list:
        monkeypatch.setattr(source_module, "KEY_LIST_LIMIT", 0)
    source = DisputeQueueSource()
    for filters in (QueueFilters(), QueueFilters(status=["needs_response"], network=["Visa"])):
        query = DisputeQuery(filters, now=NOW)
        for sort in SORTS:
            ids = reference(many, filters, sort)
            with many.session() as s:
                assert source.count(s, query) == len(ids)
                for offset in (1, 2, 137, len(ids) // 2, len(ids) - 1):
                    key = source.key_at(s, query, sort, offset)
                    rows, _ = source.fetch(s, query, sort, key, 3)
                    assert [r.id for r in rows] == ids[offset : offset + 3], (sort, offset)
                for pos in (0, 5, len(ids) // 3, len(ids) - 1):
                    assert source.position_of(s, query, sort, ids[pos]) == pos, (sort, pos)


def test_model_over_the_queue_matches_and_passes_modeltester(many, qtmodeltester):
    source = DisputeQueueSource()
    model = SqlTableModel(
        source, many.session, filters=DisputeQuery(QueueFilters()), page_size=64, max_pages=6
    )
    now = model.active_filters.now
    assert now is not None  # pinned by prepare() for every page of this load
    expected = reference(many, QueueFilters(), None, now)
    rng = random.Random(4)
    for pos in rng.sample(range(N), 60):  # far jumps in any order, through a small cache
        assert model.row_id_at(pos) == expected[pos]
    assert model.cached_pages() <= 6
    assert [model.row_id_at(i) for i in range(N)] == expected
    model.set_sort(SortSpec("amount", descending=True))
    expected = reference(many, QueueFilters(), SortSpec("amount", True), model.active_filters.now)
    for pos in rng.sample(range(N), 30):
        assert model.row_id_at(pos) == expected[pos]
    qtmodeltester.check(model)


def test_warm_key_list_serves_pages_by_id(many, monkeypatch):
    source = DisputeQueueSource()
    filters = QueueFilters(status=["needs_response", "under_review"])
    for sort in SORTS:
        query = DisputeQuery(filters, now=NOW)
        ids = reference(many, filters, sort)
        with many.session() as s:
            assert source.warm(s, query, sort) == len(ids)

            def no_queue(*args, **kwargs):
                raise AssertionError("the key list should have served this page")

            monkeypatch.setattr(source_module, "list_disputes", no_queue)
            got, key = [], None
            while True:
                rows, key = source.fetch(s, query, sort, key, 400)
                got += [r.id for r in rows]
                if key is None:
                    break
            assert got == ids, sort
            key = source.key_at(s, query, sort, 1000)
            rows, _ = source.fetch(s, query, sort, key, 5)
            assert [r.id for r in rows] == ids[1000:1005]
            # Urgency details come with the row as the queue computes them.
            assert rows[0].countdown or rows[0].due_by is None or rows[0].status != "needs_response"
            monkeypatch.undo()
    # Another snapshot ("now" moved on): the list no longer applies, the queue answers.
    later = DisputeQuery(filters, now=NOW + dt.timedelta(hours=1))
    with many.session() as s:
        rows, _ = source.fetch(s, later, None, None, 10)
    assert [r.id for r in rows] == reference(many, filters, None, later.now)[:10]
