"""Visa VAMP and Mastercard ECP: the published formulas, thresholds and edges, on our data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from workstation.db import Database
from workstation.services.analytics import scheme_ratios

from .handmade import MARCH

D = dt.date


@pytest.mark.parametrize(
    ("month", "threshold"),
    [
        (D(2025, 6, 1), Decimal("0.022")),
        (D(2026, 3, 1), Decimal("0.022")),
        (D(2026, 4, 1), Decimal("0.015")),
        (D(2027, 1, 1), Decimal("0.015")),
    ],
)
def test_vamp_threshold_changes_on_2026_04_01(month: dt.date, threshold: Decimal) -> None:
    assert scheme_ratios.vamp_threshold(month) == threshold


def test_vamp_excessive_edges() -> None:
    march, april = D(2026, 3, 1), D(2026, 4, 1)
    # 1,501 = 1,000 TC15 + 501 TC40 over 68,228 settled: 2.19997 % (< 2.2 %); over 68,000: 2.207 %
    a = scheme_ratios.assess_vamp(march, 501, 1000, 68_228)
    assert a.count == 1501 and a.applies and a.ratio < Decimal("0.022") and not a.excessive
    b = scheme_ratios.assess_vamp(march, 501, 1000, 68_000)
    assert b.applies and b.excessive
    # exactly at the threshold counts (>=): 1,540 / 70,000 = 2.2 %
    c = scheme_ratios.assess_vamp(march, 540, 1000, 70_000)
    assert c.ratio == Decimal("0.022") and c.excessive
    # the count condition: 1,500 is not above 1,500, whatever the ratio
    d = scheme_ratios.assess_vamp(march, 500, 1000, 10_000)
    assert d.ratio == Decimal("0.15") and not d.applies and not d.excessive
    # the same month numbers in April 2026 meet the lower 1.5 % threshold
    e = scheme_ratios.assess_vamp(march, 301, 1200, 80_000)  # 1.87625 %
    assert not e.excessive
    f = scheme_ratios.assess_vamp(april, 301, 1200, 80_000)
    assert f.threshold == Decimal("0.015") and f.excessive
    # one charge may count twice (a TC40 and a TC15): the numerator is the sum
    assert scheme_ratios.assess_vamp(april, 1, 1, 2).ratio == 1
    assert scheme_ratios.assess_vamp(april, 5, 5, 0).ratio is None


@pytest.mark.parametrize(
    ("chargebacks", "prior", "level"),
    [
        (99, 1000, None),  # above 1.5 % but fewer than 100 chargebacks
        (100, 6667, None),  # 1.49993 %
        (100, 6666, "ECM"),  # 1.50015 %
        (150, 10_000, "ECM"),  # exactly 1.5 %
        (299, 1000, "ECM"),  # 29.9 %, but HECM needs 300
        (300, 10_000, "HECM"),  # exactly 3.0 %
        (300, 10_001, "ECM"),  # just under 3 %: still in the ECM band
        (500, 40_000, None),  # 1.25 %
        (0, 0, None),
    ],
)
def test_ecp_levels(chargebacks: int, prior: int, level: str | None) -> None:
    assert scheme_ratios.assess_ecp(chargebacks, prior).level == level


def test_ecp_ratio_and_basis_points() -> None:
    a = scheme_ratios.assess_ecp(150, 10_000)
    assert a.ratio == Decimal("0.015") and a.basis_points == Decimal(150)
    assert scheme_ratios.assess_ecp(3, 0).ratio is None


def test_vamp_on_the_store(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        rows = scheme_ratios.vamp(s, D(2026, 2, 1), MARCH[1])
    feb, mar = rows
    # March Visa: d1 (chargeback) is a TC15; d2 (fraud inquiry) and d3 (NOTIFICATION_OF_FRAUD)
    # are TC40s; d4 (non-fraud inquiry) is neither. Settled Visa charges: ch_1, ch_2, ad_6.
    assert (mar.fraud_reports, mar.disputes, mar.count, mar.settled) == (2, 1, 3, 3)
    assert mar.ratio == 1 and mar.threshold == Decimal("0.022")
    assert not mar.applies and not mar.excessive
    assert mar.amount_currency == "EUR"
    assert (mar.disputed_minor, mar.settled_minor) == (16000, 60000)
    assert mar.amount_ratio == Decimal(16000) / Decimal(60000)
    assert mar.transactions_unattributed == 0
    # February: d5 was opened, but no Visa charge settled (ad_4/ad_5 are Mastercard)
    assert (feb.disputes, feb.settled, feb.ratio) == (1, 0, None)


def test_ecp_uses_the_prior_month(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        (mar,) = scheme_ratios.ecp(s, *MARCH)
        (feb,) = scheme_ratios.ecp(s, D(2026, 2, 1), D(2026, 2, 28))
    # March chargebacks d6 and d7 ("mc"); d8 is an inquiry. Denominator: February's Mastercard
    # charges ad_4 and ad_5 (March's ch_3 is not used).
    assert (mar.chargebacks, mar.prior_month, mar.prior_transactions) == (2, D(2026, 2, 1), 2)
    assert mar.ratio == 1 and mar.basis_points == Decimal(10_000) and mar.level is None
    assert (mar.chargeback_minor, mar.prior_minor) == (7500, 100_000)
    assert mar.amount_ratio == Decimal("0.075")
    assert (mar.fraud_chargebacks, mar.fraud_minor) == (1, 5000)  # d6, reason 4837
    assert mar.fraud_amount_ratio == Decimal("0.05")
    assert mar.efm_candidate is None  # EUR amounts: the USD 50,000 test cannot be made
    assert (feb.chargebacks, feb.prior_transactions, feb.ratio) == (0, 0, None)


def test_dispute_classes() -> None:
    assert scheme_ratios.dispute_class("chargeback", None, "fraud") == "tc15"
    assert scheme_ratios.dispute_class("pre_arbitration", None, "consumer_dispute") == "tc15"
    assert scheme_ratios.dispute_class("inquiry", None, "fraud") == "tc40"
    assert scheme_ratios.dispute_class("inquiry", None, "consumer_dispute") == "inquiry"
    assert scheme_ratios.dispute_class("chargeback", "notification_of_fraud", None) == "tc40"


def test_psp_filter_and_amount_currency(kpi_db: Database) -> None:
    with kpi_db.session() as s:
        (mar,) = scheme_ratios.vamp(s, *MARCH, psps=["stripe"])
        (usd,) = scheme_ratios.vamp(s, *MARCH, currency="USD")
    # Stripe only: d1, d2, d3 and the two Stripe Visa charges
    assert (mar.count, mar.settled) == (3, 2)
    assert mar.ratio == Decimal("1.5")
    assert (usd.amount_currency, usd.disputed_minor, usd.settled_minor) == ("USD", 0, 0)
    assert usd.amount_ratio is None and usd.count == 3  # counts do not depend on currency
