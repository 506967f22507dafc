"""Table queries: SQL filters, keyset pages stable under ties, counts, saved filters."""

from __future__ import annotations

import datetime as dt

import pytest

from workstation.db import Database
from workstation.errors import UserError
from workstation.services.common.users import ensure_user
from workstation.services.reconcile import cases, run, table_queries
from workstation.services.reconcile.table_queries import ExceptionFilters, MatchFilters, Sort

from .helpers import bank, charge, order, put

TODAY = dt.date(2026, 10, 31)


def _queue(db: Database) -> None:
    with db.session() as s:
        ensure_user(s, "anna")
        # 30 open orders: many share a date and an amount (ties for the keyset)
        put(
            s,
            [
                order(
                    f"ORD-8{i:06d}", 1000 + (i % 3) * 500, 1 + i % 4, counterparty=f"Customer {i}"
                )
                for i in range(30)
            ],
            "l",
        )
        put(s, [charge("txn_Q1", 99900, 28, currency="GBP"), charge("txn_Q2", 1234, 29)], "p")
        put(s, [bank("BRQ1", -5000, 30, "RENT HQ 2026-10")], "b")
        run(s, today=TODAY)


def _all_ids(db: Database, f: table_queries.Filters, sort: Sort, size: int) -> list[int]:
    out: list[int] = []
    key = None
    with db.session() as s:
        while True:
            page = table_queries.fetch_page(s, f, sort, key, size)
            out += [int(r["id"]) for r in page.rows]
            assert len(page.rows) <= size
            if page.next_key is None:
                return out
            key = page.next_key


@pytest.mark.parametrize(
    "sort",
    [
        Sort("booked_on"),
        Sort("booked_on", descending=True),
        Sort("amount_minor"),
        Sort("amount_minor", descending=True),
        Sort("priority", descending=True),
        Sort("due_on"),
        Sort("id", descending=True),
    ],
)
def test_keyset_pages_are_stable_under_ties(db: Database, sort: Sort) -> None:
    _queue(db)
    f = ExceptionFilters(today=TODAY)
    paged = _all_ids(db, f, sort, 7)
    with db.session() as s:
        whole = table_queries.fetch_page(s, f, sort, None, 1000).rows
        assert paged == [int(r["id"]) for r in whole]
        assert len(paged) == len(set(paged)) == table_queries.count(s, f) == 33
        assert table_queries.fetch_ids(s, f, sort).tolist() == paged


def test_filters(db: Database) -> None:
    _queue(db)
    with db.session() as s:

        def n(**kw: object) -> int:
            return table_queries.count(s, ExceptionFilters(today=TODAY, **kw))  # type: ignore[arg-type]

        assert n(source_kinds=("bank",)) == 1
        assert n(currencies=("gbp",)) == 1
        assert n(amount_min=1500, amount_max=1500) == 10
        assert n(amount_min=5000) == 2  # |-50.00| and 999.00
        assert n(age_bucket="0-2") == 2 and n(age_bucket=">30") == 0
        assert n(age_bucket="8-30") == 30
        assert n(text="customer 1") == 11  # "Customer 1", "Customer 10".."Customer 19"
        assert n(text="ord-8000007") == 1  # a reference token, however it is written
        assert n(text="rent") == 1
        row = table_queries.fetch_page(s, ExceptionFilters(text="RENT", today=TODAY)).rows[0]
        assert row["case_status"] == "open" and row["source_kind"] == "bank"
        assert row["age_days"] == 1 and row["amount_minor"] == -5000
        cases.assign(s, [row["case_id"]], "anna", actor="anna")
        assert n(assignee="anna") == 1 and n(assignee="") == 32
        assert n(case_statuses=("assigned",)) == 1
        with pytest.raises(UserError, match="age bucket"):
            n(age_bucket="old")
        with pytest.raises(UserError, match="cannot sort"):
            table_queries.fetch_page(s, ExceptionFilters(), Sort("raw"))


def test_matches_table_and_rows_for_ids(db: Database) -> None:
    with db.session() as s:
        put(s, [order("ORD-9000001", 700, 1), order("ORD-9000002", 800, 2, ref_order=None)], "l")
        put(s, [charge("txn_M1", 700, 1, ref_order="ORD-9000001"), charge("txn_M2", 800, 2)], "p")
        run(s)
        page = table_queries.fetch_page(s, MatchFilters(), Sort("confidence", descending=True))
        assert [r["confidence"] for r in page.rows] == [100, 75]
        assert page.rows[0]["members"] == 2
        assert table_queries.count(s, MatchFilters(statuses=("suggested",))) == 1
        assert table_queries.count(s, MatchFilters(text="ORD-9000001")) == 1
        ids = table_queries.fetch_ids(s, MatchFilters(), Sort("id"))
        rows = table_queries.rows_for_ids(s, MatchFilters(), ids[::-1].tolist())
        assert [r["id"] for r in rows] == ids[::-1].tolist()
        members = table_queries.match_members(s, ids.tolist())
        assert sorted(m["external_id"] for m in members[int(ids[0])]) == ["ORD-9000001", "txn_M1"]


def test_saved_filters_round_trip(db: Database) -> None:
    with db.session() as s:
        f = ExceptionFilters(source_kinds=("bank",), amount_min=100, text="fee")
        fid = table_queries.save_filter(s, "exceptions", "anna", "bank fees", f, actor="anna")
        again = table_queries.save_filter(s, "exceptions", "anna", "bank fees", f, actor="anna")
        assert fid == again
        assert table_queries.list_filters(s, "exceptions", "anna") == [(fid, "bank fees")]
        assert table_queries.load_filter(s, fid) == f
        m = MatchFilters(statuses=("suggested",), confidence_max=50)
        mid = table_queries.save_filter(s, "matches", "anna", "weak", m, actor="anna")
        assert table_queries.load_filter(s, mid) == m
        table_queries.delete_filter(s, fid, actor="anna")
        assert table_queries.list_filters(s, "exceptions", "anna") == []
