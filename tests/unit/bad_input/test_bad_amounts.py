"""Amounts: decimal marks decided per file (never per row), bounded size, no scientific notation."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Refused, amounts

HEADER = "order_id,date,amount,currency,customer\n"


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_decimal_comma_among_decimal_points_is_refused(tmp_path: Path, refused: Refused) -> None:
    # Used to be stored as 1,234.00 (the comma read as a thousands separator), exit 0.
    path = write(
        tmp_path,
        "orders.csv",
        'A1,2026-11-02,"1,234.56",EUR,x\nA2,2026-11-03,"12,34",EUR,y\nA3,2026-11-04,7.25,EUR,z\n',
    )
    message = refused(path, line=3, field="amount")
    assert "'12,34' uses ',' as the decimal mark" in message and "nothing was written" in message


def test_mixed_separators_are_refused(tmp_path: Path, refused: Refused) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        'A1,2026-11-02,"1,234.56",EUR,x\nA2,2026-11-03,"1.234,56",EUR,y\nA3,2026-11-04,"2,000.10",EUR,z\n',
    )
    assert "mixes number formats" in refused(path, line=3, field="amount")


def test_thousands_groups_must_be_three_digits(tmp_path: Path, refused: Refused) -> None:
    path = write(tmp_path, "orders.csv", 'A1,2026-11-02,"1,2345.00",EUR,x\n')
    assert "must group thousands in threes" in refused(path, line=2, field="amount")


def test_comma_decimal_detected_from_the_whole_column_is_stated(
    tmp_path: Path, store: str, accepted
) -> None:
    path = write(
        tmp_path, "orders_eu.csv", 'E1,2026-11-02,"12,34",EUR,x\nE2,2026-11-03,"1.234,50",EUR,y\n'
    )
    report = accepted(path)
    assert report["new"] == 2
    assert report["notes"] == [
        "amounts read with ',' as the decimal mark (detected from all 2 values that show one)"
    ]
    assert amounts(store, "E1") == [1234] and amounts(store, "E2") == [123450]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("99999999999999999999999", "larger than the largest amount accepted"),
        ("-1000000000000000.01", "larger than the largest amount accepted"),
        ("1e30", "not an amount: '1e30'"),
        ("1e3", "not an amount: '1e3'"),
        ("1O,0O", "not an amount"),
    ],
)
def test_csv_amounts_beyond_the_bound_or_not_numbers(
    tmp_path: Path, refused: Refused, amount: str, expected: str
) -> None:
    path = write(
        tmp_path, "orders.csv", f'A1,2026-11-02,10.00,EUR,x\nA2,2026-11-03,"{amount}",EUR,y\n'
    )
    assert expected in refused(path, line=3, field="amount")


def test_stripe_csv_amount_beyond_the_bound(tmp_path: Path, refused: Refused) -> None:
    path = tmp_path / "stripe.csv"
    path.write_text(
        "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\n"
        "txn_1,2026-11-02 10:00:00,eur,10.00,0.30,9.70,charge\n"
        "txn_2,2026-11-02 11:00:00,eur,99999999999999999999999,0.00,"
        "99999999999999999999999,charge\n",
        encoding="utf-8",
    )
    assert "larger than the largest amount accepted" in refused(path, line=3, field="gross")


def test_stripe_api_json_amount_beyond_the_bound(tmp_path: Path, refused: Refused) -> None:
    path = tmp_path / "stripe.json"
    path.write_text(
        '[\n{"object": "balance_transaction", "id": "txn_1", "amount": 1000, "fee": 30, "net": 970,'
        ' "currency": "eur", "created": 1793000000, "type": "charge"},\n'
        '{"object": "balance_transaction", "id": "txn_2", "amount": 1e30, "fee": 0, "net": 1e30,'
        ' "currency": "eur", "created": 1793000000, "type": "charge"}\n]\n',
        encoding="utf-8",
    )
    assert "not an integer number of minor units" in refused(path, line=3, field="amount")


OFX = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>USD
<BANKACCTFROM><BANKID>123<ACCTID>987654<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20261101<DTEND>20261130
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261102<TRNAMT>{amount}<FITID>F1<NAME>Customer
</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>0<DTASOF>20261130</LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1>
</OFX>
"""


def test_ofx_amount_beyond_the_bound(tmp_path: Path, refused: Refused) -> None:
    path = tmp_path / "bank.ofx"
    path.write_text(OFX.format(amount="99999999999999999999999.00"), encoding="ascii")
    assert "larger than the largest amount accepted" in refused(path, line=16, field="TRNAMT")


def test_mt940_amount_beyond_the_bound(tmp_path: Path, refused: Refused) -> None:
    path = tmp_path / "statement.sta"
    path.write_text(
        ":20:STMT\n:25:NL81ASNB0708271685\n:28C:1/1\n:60F:C261101EUR0,00\n"
        ":61:2611021102C999999999999999,00NTRFNONREF\n:86:test\n"
        ":62F:C261102EUR999999999999999,00\n",
        encoding="ascii",
    )
    message = refused(path, line=5, field=":61: amount")
    assert "larger than the largest amount accepted (10,000,000,000,000.00 EUR)" in message
