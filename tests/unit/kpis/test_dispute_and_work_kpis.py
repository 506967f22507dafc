"""Dispute counts, win and recovery rates, the 7-day due list and agent throughput (exact)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from workstation.db import Database
from workstation.services.analytics import catalogue, dispute_metrics, throughput

from .handmade import MARCH

D = dt.date


def _by_key(df) -> dict:
    return {r["key"]: r for r in df.to_dict("records")}


def test_dispute_stats_by_category(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        df = dispute_metrics.dispute_stats(s, *MARCH)
    assert list(df.columns) == dispute_metrics.DISPUTE_STATS_COLUMNS
    rows = _by_key(df)
    assert set(rows) == {"fraud", "consumer_dispute", "cardholder_dispute", "card_member_dispute"}
    fraud = rows["fraud"]  # d1 won 100.00, d2 open 20.00, d3 lost 40.00, d6 lost 50.00
    assert (fraud["disputes"], fraud["open"], fraud["won"], fraud["lost"]) == (4, 1, 1, 2)
    assert fraud["win_rate"] == Decimal(1) / Decimal(3)
    assert (fraud["disputed_minor"], fraud["closed_minor"], fraud["won_minor"]) == (
        21000,
        19000,
        10000,
    )
    assert fraud["recovery_rate"] == Decimal(10000) / Decimal(19000)
    holder = rows["cardholder_dispute"]  # d7 won 25.00, d8 accepted 15.00
    assert (holder["won"], holder["accepted"], holder["win_rate"]) == (1, 1, 1)
    assert holder["recovery_rate"] == Decimal("0.625")
    consumer = rows["consumer_dispute"]  # d4 still under review (d5 was opened in February)
    assert (consumer["disputes"], consumer["open"]) == (1, 1)
    assert consumer["win_rate"] is None and consumer["recovery_rate"] is None
    amex = rows["card_member_dispute"]  # d9 expired: closed, nothing won, not a decided fight
    assert (amex["expired"], amex["win_rate"], amex["recovery_rate"]) == (1, None, 0)


def test_dispute_stats_by_network_and_psp(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        net = _by_key(dispute_metrics.dispute_stats(s, *MARCH, by="network"))
        psp = _by_key(dispute_metrics.dispute_stats(s, *MARCH, by="psp"))
        only_mc = dispute_metrics.dispute_stats(s, *MARCH, by="psp", networks=["MasterCard"])
        with pytest.raises(ValueError):
            dispute_metrics.dispute_stats(s, *MARCH, by="colour")
    assert {k: r["disputes"] for k, r in net.items()} == {"visa": 4, "mastercard": 3, "amex": 1}
    assert net["visa"]["win_rate"] == Decimal("0.5")  # d1 won, d3 lost
    assert net["mastercard"]["win_rate"] == Decimal("0.5")  # d7 won, d6 lost
    assert {k: r["disputes"] for k, r in psp.items()} == {"stripe": 4, "adyen": 4}
    assert psp["adyen"]["recovery_rate"] == Decimal(2500) / Decimal(9800)
    assert only_mc["disputes"].tolist() == [3]


def test_disputes_due_in_7_days(kpi_db: Database) -> None:
    now = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)
    with kpi_db.session() as s:
        due = dispute_metrics.disputes_due(s, as_of=now)
    # d2 due in 48 h, d10 in 167 h 59 min; d11 is due exactly 7 days out (excluded), d12 is
    # overdue and d4 is under review (nothing to do).
    assert due["dispute_id"].tolist() == ["d2", "d10"]
    assert due["hours_left"].tolist() == [48, 167]
    assert due["assignee"].tolist() == [None, "alice"]
    assert due["amount_minor"].tolist() == [2000, 900]
    assert list(due.columns) == dispute_metrics.DUE_COLUMNS


def test_agent_throughput(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        df = throughput.agent_throughput(s, *MARCH)
    rows = {r["assignee"]: r for r in df.to_dict("records")}
    # alice: resolved 5 Mar and 31 Mar 23:59 (once reopened); 1 Apr is outside. bob: 10 Mar;
    # his reopened, not yet re-resolved case does not count. One resolved case has no assignee.
    assert df["assignee"].tolist() == ["alice", "bob", "unassigned"]
    assert (rows["alice"]["resolved"], rows["alice"]["reopened"], rows["alice"]["days"]) == (
        2,
        1,
        31,
    )
    assert rows["alice"]["per_day"] == Decimal(2) / Decimal(31)
    assert rows["alice"]["reopen_rate"] == Decimal("0.5")
    assert (rows["bob"]["resolved"], rows["bob"]["reopen_rate"]) == (1, 0)
    assert rows["unassigned"]["resolved"] == 1


def test_headlines_and_dashboard(kpi_db: Database) -> None:
    now = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)
    with kpi_db.session() as s:
        dash = catalogue.dashboard(s, *MARCH, now=now)
    heads = {h.key: h for h in dash.headlines}
    # 5 + 6 + 2 + 3 = 16 lines in scope, 3 + 6 + 0 + 2 = 11 reconciled
    assert heads["match_rate"].value == Decimal(11) / Decimal(16)
    assert heads["unmatched_value"].value == 143000 and heads["unmatched_value"].currency == "EUR"
    assert heads["vamp"].value == 1 and heads["ecp"].value == 1
    assert heads["win_rate"].value == Decimal("0.5")  # d1, d7 won; d3, d6 lost
    assert heads["due_7d"].value == 2
    assert heads["fees"].value == Decimal(2900) / Decimal(65000)
    assert heads["lag"].value == 3  # the slowest PSP median, capture to bank
    assert heads["match_rate"].drill == {
        "page": "exceptions",
        "filters": {"booked_from": "2026-03-01", "booked_to": "2026-03-31"},
    }
    assert len(dash.match_rate_series) > len(dash.match_rate)  # daily points for a month
