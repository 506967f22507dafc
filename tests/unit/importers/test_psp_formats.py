"""PSP report and tabular importers: Stripe, Adyen, PayPal, Braintree, order/ledger tables.

Expected counts and sums of the real samples were computed from the files with the csv module and
Decimal, independently of the importers.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select

from workstation.db import Database
from workstation.errors import UserError
from workstation.importers import adyen, braintree, csvutil, paypal, registry, stripe, tabular
from workstation.importers.base import ImportOptions, ParseResult
from workstation.models import ImportBatch, Record, Source
from workstation.services.imports.file_import import import_file

UTC = dt.UTC


def _parse(imp: object, path: Path, **opts: object) -> ParseResult:
    return imp.parse(path, path.read_bytes(), ImportOptions(**opts))  # type: ignore[attr-defined]


def _sums(res: ParseResult) -> dict[str, tuple[int, int, int, int]]:
    """currency -> (rows, Σ amount, Σ fee, Σ net) in minor units."""
    df = res.records
    out = {}
    for cur, part in df.groupby("currency"):
        out[str(cur)] = (
            len(part),
            int(part["amount_minor"].sum()),
            int(pd.to_numeric(part["fee_minor"]).fillna(0).sum()),
            int(pd.to_numeric(part["net_minor"]).sum()),
        )
    return out


def _row(res: ParseResult, external_id: str) -> dict[str, object]:
    df = res.records
    hit = df[df["external_id"] == external_id]
    assert len(hit) == 1, external_id
    return hit.iloc[0].to_dict()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("psp/adyen/adyen_settlement_detail_report_batch_238.csv", "adyen"),
        ("psp/adyen/adyen_settlement_detail_report_batch_380.csv", "adyen"),
        ("psp/paypal/paypal_activity_en.csv", "paypal"),
        ("psp/paypal/paypal_statement_en.csv", "paypal"),
        ("psp/paypal/paypal_statement_es.csv", "paypal"),
        ("psp/paypal/paypal_empty_activity.csv", "paypal"),
        ("psp/stripe/stripe_api_fixture_balance_transaction.json", "stripe"),
        ("psp/stripe/stripe_api_fixture_payout.json", "stripe"),
    ],
)
def test_samples_are_recognised_by_content(samples: Path, rel: str, expected: str) -> None:
    path = samples / rel
    renamed_head = path.read_bytes()[: registry.SNIFF_BYTES]
    assert registry.detect(renamed_head, Path("upload.bin")).name == expected


def test_stripe_does_not_claim_dispute_objects(samples: Path) -> None:
    head = (samples / "psp/stripe/stripe_api_fixture_dispute.json").read_bytes()
    assert stripe.IMPORTER.sniff(head, "x.json") == 0
    assert tabular.IMPORTER.sniff(head, "x.json") == 0


def test_header_names_are_normalised() -> None:
    assert csvutil.norm("Created (UTC)") == "created utc"
    assert csvutil.norm("Id. de transacción") == "id de transaccion"
    assert csvutil.norm(" payment_metadata[order_id] ") == "payment metadata order id"


# --------------------------------------------------------------------------- Adyen


def test_adyen_batch_380_adds_up_to_the_payout(samples: Path) -> None:
    res = _parse(adyen.IMPORTER, samples / "psp/adyen/adyen_settlement_detail_report_batch_380.csv")
    df = res.records
    assert len(df) == 228 and res.rows_total == 228
    assert not res.problems and not res.checks
    assert df["kind"].value_counts().to_dict() == {
        "charge": 220,
        "refund": 6,
        "fee": 1,
        "payout": 1,
    }
    assert set(df["payout_ref"]) == {"batch-380"} and set(df["currency"]) == {"USD"}
    net = df["net_minor"].astype("int64")
    payout = df["kind"] == "payout"
    assert int(net[~payout].sum()) == 5_530_807  # 55,308.07 USD
    assert int(net[payout].sum()) == -5_530_807
    assert _sums(res) == {"USD": (228, 5_573_580 - 3_810 - 5_530_807, 38_963, 0)}
    # Gross - fees = net on each line: 31.45 - (0.16 + 0.05 + 0.09) = 31.15
    first = _row(res, "1829098024817852")
    assert (first["amount_minor"], first["fee_minor"], first["net_minor"]) == (3145, 30, 3115)
    assert first["ref_order"] == "CM1000028854" and first["line_no"] == 2
    assert first["ref_modification"] == "7429098024927090"
    # 2021-01-05 00:21:32 CET is the evening before in UTC; the booking day stays local
    assert first["occurred_at"] == pd.Timestamp("2021-01-04 23:21:32", tz="UTC")
    assert first["booked_on"] == dt.date(2021, 1, 5) and first["value_on"] == dt.date(2021, 1, 6)
    refund = _row(res, "4646080478327021:Refunded")
    assert refund["kind"] == "refund" and refund["amount_minor"] == -1995
    assert refund["ref_charge"] == "4646080478327021" and refund["line_no"] == 41
    refund_with_fee = _row(res, "1316037899193429:Refunded")  # gross -40.00, fee 0.20
    assert (refund_with_fee["amount_minor"], refund_with_fee["net_minor"]) == (-4000, -4020)
    out = _row(res, "batch-380")
    assert out["kind"] == "payout" and out["amount_minor"] == -5_530_807
    assert "TX635094301XT" in str(out["description"])
    fee = df[df["kind"] == "fee"].iloc[0]
    assert fee["amount_minor"] == -3810 and fee["external_id"].startswith("batch-380:Fee:")
    assert list(res.accounts) == ["YOURCOMPANY_ACCOUNT-USD"]
    assert res.accounts["YOURCOMPANY_ACCOUNT-USD"].provider == "adyen"


def test_adyen_batch_238_other_column_order_carries_balance(samples: Path) -> None:
    res = _parse(adyen.IMPORTER, samples / "psp/adyen/adyen_settlement_detail_report_batch_238.csv")
    df = res.records
    assert list(df["kind"]) == ["transfer", "fee", "transfer"]
    assert list(df["amount_minor"]) == [45_433_199, -9, -45_433_190]
    assert set(df["payout_ref"]) == {"batch-238"}
    assert int(df["net_minor"].sum()) == 0 and not res.checks and not res.problems


def test_adyen_batch_that_does_not_add_up_is_a_check(samples: Path, tmp_path: Path) -> None:
    text = (samples / "psp/adyen/adyen_settlement_detail_report_batch_380.csv").read_text()
    bad = _write(
        tmp_path,
        "sdr.csv",
        text.replace(
            'MerchantPayout,"TX635094301XT batch 380, YOURCOMPANY_ACCOUNT",,,,,USD,55308.07',
            'MerchantPayout,"TX635094301XT batch 380, YOURCOMPANY_ACCOUNT",,,,,USD,55308.00',
        ),
    )
    res = _parse(adyen.IMPORTER, bad)
    assert len(res.records) == 228 and not res.problems
    assert len(res.checks) == 1
    assert "batch-380 USD" in res.checks[0].message and "55,308.07" in res.checks[0].message
    assert res.checks[0].line == 229


def test_adyen_row_where_fees_do_not_explain_net_is_left_out(samples: Path, tmp_path: Path) -> None:
    text = (samples / "psp/adyen/adyen_settlement_detail_report_batch_380.csv").read_text()
    bad = _write(tmp_path, "sdr.csv", text.replace(",31.45,1,USD,,31.15,", ",31.45,1,USD,,31.16,"))
    res = _parse(adyen.IMPORTER, bad)
    assert len(res.records) == 227
    assert [(p.line, p.field) for p in res.problems] == [(2, "Net Credit (NC)")]
    assert len(res.checks) == 1  # the batch no longer nets to its payout either


# --------------------------------------------------------------------------- PayPal


def test_paypal_activity(samples: Path) -> None:
    res = _parse(paypal.IMPORTER, samples / "psp/paypal/paypal_activity_en.csv")
    assert res.rows_total == 76 and not res.problems and not res.checks
    assert _sums(res) == {
        "USD": (45, 292_778, 292_588, 190),
        "EUR": (29, 4_334, 0, 4_334),
        "AUD": (2, 0, 0, 0),
    }
    first = _row(res, "TID1")  # 29/12/2015 07:45:51 PST, gross 84.00, fee -4.25
    assert first["booked_on"] == dt.date(2015, 12, 29)
    assert first["occurred_at"] == pd.Timestamp("2015-12-29 15:45:51", tz="UTC")
    assert (first["amount_minor"], first["fee_minor"], first["net_minor"]) == (8400, 425, 7975)
    assert first["kind"] == "charge" and first["counterparty"] == "PARTNER1"
    big = _row(res, "TID4")  # "1,653.75", 09/06/2016 07:19:50 PDT
    assert big["amount_minor"] == 165_375 and big["booked_on"] == dt.date(2016, 6, 9)
    assert big["occurred_at"] == pd.Timestamp("2016-06-09 14:19:50", tz="UTC")
    assert big["ref_order"] == "31" and big["ref_related"] == "RTID1"
    # a conversion is two records linked by the reference they share
    usd, aud = _row(res, "TID5"), _row(res, "TID6")
    assert (usd["currency"], usd["amount_minor"]) == ("USD", -7802)
    assert (aud["currency"], aud["amount_minor"]) == ("AUD", 10_000)
    assert usd["ref_related"] == aud["ref_related"] == "TID7"
    assert usd["kind"] == aud["kind"] == "transfer"
    withdrawal = _row(res, "TID11")
    assert withdrawal["kind"] == "payout" and withdrawal["payout_ref"] == "TID11"
    assert (res.records["kind"] == "payout").sum() == 14  # the "General Withdrawal" rows
    assert set(res.accounts) == {"paypal-USD", "paypal-EUR", "paypal-AUD"}


def test_paypal_statement_month_first_and_time_zones(samples: Path) -> None:
    res = _parse(paypal.IMPORTER, samples / "psp/paypal/paypal_statement_en.csv")
    assert not res.problems and not res.checks
    assert _sums(res) == {"EUR": (8, 0, 0, 0), "USD": (11, 109_680, 81_650, 28_030)}
    last = _row(res, "TID7")  # 9/27/2018 21:33:27 America/Los_Angeles (PDT)
    assert last["booked_on"] == dt.date(2018, 9, 27)
    assert last["occurred_at"] == pd.Timestamp("2018-09-28 04:33:27", tz="UTC")
    assert last["kind"] == "payout" and last["counterparty"] == "Bank B"
    cet = _row(res, "TID16")  # the one row written in CET
    assert cet["occurred_at"] == pd.Timestamp("2018-09-27 17:16:12", tz="UTC")
    assert _row(res, "TID10")["ref_related"] == "TID1"


def test_paypal_spanish_statement_decimal_comma(samples: Path) -> None:
    res = _parse(paypal.IMPORTER, samples / "psp/paypal/paypal_statement_es.csv")
    assert not res.problems and not res.checks
    assert _sums(res) == {"EUR": (4, 13_644, 536, 13_108)}
    first = _row(res, "TID1")  # "2/1/2020" in a Spanish file is 2 January
    assert first["booked_on"] == dt.date(2020, 1, 2)
    assert first["occurred_at"] == pd.Timestamp("2020-01-02 10:05:56", tz="UTC")
    assert (first["amount_minor"], first["fee_minor"], first["net_minor"]) == (4937, 178, 4759)


def test_paypal_empty_activity_imports_nothing(samples: Path, db: Database) -> None:
    path = samples / "psp/paypal/paypal_empty_activity.csv"
    res = _parse(paypal.IMPORTER, path)
    assert len(res.records) == 0 and res.rows_total == 0 and not res.problems
    with db.session() as s:
        report = import_file(s, path, actor="tester")
        assert (report.new, report.duplicates, report.problems) == (0, 0, 0)


def test_paypal_running_balance_break_is_a_check(samples: Path, tmp_path: Path) -> None:
    text = (samples / "psp/paypal/paypal_statement_es.csv").read_text(encoding="utf-8")
    bad = _write(tmp_path, "es.csv", text.replace('"4.688,83"', '"4.688,93"'))
    res = _parse(paypal.IMPORTER, bad)
    assert len(res.records) == 4
    assert [(c.line, c.field) for c in res.checks] == [(4, "Saldo"), (5, "Saldo")]
    assert "EUR running balance 4.688,93" in res.checks[0].message


# --------------------------------------------------------------------------- Stripe

PAYOUT_RECON = """\
automatic_payout_id,automatic_payout_effective_at_utc,balance_transaction_id,created_utc,\
available_on_utc,currency,gross,fee,net,reporting_category,source_id,description,charge_id,\
payment_intent_id,customer_name,payment_metadata[order_id]
po_1AAA,2026-10-03 00:00:00,txn_1A,2026-10-01 09:15:02,2026-10-03 00:00:00,eur,125.40,2.01,\
123.39,charge,ch_1A,Order ORD-1000001,ch_1A,pi_1A,Ada Lovelace,ORD-1000001
po_1AAA,2026-10-03 00:00:00,txn_1B,2026-10-01 23:59:59,2026-10-03 00:00:00,eur,-20.00,0.00,\
-20.00,refund,re_1B,Refund for ORD-0999,ch_0Z,pi_0Z,Bob,ORD-0999
po_1AAA,2026-10-03 00:00:00,txn_1C,2026-10-02 10:00:00,2026-10-03 00:00:00,eur,-15.00,0.00,\
-15.00,dispute,dp_1C,Chargeback,ch_0Y,pi_0Y,,
po_1AAA,2026-10-03 00:00:00,txn_1D,2026-10-02 10:00:00,2026-10-03 00:00:00,eur,15.00,15.00,\
0.00,fee,dp_1C,Dispute fee,,,,
po_1JPY,2026-10-04 00:00:00,txn_1E,2026-10-02 11:00:00,2026-10-04 00:00:00,jpy,12000,360,\
11640,charge,py_1E,Konbini,,pi_1E,,ORD-1000002
"""


def test_stripe_itemized_payout_reconciliation(tmp_path: Path) -> None:
    path = _write(tmp_path, "payout_reconciliation.csv", PAYOUT_RECON)
    assert stripe.IMPORTER.sniff(path.read_bytes(), path.name) == 95
    res = _parse(stripe.IMPORTER, path)
    assert not res.problems and res.rows_total == 5
    assert _sums(res) == {"EUR": (4, 10_540, 1_701, 8_839), "JPY": (1, 12_000, 360, 11_640)}
    a = _row(res, "txn_1A")
    assert (a["amount_minor"], a["fee_minor"], a["net_minor"]) == (12_540, 201, 12_339)
    assert a["occurred_at"] == pd.Timestamp("2026-10-01 09:15:02", tz="UTC")
    assert a["booked_on"] == dt.date(2026, 10, 1) and a["value_on"] == dt.date(2026, 10, 3)
    assert (a["ref_charge"], a["ref_payment_intent"], a["ref_order"]) == (
        "ch_1A",
        "pi_1A",
        "ORD-1000001",
    )
    assert a["payout_ref"] == "po_1AAA" and a["counterparty"] == "Ada Lovelace"
    assert a["raw"]["gross"] == "125.40" and a["line_no"] == 2
    b = _row(res, "txn_1B")
    assert b["kind"] == "refund" and b["ref_charge"] == "ch_0Z" and b["ref_source"] == "re_1B"
    assert _row(res, "txn_1C")["kind"] == "dispute"
    assert _row(res, "txn_1D")["kind"] == "fee"
    jpy = _row(res, "txn_1E")  # JPY has no minor unit: 12000 yen is 12000
    assert (jpy["currency"], jpy["amount_minor"], jpy["ref_charge"]) == ("JPY", 12_000, "py_1E")
    assert set(res.accounts) == {"stripe-EUR", "stripe-JPY"}
    assert res.accounts["stripe-EUR"].name == "Stripe EUR"
    assert res.tokenise_external_id is False


def test_stripe_bad_rows_are_problems_and_the_rest_imports(tmp_path: Path) -> None:
    lines = PAYOUT_RECON.splitlines()
    header, good = lines[0], lines[1]
    bad_date = good.replace("txn_1A", "txn_2").replace("2026-10-01 09:15:02", "2026-02-30 09:15:02")
    dollar = good.replace("txn_1A", "txn_3").replace(",125.40,", ",$120,")
    currency = good.replace("txn_1A", "txn_4").replace(",eur,", ",xyz,")
    net = good.replace("txn_1A", "txn_5").replace(",123.39,", ",123.40,")
    decimals = good.replace("txn_1A", "txn_6").replace(",125.40,", ",125.401,")
    path = _write(
        tmp_path,
        "r.csv",
        "\n".join([header, good, bad_date, dollar, currency, net, decimals]) + "\n",
    )
    res = _parse(stripe.IMPORTER, path)
    assert list(res.records["external_id"]) == ["txn_1A"] and res.rows_total == 6
    found = [(p.line, p.field) for p in res.problems]
    assert found == [
        (3, "created_utc"),
        (4, "gross"),
        (5, "currency"),
        (6, "net"),
        (7, "gross"),
    ]
    messages = [p.message for p in res.problems]
    assert "2026-02-30" in messages[0] and "$120" in messages[1] and "xyz" in messages[2]
    assert "has more than 2 decimals" in messages[4]


def test_stripe_balance_history_legacy_export(tmp_path: Path) -> None:
    text = (
        "id,Type,Source,Amount,Fee,Destination Platform Fee,Destination Platform Fee Currency,"
        "Net,Currency,Created (UTC),Available On (UTC),Description,Customer Facing Amount,"
        "Customer Facing Currency,Transfer,Transfer Date (UTC),Transfer Group,order_id (metadata)\n"
        "txn_10,charge,ch_10,1653.75,48.26,,,1605.49,usd,2026-10-01 13:05,2026-10-03 00:00,"
        "Order 77,1500.00,eur,po_10,2026-10-03 00:00,,A-77\n"
        "txn_11,adjustment,ch_10,-100.00,15.00,,,-115.00,usd,2026-10-05 08:00,2026-10-05 08:00,"
        "Chargeback withdrawal for ch_10,,,po_11,2026-10-06 00:00,,\n"
        "txn_12,payout,po_10,-1605.49,0.00,,,-1605.49,usd,2026-10-03 00:00,2026-10-03 00:00,"
        "STRIPE PAYOUT,,,,,,\n"
    )
    path = _write(tmp_path, "balance_history.csv", text)
    assert stripe.IMPORTER.sniff(path.read_bytes(), path.name) == 90
    res = _parse(stripe.IMPORTER, path)
    assert not res.problems
    charge = _row(res, "txn_10")
    assert charge["currency"] == "USD" and charge["amount_minor"] == 165_375
    assert charge["occurred_at"] == pd.Timestamp("2026-10-01 13:05", tz="UTC")
    assert (charge["orig_amount_minor"], charge["orig_currency"]) == (150_000, "EUR")
    assert charge["payout_ref"] == "po_10" and charge["ref_order"] == "A-77"
    dispute = _row(res, "txn_11")
    assert dispute["kind"] == "dispute" and dispute["ref_charge"] == "ch_10"
    payout = _row(res, "txn_12")
    assert payout["kind"] == "payout" and payout["payout_ref"] == "po_10"
    assert payout["amount_minor"] == -160_549


def test_stripe_balance_change_report_default_columns(tmp_path: Path) -> None:
    text = (
        "balance_transaction_id,created,available_on,currency,gross,fee,net,reporting_category,"
        "description\n"
        "txn_20,2026-10-01 00:00:01,2026-10-03 00:00:00,gbp,10.00,0.45,9.55,charge,\n"
        "txn_21,2026-10-01 00:00:02,2026-10-03 00:00:00,gbp,5,0,5,risk_reserved_funds,Reserve\n"
    )
    res = _parse(stripe.IMPORTER, _write(tmp_path, "activity.csv", text))
    assert list(res.records["kind"]) == ["charge", "reserve"]
    assert _sums(res) == {"GBP": (2, 1_500, 45, 1_455)}
    assert res.records["payout_ref"].isna().all()


def test_stripe_api_objects(samples: Path, tmp_path: Path) -> None:
    bt = _parse(stripe.IMPORTER, samples / "psp/stripe/stripe_api_fixture_balance_transaction.json")
    rec = bt.records.iloc[0]
    assert (rec["external_id"], rec["amount_minor"], rec["fee_minor"], rec["net_minor"]) == (
        "txn_1PgaxNB7WZ01zgkWEV3TLf40",
        100,
        0,
        100,
    )
    assert rec["currency"] == "USD" and rec["kind"] == "charge"
    assert rec["booked_on"] == dt.date(2009, 2, 13)
    assert rec["ref_charge"] == "ch_1PgafuB7WZ01zgkWXYmPNZs8"
    po = _parse(stripe.IMPORTER, samples / "psp/stripe/stripe_api_fixture_payout.json")
    rec = po.records.iloc[0]
    assert (rec["kind"], rec["amount_minor"], rec["payout_ref"]) == (
        "payout",
        -1100,
        "po_1Pgc79B7WZ01zgkWu1KToYf4",
    )
    assert rec["external_id"] == "txn_1PgaxNB7WZ01zgkWEV3TLf40"  # its balance transaction
    dispute = json.loads((samples / "psp/stripe/stripe_api_fixture_dispute.json").read_text())
    payout = json.loads((samples / "psp/stripe/stripe_api_fixture_payout.json").read_text())
    listing = _write(
        tmp_path, "list.json", json.dumps({"object": "list", "data": [payout, dispute]})
    )
    res = _parse(stripe.IMPORTER, listing)
    assert len(res.records) == 1
    assert [p.severity for p in res.problems] == ["warning"]
    assert "disputes importer" in res.problems[0].message


def test_stripe_large_file_keeps_the_csv_line_as_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvutil, "RAW_DICT_ROWS", 2)
    lines = PAYOUT_RECON.splitlines()[:4]
    lines[2] = lines[2].replace("Refund for ORD-0999", '"Refund, ""gift"" C:\\x"')
    path = tmp_path / "big.csv"
    path.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    res = _parse(stripe.IMPORTER, path)
    raws = [json.loads(v) for v in res.records["raw"]]
    assert [r["line"] for r in raws] == lines[1:]
    assert res.records["description"][1] == 'Refund, "gift" C:\\x'
    assert list(res.records["line_no"]) == [2, 3, 4]


def test_truncated_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    cut = _write(tmp_path, "cut.csv", PAYOUT_RECON[: PAYOUT_RECON.index("123.39,charge")])
    with pytest.raises(UserError) as err:
        _parse(stripe.IMPORTER, cut)
    assert err.value.line == 2 and "cut off" in err.value.message
    quote = _write(tmp_path, "quote.csv", PAYOUT_RECON + 'po_1,x,txn_9,"2026-10-01')
    with pytest.raises(UserError) as err:
        _parse(stripe.IMPORTER, quote)
    assert err.value.line == 7
    unknown = _write(tmp_path, "u.csv", "foo,bar\n1,2\n")
    with pytest.raises(UserError) as err:
        registry.detect(unknown.read_bytes(), unknown)
    assert "not recognised" in err.value.message
    with pytest.raises(UserError) as err:
        _parse(stripe.IMPORTER, unknown)
    assert "headers: foo, bar" in err.value.message and err.value.line == 1


# --------------------------------------------------------------------------- Braintree

BRAINTREE = """\
Transaction ID,Transaction Type,Transaction Status,Created Datetime,Settlement Date,\
Disbursement Date,Merchant Account,Amount Submitted For Settlement,Currency ISO Code,\
Settlement Amount,Settlement Currency ISO Code,Settlement Currency Exchange Rate,Service Fee,\
Order ID,Customer ID,Customer First Name,Customer Last Name,Customer Email,\
Payment Instrument Type,Card Type,Last Four,Refunded Transaction ID
k7m2x9p1,sale,settled,2026-10-01 08:30:00,2026-10-02,2026-10-03,shop_EUR,49.99,EUR,49.99,EUR,1,\
1.70,ORD-5001,c1,Ada,Lovelace,ada@example.com,credit_card,Visa,1111,
r4n8b2q6,credit,settled,2026-10-02 09:00:00,2026-10-02,2026-10-03,shop_EUR,10.00,EUR,10.00,EUR,\
1,,ORD-5001,c1,Ada,Lovelace,ada@example.com,credit_card,Visa,1111,k7m2x9p1
h3j5k7l9,sale,authorized,2026-10-02 10:00:00,,,shop_EUR,20.00,EUR,,EUR,,,ORD-5002,c2,,,,\
paypal_account,,,
v1w2x3y4,sale,voided,2026-10-02 11:00:00,,,shop_EUR,30.00,EUR,,EUR,,,ORD-5003,c3,,,,\
credit_card,Mastercard,4444,
u5s6d7f8,sale,settling,2026-10-02 12:00:00,2026-10-03,2026-10-04,shop_USD,100.00,EUR,\
117.25,USD,1.1725,3.70,ORD-5004,c4,,,bob@example.com,credit_card,Amex,0005,
"""


def test_braintree_transaction_export(tmp_path: Path) -> None:
    path = _write(tmp_path, "braintree.csv", BRAINTREE)
    assert braintree.IMPORTER.sniff(path.read_bytes(), path.name) == 95
    res = _parse(braintree.IMPORTER, path)
    assert list(res.records["external_id"]) == ["k7m2x9p1", "r4n8b2q6", "u5s6d7f8"]
    assert [(p.line, p.severity) for p in res.problems] == [(4, "warning"), (5, "warning")]
    sale = _row(res, "k7m2x9p1")
    assert (sale["kind"], sale["amount_minor"], sale["fee_minor"], sale["net_minor"]) == (
        "charge",
        4999,
        170,
        4829,
    )
    assert sale["payout_ref"] == "disb-2026-10-03-shop_EUR" and sale["ref_order"] == "ORD-5001"
    assert sale["booked_on"] == dt.date(2026, 10, 2) and sale["counterparty"] == "Ada Lovelace"
    refund = _row(res, "r4n8b2q6")
    assert (refund["kind"], refund["amount_minor"], refund["ref_charge"]) == (
        "refund",
        -1000,
        "k7m2x9p1",
    )
    usd = _row(res, "u5s6d7f8")
    assert (usd["currency"], usd["amount_minor"], usd["net_minor"]) == ("USD", 11_725, 11_355)
    assert (usd["orig_amount_minor"], usd["orig_currency"]) == (10_000, "EUR")
    assert usd["payout_ref"] == "disb-2026-10-04-shop_USD"
    assert res.accounts["braintree-shop_USD"].currency == "USD"


# --------------------------------------------------------------------------- tables

ORDERS = """\
Order Number,Order Date,Customer,Email,Total,Currency,Status
ORD-1000001,2026-10-01 10:15:00,Ada Lovelace,ada@example.com,"1,234.50",EUR,paid
ORD-1000002,2026-10-01 11:00:00,Bob Builder,bob@example.com,19.99,EUR,cancelled
ORD-1000003,2026-10-02 09:30:00,,carol@example.com,5.00,GBP,paid
"""


def test_order_export_csv_maps_itself(tmp_path: Path) -> None:
    path = _write(tmp_path, "orders.csv", ORDERS)
    assert tabular.IMPORTER.sniff(path.read_bytes(), path.name) == 10
    assert registry.detect(path.read_bytes(), path).name == "tabular"
    res = _parse(tabular.IMPORTER, path)
    df = res.records
    assert list(df["external_id"]) == ["ORD-1000001", "ORD-1000003"]
    assert list(df["kind"]) == ["order", "order"] and list(df["ref_order"]) == list(
        df["external_id"]
    )
    assert list(df["amount_minor"]) == [123_450, 500]
    assert list(df["counterparty"]) == ["Ada Lovelace", "carol@example.com"]
    assert df.iloc[0]["booked_on"] == dt.date(2026, 10, 1)
    assert df.iloc[0]["raw"]["Email"] == "ada@example.com"
    assert [(p.line, p.severity) for p in res.problems] == [(3, "warning")]
    acct = res.accounts["table"]
    assert (acct.name, acct.kind, acct.provider) == ("Shop orders", "ledger", "shop")


def test_order_export_xlsx(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Order ID", "Created At", "Customer Name", "Grand Total", "Currency"])
    ws.append(["A-1", dt.datetime(2026, 10, 1, 8, 0), "Ada", 12.3, "EUR"])
    ws.append(["A-2", dt.datetime(2026, 10, 2, 9, 0), "Bob", 1999, "JPY"])
    ws.append(["A-3", dt.datetime(2026, 10, 2, 9, 0), "Eve", "$120", "EUR"])
    path = tmp_path / "orders.xlsx"
    wb.save(path)
    assert registry.detect(path.read_bytes()[:65536], path).name == "tabular"
    res = _parse(tabular.IMPORTER, path)
    assert list(res.records["external_id"]) == ["A-1", "A-2"]
    assert list(res.records["amount_minor"]) == [1230, 1999]
    assert list(res.records["kind"]) == ["order", "order"]
    assert [(p.line, p.field) for p in res.problems] == [(4, "Grand Total")]
    assert res.records.iloc[0]["occurred_at"] == pd.Timestamp("2026-10-01 08:00", tz="UTC")


def test_profile_mapped_semicolon_decimal_comma_csv(tmp_path: Path) -> None:
    text = "Beleg;Tag;Summe;Partner;Text\nB-1;01.10.2026;1.234,56;Müller GmbH;Rechnung 7\n"
    text += "B-2;02.10.2026;-0,99;;Gebuehr\nB-3;31.02.2026;5,00;;falsches Datum\n"
    path = tmp_path / "ledger.csv"
    path.write_bytes(text.encode("cp1252"))
    profile = {
        "columns": {
            "external_id": "Beleg",
            "booked_on": "Tag",
            "amount_minor": "Summe",
            "counterparty": "Partner",
            "description": "Text",
        },
        "date_format": "%d.%m.%Y",
        "decimal_comma": True,
        "currency": "EUR",
        "kind": "other",
        "source_name": "Main ledger",
        "source_kind": "ledger",
        "encoding": "cp1252",
    }
    res = _parse(tabular.IMPORTER, path, profile=profile)
    df = res.records
    assert list(df["external_id"]) == ["B-1", "B-2"]
    assert list(df["amount_minor"]) == [123_456, -99] and set(df["currency"]) == {"EUR"}
    assert list(df["booked_on"]) == [dt.date(2026, 10, 1), dt.date(2026, 10, 2)]
    assert df["counterparty"][0] == "Müller GmbH"  # a legacy 8-bit file
    assert [(p.line, p.field) for p in res.problems] == [(4, "Tag")]
    assert (res.accounts["table"].name, res.accounts["table"].kind) == ("Main ledger", "ledger")


def test_unmappable_table_names_what_is_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", "Ref,Wann,Wert\n1,2026-10-01,3\n")
    with pytest.raises(UserError) as err:
        _parse(tabular.IMPORTER, path)
    assert "no amount column" in err.value.message
    assert "headers: Ref, Wann, Wert" in err.value.message
    assert "mapping profile" in err.value.message
    with pytest.raises(UserError) as err:
        _parse(tabular.IMPORTER, path, profile={"columns": {"amount": "Wert"}})
    assert "no date column" in err.value.message
    with pytest.raises(UserError) as err:
        _parse(tabular.IMPORTER, path, profile={"columns": {"amount": "Betrag"}})
    assert "'Betrag'" in err.value.message


# --------------------------------------------------------------------------- through the service


def test_import_service_dedupes_and_masks_card_numbers(tmp_path: Path, db: Database) -> None:
    lines = PAYOUT_RECON.splitlines()
    first = _write(tmp_path, "a.csv", "\n".join(lines[:4]) + "\n")
    with db.session() as s:
        rep = import_file(s, first, actor="tester")
        assert (rep.format, rep.new, rep.duplicates, rep.problems) == ("stripe", 3, 0, 0)
        assert rep.account == "Stripe EUR"
    with db.session() as s:
        again = import_file(s, first, actor="tester")
        assert again.already_imported and again.new == 0
    pan_line = lines[5].replace("Konbini", "card 4111 1111 1111 1111")
    overlap = _write(tmp_path, "b.csv", "\n".join([*lines[:5], pan_line]) + "\n")
    with db.session() as s:
        rep = import_file(s, overlap, actor="tester")
        assert (rep.new, rep.duplicates) == (2, 3)
        assert rep.masked_pans >= 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Record)) == 5
        jpy = s.scalars(select(Record).where(Record.external_id == "txn_1E")).one()
        assert jpy.description == "card 411111******1111"
        assert "4111 1111 1111 1111" not in json.dumps(jpy.raw)
        assert s.scalar(select(func.count()).select_from(ImportBatch)) == 2
        assert set(s.scalars(select(Source.name))) == {"Stripe EUR", "Stripe JPY"}


def test_import_service_refuses_bad_rows_unless_told(tmp_path: Path, db: Database) -> None:
    bad = PAYOUT_RECON.replace(",125.40,", ",$120,")
    path = _write(tmp_path, "bad.csv", bad)
    with db.session() as s, pytest.raises(UserError) as err:
        import_file(s, path, actor="tester")
    assert err.value.line == 2 and err.value.field == "gross"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Record)) == 0
        rep = import_file(s, path, actor="tester", skip_bad_rows=True)
        assert (rep.new, rep.problems) == (4, 1)


def test_import_service_adyen_and_paypal_samples(samples: Path, db: Database) -> None:
    with db.session() as s:
        rep = import_file(
            s, samples / "psp/adyen/adyen_settlement_detail_report_batch_380.csv", actor="t"
        )
        assert (rep.new, rep.problems, rep.checks) == (228, 0, [])
        rep = import_file(s, samples / "psp/paypal/paypal_activity_en.csv", actor="t")
        assert (rep.new, rep.problems) == (76, 0)
    with db.session() as s:
        total = s.scalar(
            select(func.sum(Record.net_minor)).where(
                Record.payout_ref == "batch-380", Record.kind != "payout"
            )
        )
        assert total == 5_530_807
        payout = s.scalars(select(Record).where(Record.external_id == "batch-380")).one()
        assert payout.amount_minor == -5_530_807 and payout.direction == "debit"
        assert payout.occurred_at == dt.datetime(2021, 1, 6, 23, 46, 38, tzinfo=UTC)


def test_import_service_with_a_saved_profile(tmp_path: Path, db: Database) -> None:
    from workstation.services.imports.mapping_profiles import load_profile, save_profile

    path = _write(tmp_path, "shop.csv", "Nr;Tag;Summe\nS-1;01.10.2026;10,50\nS-2;02.10.2026;7\n")
    with db.session() as s:
        save_profile(
            s,
            "shop",
            {
                "columns": {"external_id": "Nr", "booked_on": "Tag", "amount": "Summe"},
                "date_format": "%d.%m.%Y",
                "decimal_comma": True,
                "currency": "EUR",
                "kind": "order",
                "source_name": "Web shop",
            },
        )
    with db.session() as s:
        options = ImportOptions(format="tabular", profile=load_profile(s, "shop"))
        rep = import_file(s, path, actor="tester", options=options)
        assert (rep.format, rep.account, rep.new) == ("tabular", "Web shop", 2)
    with db.session() as s:
        amounts = s.execute(select(Record.external_id, Record.amount_minor, Record.kind)).all()
        assert sorted(amounts) == [("S-1", 1050, "order"), ("S-2", 700, "order")]
