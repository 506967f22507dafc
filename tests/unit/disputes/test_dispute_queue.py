"""Disputes queue: urgency order, filters, keyset pages, claim-next (also concurrent), assign."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import insert, select

from workstation.db import Database
from workstation.errors import UserError
from workstation.models import Dispute, DisputeEvent, User
from workstation.services.common.users import ensure_user
from workstation.services.disputes.assignment import assign, claim_next
from workstation.services.disputes.deadlines import countdown, due_state
from workstation.services.disputes.queue import QueueFilters, count_disputes, list_disputes

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def case(pid: str, amount: int, hours: float | None, **kw: Any) -> dict[str, Any]:
    row = {
        "psp": "stripe",
        "psp_dispute_id": pid,
        "network": "Visa",
        "reason_code": "10.4",
        "reason_category": "fraud",
        "stage": "chargeback",
        "status": "needs_response",
        "amount_minor": amount,
        "currency": "USD",
        "due_by": None if hours is None else NOW + dt.timedelta(hours=hours),
        "evidence_locked": False,
        "created_at": NOW,
        "updated_at": NOW,
    }
    row.update(kw)
    return row


CASES = [
    case("small-soon", 5_000, 10),  # 50.00 / 10 h = 5
    case("big-later", 50_000, 50),  # 500.00 / 50 h = 10
    case("overdue-small", 1_000, -5),
    case("overdue-big", 90_000, -30),
    case("no-due", 70_000, None),
    case("won", 99_000, 5, status="won"),
    case("review", 10_000, 5, status="under_review"),
    case("yen", 1_000, 125, currency="JPY", network="Mastercard", reason_code="4837"),  # 8
    case("tiny-urgent", 100, 0.5, stage="inquiry"),  # 1.00 / max(0.5, 1) = 1
]


@pytest.fixture
def queue_db(any_db: Database) -> Database:
    with any_db.session() as s:
        s.execute(insert(Dispute), CASES)
        ensure_user(s, "alice")
        ensure_user(s, "bob")
    return any_db


def ids(page_rows: list[Any]) -> list[str]:
    return [r.psp_dispute_id for r in page_rows]


def test_urgency_order(queue_db: Database) -> None:
    with queue_db.session() as s:
        page = list_disputes(s, limit=50, now=NOW)
    assert ids(page.rows) == [
        "overdue-big",  # overdue first, most money first
        "overdue-small",
        "big-later",  # 500.00 / 50 h = 10 per hour left
        "yen",  # 1000 JPY (no decimals) / 125 h = 8
        "small-soon",
        "tiny-urgent",
        "no-due",
        "won",  # not waiting for us: last, most money first
        "review",
    ]
    first = page.rows[0]
    assert (first.countdown, first.due_state, first.urgency_bucket) == ("overdue 1 d", "overdue", 0)
    assert page.rows[4].countdown == "10 h 0 min left"


def test_keyset_pages_cover_everything_once(queue_db: Database) -> None:
    seen: list[str] = []
    key = None
    with queue_db.session() as s:
        while True:
            page = list_disputes(s, after_key=key, limit=2, now=NOW)
            seen += ids(page.rows)
            key = page.next_key
            if key is None:
                break
        full = ids(list_disputes(s, limit=50, now=NOW).rows)
        by_amount = list_disputes(s, sort="amount", descending=True, limit=3, now=NOW)
        rest = list_disputes(s, sort="amount", descending=True, after_key=by_amount.next_key)
    assert seen == full
    # Major units of each currency: 1000 JPY sorts above 990.00 USD (no FX in the queue).
    assert ids(by_amount.rows) == ["yen", "won", "overdue-big"]
    assert ids(rest.rows)[:2] == ["no-due", "big-later"]


def test_filters_and_counts(queue_db: Database) -> None:
    with queue_db.session() as s:
        f = QueueFilters(status=["needs_response"], due_within_days=1)
        assert set(ids(list_disputes(s, f, now=NOW).rows)) == {
            "overdue-big",
            "overdue-small",
            "small-soon",
            "tiny-urgent",
        }
        assert ids(list_disputes(s, QueueFilters(network=["Mastercard"]), now=NOW).rows) == ["yen"]
        assert ids(list_disputes(s, QueueFilters(stage=["inquiry"]), now=NOW).rows) == [
            "tiny-urgent"
        ]
        assert ids(list_disputes(s, QueueFilters(search="overdue-"), now=NOW).rows) == [
            "overdue-big",
            "overdue-small",
        ]
        counts = count_disputes(s, now=NOW)
        assert counts == {"total": 9, "overdue": 2, "due_today": 2, "unassigned": 7}


def test_claim_next_and_assign(queue_db: Database) -> None:
    with queue_db.session() as s:
        first = claim_next(s, "alice", now=NOW)
        assert first is not None and first.psp_dispute_id == "overdue-big"
        second = claim_next(s, "bob", now=NOW)
        assert second is not None and second.psp_dispute_id == "overdue-small"
        mine = list_disputes(s, QueueFilters(assignee="alice"), now=NOW)
        assert ids(mine.rows) == ["overdue-big"] and mine.rows[0].assignee == "alice"
        others = [
            d.id
            for d in s.scalars(select(Dispute).where(Dispute.psp_dispute_id.in_(["yen", "won"])))
        ]
        assert assign(s, others, "bob", "alice") == 2
        assert assign(s, others, "bob", "alice") == 0  # already theirs: no new events
        with pytest.raises(UserError, match="no user"):
            assign(s, others, "nobody", "alice")
        events = list(s.scalars(select(DisputeEvent).where(DisputeEvent.kind == "assigned")))
        assert len(events) == 4
        assert {e.detail["to"] for e in events} == {"alice", "bob"}
        unassigned = list_disputes(s, QueueFilters(unassigned=True, status=["needs_response"]))
        assert "yen" not in ids(unassigned.rows)
    with queue_db.session() as s:
        claimed = []
        while (d := claim_next(s, "alice", now=NOW)) is not None:
            claimed.append(d.psp_dispute_id)
        assert claimed == ["big-later", "small-soon", "tiny-urgent", "no-due"]


def test_claim_next_concurrent_on_postgres(pg_db: Database) -> None:
    with pg_db.session() as s:
        s.execute(insert(Dispute), CASES)
        for login in ("u1", "u2"):
            ensure_user(s, login)
    barrier = threading.Barrier(2, timeout=20)
    results: dict[str, str | None] = {}

    def worker(login: str) -> None:
        with pg_db.sessions() as s, s.begin():
            barrier.wait()
            d = claim_next(s, login, now=NOW)
            results[login] = d.psp_dispute_id if d else None
            barrier.wait()  # both hold their row lock until both have claimed

    threads = [threading.Thread(target=worker, args=(u,)) for u in ("u1", "u2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(v for v in results.values() if v) == ["overdue-big", "overdue-small"]
    with pg_db.session() as s:
        owners = dict(
            s.execute(
                select(Dispute.psp_dispute_id, User.login).join(
                    User, User.id == Dispute.assignee_id
                )
            ).all()
        )
    assert owners == {v: k for k, v in results.items()}


def test_countdown_and_due_state() -> None:
    assert countdown(NOW + dt.timedelta(days=3, hours=4, minutes=10), NOW) == "3 d 4 h left"
    assert countdown(NOW + dt.timedelta(minutes=30), NOW) == "30 min left"
    assert countdown(NOW - dt.timedelta(days=2, hours=1), NOW) == "overdue 2 d"
    assert countdown(NOW - dt.timedelta(hours=3), NOW) == "overdue 3 h"
    assert countdown(None, NOW) == ""
    utc = dt.UTC
    assert due_state(NOW - dt.timedelta(seconds=1), NOW, utc) == "overdue"
    assert due_state(NOW + dt.timedelta(hours=6), NOW, utc) == "due_today"
    assert due_state(NOW + dt.timedelta(hours=30), NOW, utc) == "due_soon"
    assert due_state(NOW + dt.timedelta(days=9), NOW, utc) == "ok"
    assert due_state(None, NOW, utc) == "none"


def test_category_filter_takes_network_names(db: Database) -> None:
    with db.session() as s:
        s.execute(
            insert(Dispute),
            [
                case("mc-4853", 1000, 20, reason_category="cardholder_dispute"),
                case("amex-c08", 1000, 20, reason_category="card_member_dispute"),
                case("visa-13.1", 1000, 20, reason_category="consumer_dispute"),
                case("fraud", 1000, 20),
            ],
        )
        page = list_disputes(s, QueueFilters(category=["consumer_dispute"]), now=NOW)
    assert sorted(ids(page.rows)) == ["amex-c08", "mc-4853", "visa-13.1"]
