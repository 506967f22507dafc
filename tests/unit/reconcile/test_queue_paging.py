"""Far jumps (`key_at`), finding a row (`position_of`), date-range and PSP filters, and the
facet counts of the exception queue."""

from __future__ import annotations

import datetime as dt

import pytest

from workstation.db import Database
from workstation.services.reconcile import run, table_queries
from workstation.services.reconcile.queue_counts import load_facets
from workstation.services.reconcile.table_queries import ExceptionFilters, MatchFilters, Sort

from .helpers import bank, charge, order, put

TODAY = dt.date(2026, 10, 31)


def _store(db: Database) -> None:
    with db.session() as s:
        put(
            s,
            [
                order(f"ORD-7{i:06d}", 900 + (i % 5) * 300, 1 + i % 20, ref_order=None)
                for i in range(40)
            ],
            "l",
        )
        put(
            s,
            [
                charge("txn_P1", 900, 2, ref_order="ORD-7000001"),
                charge("txn_G1", 45_000, 12, currency="GBP"),
            ],
            "p",
        )
        put(s, [bank("BR1", -7_000, 25, "RENT"), bank("BR2", 12_345, 26, "transfer")], "b")
        run(s, today=TODAY)


SORTS = [
    Sort("booked_on"),
    Sort("booked_on", descending=True),
    Sort("amount_minor"),
    Sort("amount_minor", descending=True),
    Sort("priority", descending=True),
    Sort("due_on"),
    Sort("id", descending=True),
]


@pytest.mark.parametrize("sort", SORTS)
def test_key_at_starts_a_page_at_any_offset_and_position_of_finds_rows(
    any_db: Database, sort: Sort
) -> None:
    db = any_db
    _store(db)
    f = ExceptionFilters(today=TODAY)
    with db.session() as s:
        whole = [int(r["id"]) for r in table_queries.fetch_page(s, f, sort, None, 1000).rows]
        assert len(whole) > 30
        assert table_queries.key_at(s, f, sort, 0) is None
        for offset in (1, 5, 17, len(whole) - 1):
            key = table_queries.key_at(s, f, sort, offset)
            page = table_queries.fetch_page(s, f, sort, key, 4).rows
            assert [int(r["id"]) for r in page] == whole[offset : offset + 4]
        assert table_queries.key_at(s, f, sort, len(whole) + 5) is None
        for i in (0, 3, len(whole) // 2, len(whole) - 1):
            assert table_queries.position_of(s, f, sort, whole[i]) == i
        gbp = ExceptionFilters(currencies=("EUR",), today=TODAY)
        gbp_line = next(
            int(r["id"])
            for r in table_queries.fetch_page(s, f, sort, None, 1000).rows
            if r["currency"] == "GBP"
        )
        assert table_queries.position_of(s, gbp, sort, gbp_line) is None


def test_matches_key_at_and_position_of(any_db: Database) -> None:
    db = any_db
    _store(db)
    f = MatchFilters(statuses=table_queries.MATCH_STATUSES)
    with db.session() as s:
        for sort in (Sort("id"), Sort("confidence", descending=True), Sort("rule")):
            whole = [int(r["id"]) for r in table_queries.fetch_page(s, f, sort, None, 100).rows]
            assert whole
            for i, mid in enumerate(whole):
                assert table_queries.position_of(s, f, sort, mid) == i
                key = table_queries.key_at(s, f, sort, i)
                assert int(table_queries.fetch_page(s, f, sort, key, 1).rows[0]["id"]) == mid


def test_booking_date_and_psp_filters_round_trip(any_db: Database) -> None:
    db = any_db
    _store(db)
    with db.session() as s:
        f = ExceptionFilters(
            booked_from=dt.date(2026, 10, 5), booked_to=dt.date(2026, 10, 9), today=TODAY
        )
        rows = table_queries.fetch_page(s, f, None, None, 1000).rows
        assert rows and all(
            dt.date(2026, 10, 5) <= r["booked_on"] <= dt.date(2026, 10, 9) for r in rows
        )
        assert table_queries.count(s, f) == len(rows)
        saved = f.to_dict()
        assert saved["booked_from"] == "2026-10-05"
        assert table_queries.filters_from_dict(saved) == ExceptionFilters(
            booked_from=dt.date(2026, 10, 5), booked_to=dt.date(2026, 10, 9)
        )
        fid = table_queries.save_filter(s, "exceptions", "anna", "week", f, actor="anna")
        assert table_queries.load_filter(s, fid).booked_to == dt.date(2026, 10, 9)
        stripe = MatchFilters(psp="Stripe")
        assert table_queries.count(s, stripe) == table_queries.count(s, MatchFilters()) > 0
        assert table_queries.count(s, MatchFilters(psp="adyen")) == 0
        early = MatchFilters(booked_to=dt.date(2026, 10, 2))  # the one match is on the 2nd
        late = MatchFilters(booked_from=dt.date(2026, 10, 3))
        assert table_queries.count(s, early) == 1 and table_queries.count(s, late) == 0
        assert table_queries.filters_from_dict(early.to_dict()) == early


def test_facet_counts_equal_sql_counts(any_db: Database) -> None:
    db = any_db
    _store(db)
    with db.session() as s:
        facets = load_facets(s)
        source_ids = sorted(
            {int(r["source_id"]) for r in table_queries.fetch_page(s, ExceptionFilters()).rows}
        )
        cases = [
            ExceptionFilters(today=TODAY),
            ExceptionFilters(states=("unmatched",), today=TODAY),
            ExceptionFilters(currencies=("gbp",), today=TODAY),
            ExceptionFilters(source_kinds=("ledger",), age_bucket="8-30", today=TODAY),
            ExceptionFilters(source_kinds=("bank",), age_bucket="3-7", today=TODAY),
            ExceptionFilters(source_ids=(source_ids[0],), kinds=("order",), today=TODAY),
            ExceptionFilters(booked_from=dt.date(2026, 10, 4), booked_to=dt.date(2026, 10, 8)),
        ]
        for f in cases:
            assert facets.count(f) == table_queries.count(s, f), f
        assert facets.total == table_queries.count(s, ExceptionFilters())
        for f in (
            ExceptionFilters(amount_min=1),
            ExceptionFilters(text="rent"),
            ExceptionFilters(case_statuses=("open",)),
            ExceptionFilters(assignee=""),
            ExceptionFilters(states=("matched",)),
        ):
            assert facets.count(f) is None
        assert facets.currencies() == ["EUR", "GBP"]
