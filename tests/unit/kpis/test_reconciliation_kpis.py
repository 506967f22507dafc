"""Match rate, unmatched ageing, settlement lag and fees on the hand-made store (exact values)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from workstation.db import Database
from workstation.services.analytics import (
    catalogue,
    measures,
    networks,
    periods,
    reconciliation,
    settlement,
)

from .handmade import MARCH

D = dt.date


def _rows(df, key: str) -> dict:
    return {r[key]: r for r in df.to_dict("records")}


def test_match_rate_by_source_month(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        df = reconciliation.match_rate(s, *MARCH, grain="month")
    rows = _rows(df, "source")
    assert list(df.columns) == reconciliation.MATCH_RATE_COLUMNS
    assert set(df["period"]) == {D(2026, 3, 1)}
    # Shop: 6 orders, ORD-6 ignored (out of scope); ORD-4 unmatched + ORD-5 suggested are open.
    shop = rows["Shop"]
    assert (shop["records"], shop["reconciled"], shop["open"]) == (5, 3, 2)
    assert shop["count_rate"] == Decimal(3) / Decimal(5)
    assert (shop["value_minor"], shop["reconciled_minor"], shop["open_minor"]) == (
        43000,
        35000,
        8000,
    )
    assert shop["value_rate"] == Decimal(35000) / Decimal(43000)
    # Stripe: 3 charges, 2 payouts matched, the fee line written off -> all reconciled.
    stripe = rows["Stripe EUR"]
    assert (stripe["records"], stripe["reconciled"], stripe["value_minor"]) == (6, 6, 70000)
    assert stripe["count_rate"] == 1 and stripe["value_rate"] == 1
    # Adyen March: one unmatched charge, one suggested refund (February is outside the period).
    adyen = rows["Adyen EUR"]
    assert (adyen["records"], adyen["reconciled"], adyen["value_minor"]) == (2, 0, 35000)
    assert adyen["count_rate"] == 0
    bank = rows["Bank EUR"]
    assert (bank["records"], bank["reconciled"]) == (3, 2)
    assert bank["count_rate"] == Decimal(2) / Decimal(3)
    assert (bank["value_minor"], bank["reconciled_minor"]) == (134000, 34000)


def test_match_rate_grains_and_filters(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        daily = reconciliation.match_rate(s, *MARCH, grain="day", sources=["Shop"])
        weekly = reconciliation.match_rate(
            s, D(2026, 2, 1), D(2026, 3, 31), grain="week", psps=["adyen"]
        )
        with pytest.raises(ValueError):
            reconciliation.match_rate(s, *MARCH, grain="year")
    assert set(daily["source"]) == {"Shop"}
    by_day = {r["period"]: (r["records"], r["reconciled"]) for r in daily.to_dict("records")}
    assert by_day == {
        D(2026, 3, 2): (2, 2),
        D(2026, 3, 3): (1, 1),
        D(2026, 3, 20): (1, 0),
        D(2026, 3, 29): (1, 0),
    }  # ORD-6 (ignored, 10 March) leaves no row
    by_week = {r["period"]: (r["records"], r["reconciled"]) for r in weekly.to_dict("records")}
    # Mondays: 9 Feb (ad_4 10th, ad_5 11th, matched), 2 Mar (ad_6 5th, ad_r 6th, open)
    assert by_week == {D(2026, 2, 9): (2, 2), D(2026, 3, 2): (2, 0)}


def test_unmatched_ageing_buckets(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        df = reconciliation.unmatched_ageing(s, None, D(2026, 3, 31))
        later = reconciliation.unmatched_ageing(s, None, D(2026, 4, 30), as_of=D(2026, 4, 1))
        early = reconciliation.unmatched_ageing(s, None, D(2026, 3, 31), as_of=D(2026, 3, 19))
    got = {
        (r["source"], r["bucket"]): (r["records"], r["value_minor"], r["net_minor"])
        for r in df.to_dict("records")
    }
    assert got == {
        ("Adyen EUR", "8-30"): (2, 35000, 25000),  # 26 and 25 days; the refund is negative
        ("Bank EUR", "8-30"): (1, 100000, -100000),  # rent, exactly 30 days
        ("Shop", "0-2"): (1, 1000, 1000),  # ORD-5, 2 days (suggested counts as open)
        ("Shop", "8-30"): (1, 7000, 7000),  # ORD-4, 11 days
    }
    assert list(df.columns) == reconciliation.AGEING_COLUMNS
    moved = {(r["source"], r["bucket"]): r["records"] for r in later.to_dict("records")}
    assert moved[("Shop", "3-7")] == 1  # ORD-5 is now 3 days old
    assert moved[("Bank EUR", ">30")] == 1  # rent 31 days
    # as of 19 March: the orders of the 20th and 29th are in the future and left out
    assert ("Shop", "0-2") not in {(r["source"], r["bucket"]) for r in early.to_dict("records")}
    assert [periods.age_bucket(d) for d in (0, 2, 3, 7, 8, 30, 31, -1)] == [
        "0-2",
        "0-2",
        "3-7",
        "3-7",
        "8-30",
        "8-30",
        ">30",
        None,
    ]
    assert periods.bucket_bounds(">30") == (31, None)


def test_settlement_lag(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        df = settlement.settlement_lag(s, *MARCH)
    rows = _rows(df, "psp")
    st = rows["stripe"]
    # ch_1, ch_2 (2 Mar) -> po_A line 4 Mar -> bank 5 Mar (auto match with the payout line);
    # ch_3 (3 Mar) -> po_B line 6 Mar -> bank 9 Mar (confirmed match with the charge itself).
    assert (st["charges"], st["paid_out"], st["credited"]) == (3, 3, 3)
    assert st["capture_to_payout_median"] == 2 and st["capture_to_payout_p90"] == 3
    assert st["payout_to_bank_median"] == 2 and st["payout_to_bank_p90"] == 3  # payouts 1, 3
    assert st["capture_to_bank_median"] == 3 and st["capture_to_bank_p90"] == 6
    ad = rows["adyen"]  # ad_6 has a payout id but no payout line and no bank credit yet
    assert (ad["charges"], ad["paid_out"], ad["credited"]) == (1, 0, 0)
    assert ad["capture_to_bank_median"] is None


def test_weighted_statistics() -> None:
    v, w = np.array([5, 1, 3]), np.array([1, 2, 1])  # 1, 1, 3, 5
    assert measures.weighted_median(v, w) == 2
    assert measures.weighted_percentile(v, w, 90) == 5
    assert measures.weighted_percentile(v, w, 50) == 1
    assert measures.weighted_median(np.array([4]), np.array([3])) == 4
    assert measures.weighted_median(np.array([], dtype=int), np.array([], dtype=int)) is None


def test_fees_by_psp_and_method(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        df = settlement.fees(s, *MARCH)
        totals = settlement.fees(s, *MARCH, by_method=False)
    got = {(r["psp"], r["method"]): r for r in df.to_dict("records")}
    assert set(got) == {
        ("stripe", "visa"),
        ("stripe", "mastercard"),
        ("stripe", "all"),
        ("adyen", "visa"),
    }
    v = got[("stripe", "visa")]  # "visa" and "Visa" are one method
    assert (v["transactions"], v["gross_minor"], v["fee_minor"]) == (2, 30000, 800)
    assert v["rate"] == Decimal(800) / Decimal(30000)
    assert got[("stripe", "mastercard")]["rate"] == Decimal("0.04")
    other = got[("stripe", "all")]  # the fee line: fee without gross
    assert (other["transactions"], other["fee_minor"], other["rate"]) == (0, 1000, None)
    assert got[("adyen", "visa")]["rate"] == Decimal("0.03")  # the refund adds no gross, no fee
    t = {r["psp"]: r for r in totals.to_dict("records")}
    assert (t["stripe"]["gross_minor"], t["stripe"]["fee_minor"]) == (35000, 2000)
    assert t["stripe"]["rate"] == Decimal(2000) / Decimal(35000)
    assert t["adyen"]["rate"] == Decimal("0.03")
    assert set(totals["method"]) == {"all"}


def test_method_and_network_names() -> None:
    assert networks.normalise_network("visastandardcredit") == "visa"
    assert networks.normalise_network("MasterCard") == "mastercard"
    assert networks.normalise_network("mc") == "mastercard"
    assert networks.normalise_network("American Express") == "amex"
    assert networks.normalise_network("paypal") is None
    assert networks.method_label("") == "all"
    assert networks.method_label("ideal") == "ideal"


def test_default_period_skips_a_spillover_month(kpi_db: Database, db: Database) -> None:
    from workstation.importers.base import AccountInfo, ParseResult, frame_from_rows
    from workstation.services.imports.ingest import store

    with kpi_db.session() as s:
        assert catalogue.default_period(s) == MARCH
    row = {
        "line_no": 1,
        "account": "b",
        "external_id": "BK-APR",
        "booked_on": D(2026, 4, 2),
        "amount_minor": 100,
        "currency": "EUR",
        "kind": "bank_credit",
    }
    result = ParseResult(
        "t", {"b": AccountInfo("b", "bank", "bank", "Bank EUR")}, frame_from_rows([row])
    )
    with kpi_db.session() as s:
        store(s, result, file_name="apr.csv", sha256="apr", actor="t")
    with kpi_db.session() as s:
        assert catalogue.default_period(s) == MARCH  # 1 April line against 17 in March


def test_default_period_of_an_empty_store(db: Database) -> None:
    with db.session() as s:
        assert catalogue.default_period(s, today=D(2026, 5, 17)) == (D(2026, 5, 1), D(2026, 5, 31))
