"""A PSP's unique transaction id twice in one file is a problem row, not a second charge."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Refused, amounts

STRIPE = (
    "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\n"
    "txn_A,2026-11-02 10:00:00,eur,10.00,0.30,9.70,charge\n"
    "txn_B,2026-11-02 11:00:00,eur,20.00,0.60,19.40,charge\n"
    "txn_A,2026-11-02 10:00:00,eur,10.00,0.30,9.70,charge\n"
)
PAYPAL = (
    "Date,Time,TimeZone,Name,Type,Status,Currency,Gross,Fee,Net,Transaction ID\n"
    "11/02/2026,10:00:00,PST,Ada,Express Checkout Payment,Completed,USD,10.00,-0.59,9.41,PP1\n"
    "11/02/2026,11:00:00,PST,Ada,Express Checkout Payment,Completed,USD,10.00,-0.59,9.41,PP1\n"
)
BRAINTREE = (
    "Transaction ID,Transaction Type,Transaction Status,Settlement Amount,"
    "Settlement Currency ISO Code,Settlement Date\n"
    "bt1,sale,settled,10.00,USD,2026-11-02\n"
    "bt1,sale,settled,10.00,USD,2026-11-02\n"
)
STRIPE_JSON = (
    "[\n"
    '{"object": "balance_transaction", "id": "txn_J", "amount": 1000, "fee": 30, "net": 970,'
    ' "currency": "eur", "created": 1793000000, "type": "charge"},\n'
    '{"object": "balance_transaction", "id": "txn_J", "amount": 1000, "fee": 30, "net": 970,'
    ' "currency": "eur", "created": 1793000000, "type": "charge"}\n'
    "]\n"
)


@pytest.mark.parametrize(
    ("name", "body", "line", "field"),
    [
        ("stripe.csv", STRIPE, 4, "balance_transaction_id"),
        ("paypal.csv", PAYPAL, 3, "Transaction ID"),
        ("braintree.csv", BRAINTREE, 3, "Transaction ID"),
        ("stripe.json", STRIPE_JSON, 3, None),
    ],
)
def test_repeated_psp_id_is_refused(
    tmp_path: Path, refused: Refused, name: str, body: str, line: int, field: str | None
) -> None:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    message = refused(path, line=line, field=field)
    assert "occurs again (first on line 2)" in message


def test_skip_bad_rows_keeps_one_charge(tmp_path: Path, store: str, accepted) -> None:
    path = tmp_path / "stripe.csv"
    path.write_text(STRIPE, encoding="utf-8")
    report = accepted(path, "--skip-bad-rows")
    assert report["new"] == 2 and report["problems"] == 1
    assert amounts(store, "txn_A") == [1000]
