"""Dispute intake: every layout parses to the same dispute dict; re-imports update with history."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from workstation.db import Database
from workstation.errors import UserError
from workstation.importers.base import ImportOptions
from workstation.importers.disputes import IMPORTER
from workstation.models import Dispute, DisputeEvent
from workstation.services.disputes.intake import upsert_disputes
from workstation.services.imports.file_import import import_file

from .conftest import STRIPE_CHARGE, STRIPE_ID


def parse(path: Path) -> Any:
    return IMPORTER.parse(path, path.read_bytes(), ImportOptions())


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_stripe_sample_parses(stripe_dispute: Path) -> None:
    assert IMPORTER.sniff(stripe_dispute.read_bytes(), stripe_dispute.name) == 95
    res = parse(stripe_dispute)
    assert res.records.empty and list(res.records.columns)  # empty but valid frame
    (d,) = res.disputes
    assert (d["psp"], d["psp_dispute_id"]) == ("stripe", STRIPE_ID)
    assert (d["stage"], d["status"]) == ("inquiry", "needs_response")  # warning_needs_response
    assert (d["amount_minor"], d["currency"]) == (1000, "USD")
    assert d["due_by"] == dt.datetime(2024, 8, 14, 23, 59, 59, tzinfo=dt.UTC)
    assert (d["network"], d["reason_code"], d["charge_ref"]) == ("visa", "10.4", STRIPE_CHARGE)


def test_adyen_sample_parses(adyen_chargeback: Path) -> None:
    res = parse(adyen_chargeback)
    (d,) = res.disputes
    assert (d["psp"], d["psp_dispute_id"], d["charge_ref"]) == (
        "adyen",
        "9915555555555555",
        "9913333333333333",
    )
    assert (d["stage"], d["status"], d["psp_event"]) == (
        "chargeback",
        "needs_response",
        "CHARGEBACK",
    )
    assert d["observed_at"] == dt.datetime(2018, 3, 23, 12, 55, 31, tzinfo=dt.UTC)
    assert (d["amount_minor"], d["currency"], d["order_ref"]) == (1000, "EUR", "XXXXXXXXXX")


def test_stripe_list_event_and_csv_layouts(stripe_dispute: Path, tmp_path: Path) -> None:
    obj = json.loads(stripe_dispute.read_text())
    second = {**obj, "id": "dp_second000001", "status": "lost"}
    listing = write(tmp_path, "l.json", json.dumps({"object": "list", "data": [obj, second]}))
    assert [d["status"] for d in parse(listing).disputes] == ["needs_response", "lost"]
    event = write(
        tmp_path,
        "e.json",
        json.dumps(
            {"object": "event", "type": "charge.dispute.closed", "data": {"object": second}}
        ),
    )
    assert parse(event).disputes[0]["psp_dispute_id"] == "dp_second000001"
    csv_text = (
        "Dispute ID,Created (UTC),Amount,Currency,Status,Reason,Charge ID,"
        "Evidence Due By (UTC),Card Brand,Network Reason Code\n"
        "dp_csv0000001,2024-07-30 10:00,25.50,usd,Needs response,fraudulent,ch_csv0001,"
        "2024-08-14 23:59,Mastercard,4837\n"
        "dp_csv0000002,2024-07-30 11:00,1200,jpy,Warning needs response,general,ch_csv0002,"
        "2024-08-20 23:59,Visa,13.1\n"
    )
    res = parse(write(tmp_path, "stripe.csv", csv_text))
    a, b = res.disputes
    assert res.format == "stripe_disputes_csv"
    assert (a["amount_minor"], a["stage"], a["category_hint"]) == (2550, "chargeback", "fraud")
    assert (b["amount_minor"], b["currency"], b["stage"]) == (1200, "JPY", "inquiry")


def test_adyen_report_csv_rows_become_history(tmp_path: Path, db: Database) -> None:
    text = (
        "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,"
        "Record Date,Record Date TimeZone,Dispute Currency,Dispute Amount,Record Type,"
        "Dispute PSP Reference,Dispute Reason,RFI Scheme Code,RFI Reason Code,CB Scheme Code,"
        "CB Reason Code,Dispute Date,Dispute Date TimeZone,Dispute End Date,"
        "Dispute End Date TimeZone\n"
        "Co,Shop,8815000000000001,ORD-9,mc,2024-05-02 09:00:00,CET,EUR,80.00,"
        "NotificationOfChargeback,8825000000000009,No authorization,,,mc,4808,"
        "2024-05-02 09:00:00,CET,2024-05-20 23:59:59,CET\n"
        "Co,Shop,8815000000000001,ORD-9,mc,2024-05-01 08:00:00,CET,EUR,80.00,"
        "RequestForInformation,8825000000000009,Retrieval,mc,4808,,,"
        "2024-05-01 08:00:00,CET,,CET\n"
        "Co,Shop,8815000000000001,ORD-9,mc,2024-05-06 12:00:00,CEST,EUR,80.00,"
        "Chargeback,8825000000000009,No authorization,,,mc,4808,"
        "2024-05-02 09:00:00,CET,2024-05-20 23:59:59,CET\n"
    )
    path = write(tmp_path, "dispute_report_2024_05_06.csv", text)
    assert IMPORTER.sniff(path.read_bytes(), path.name) == 95
    res = parse(path)
    assert [d["psp_event"] for d in res.disputes] == [
        "REQUEST_FOR_INFORMATION",
        "NOTIFICATION_OF_CHARGEBACK",
        "CHARGEBACK",
    ]  # time order, whatever the file order
    assert res.disputes[0]["due_by"] is None
    assert res.disputes[1]["due_by"] == dt.datetime(2024, 5, 20, 22, 59, 59, tzinfo=dt.UTC)
    with db.session() as s:
        report = import_file(s, path, actor="t")
        assert report.disputes == {
            "created": 1,
            "updated": 0,
            "unchanged": 0,
            "events": 2,
            "linked": 0,
        }
        d = s.scalar(select(Dispute))
        assert d is not None
        assert (d.network, d.reason_code, d.reason_category) == (
            "Mastercard",
            "4808",
            "authorization",
        )
        assert (d.stage, d.status, d.charge_ref, d.order_ref) == (
            "chargeback",
            "needs_response",
            "8815000000000001",
            "ORD-9",
        )
        kinds = list(s.scalars(select(DisputeEvent.kind).order_by(DisputeEvent.id)))
        assert kinds == ["created", "updated"]  # RFI, then the one stage change to chargeback


def test_braintree_json_and_csv(tmp_path: Path) -> None:
    obj = {
        "dispute": {
            "id": "bt_dispute_1",
            "amount_disputed": "49.90",
            "currency_iso_code": "EUR",
            "kind": "retrieval",
            "status": "open",
            "reason": "retrieval",
            "reason_code": "83",
            "reply_by_date": "2024-09-01",
            "received_date": "2024-08-20",
            "transaction": {"id": "bt_txn_9", "order_id": "ORD-77", "amount": "49.90"},
        }
    }
    d = parse(write(tmp_path, "bt.json", json.dumps(obj))).disputes[0]
    assert (d["psp"], d["stage"], d["status"], d["amount_minor"]) == (
        "braintree",
        "inquiry",
        "needs_response",
        4990,
    )
    assert d["due_by"] == dt.datetime(2024, 9, 1, 23, 59, 59, tzinfo=dt.UTC)  # end of that day
    assert (d["charge_ref"], d["order_ref"]) == ("bt_txn_9", "ORD-77")
    csv_text = (
        "Dispute ID,Kind,Status,Reason,Reason Code,Amount Disputed,Currency ISO Code,"
        "Received Date,Reply By Date,Transaction ID,Card Type\n"
        "bt_d2,chargeback,won,fraud,10.4,10.00,USD,2024-08-01,2024-08-10,bt_t2,Visa\n"
    )
    d = parse(write(tmp_path, "bt.csv", csv_text)).disputes[0]
    assert (d["status"], d["network"], d["category_hint"]) == ("won", "Visa", "fraud")


def test_generic_csv_and_row_problems(tmp_path: Path, db: Database) -> None:
    text = (
        "dispute_id;network;reason_code;amount;currency;due_by;charge_id;order_id;status;stage\n"
        "G-1;Discover;4755;12,50;EUR;2024-09-01;pay_1;ORD-1;open;chargeback\n"
        "G-2;amex;F29;;EUR;2024-09-01;pay_2;ORD-2;open;chargeback\n"
        "G-3;visa;10.4;5,00;EUR;2024-09-01;pay_3;ORD-3;open;nonsense\n"
    )
    path = write(tmp_path, "generic.csv", text)
    res = parse(path)
    assert res.format == "disputes_csv"
    assert [d["psp_dispute_id"] for d in res.disputes] == ["G-1"]
    assert [(p.line, p.message) for p in res.problems] == [
        (3, "amount is empty"),
        (4, "unknown stage 'nonsense' (use inquiry, chargeback, pre_arbitration, arbitration)"),
    ]
    with db.session() as s, pytest.raises(UserError) as err:
        import_file(s, path, actor="t")
    assert "line 3" in str(err.value) and "skip-bad-rows" in str(err.value)
    with db.session() as s:
        import_file(s, path, actor="t", skip_bad_rows=True)
        d = s.scalar(select(Dispute))
        assert d is not None
        # Discover's numeric 4755 is the alpha RG (not received) of the table.
        assert (d.psp, d.reason_code, d.reason_category) == ("generic", "RG", "consumer_dispute")


def test_fraud_notification_and_other_events_are_skipped(tmp_path: Path) -> None:
    items = [
        {"NotificationRequestItem": {"eventCode": "NOTIFICATION_OF_FRAUD", "pspReference": "1"}},
        {"NotificationRequestItem": {"eventCode": "AUTHORISATION", "pspReference": "2"}},
    ]
    path = write(tmp_path, "n.json", json.dumps({"live": "false", "notificationItems": items}))
    assert IMPORTER.sniff(path.read_bytes(), path.name) == 0  # no dispute event in it
    res = parse(path)
    assert res.disputes == [] and len(res.problems) == 2
    assert all(p.severity == "warning" for p in res.problems)


def test_not_a_dispute_file(samples: Path, tmp_path: Path) -> None:
    sdr = samples / "psp" / "adyen" / "adyen_settlement_detail_report_batch_380.csv"
    assert IMPORTER.sniff(sdr.read_bytes()[:65536], sdr.name) == 0
    bt = samples / "psp" / "stripe" / "stripe_api_fixture_balance_transaction.json"
    assert IMPORTER.sniff(bt.read_bytes(), bt.name) == 0
    with pytest.raises(UserError, match="not a disputes export"):
        parse(write(tmp_path, "x.csv", "a,b\n1,2\n"))


def test_reimport_newer_export_updates_with_one_event(
    any_db: Database, stripe_dispute: Path, stripe_variant: Any
) -> None:
    with any_db.session() as s:
        first = import_file(s, stripe_dispute, actor="t")
        assert first.disputes and first.disputes["created"] == 1
    newer = stripe_variant(
        "newer.json",
        status="needs_response",
        evidence_details__due_by=1724284799,
        payment_method_details__card__case_type="chargeback",
    )
    with any_db.session() as s:
        report = import_file(s, newer, actor="t")
        assert report.disputes is not None
        assert (report.disputes["created"], report.disputes["updated"]) == (0, 1)
    with any_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Dispute)) == 1
        d = s.scalar(select(Dispute))
        assert d is not None
        assert (d.stage, d.status) == ("chargeback", "needs_response")
        assert d.due_by == dt.datetime(2024, 8, 21, 23, 59, 59, tzinfo=dt.UTC)
        events = list(s.scalars(select(DisputeEvent).order_by(DisputeEvent.id)))
        assert [e.kind for e in events] == ["created", "updated"]
        changes = events[1].detail["changes"]
        assert changes["stage"] == ["inquiry", "chargeback"]
        assert changes["due_by"][1].startswith("2024-08-21T23:59:59")
        assert "status" not in changes  # needs_response before and after
    same_again = stripe_variant(
        "same.json",
        status="needs_response",
        evidence_details__due_by=1724284799,
        payment_method_details__card__case_type="chargeback",
        livemode=True,  # different bytes, same dispute state
    )
    with any_db.session() as s:
        report = import_file(s, same_again, actor="t")
        assert report.disputes is not None and report.disputes["unchanged"] == 1
        assert s.scalar(select(func.count()).select_from(DisputeEvent)) == 2
        # The first file itself: already imported, nothing happens.
        assert import_file(s, stripe_dispute, actor="t").already_imported


def test_older_export_does_not_move_a_case_back(db: Database, stripe_variant: Any) -> None:
    won = stripe_variant("won.json", status="won")
    older = stripe_variant("older.json", status="needs_response")
    with db.session() as s:
        import_file(s, won, actor="t")
        report = import_file(s, older, actor="t")
        assert report.disputes is not None and report.disputes["unchanged"] == 1
        d = s.scalar(select(Dispute))
        assert d is not None and d.status == "won"


def test_adyen_lifecycle_and_comment_dedupe(db: Database) -> None:
    def obs(code: str, day: int, **extra: Any) -> dict[str, Any]:
        from workstation.importers.dispute_json import adyen_notification

        item = {
            "eventCode": code,
            "eventDate": f"2024-06-{day:02d}T10:00:00+02:00",
            "pspReference": "D-ADYEN-1",
            "originalReference": "P-ADYEN-1",
            "merchantReference": "ORD-5",
            "amount": {"currency": "EUR", "value": 2500},
            "additionalData": {"chargebackReasonCode": "13.1", "chargebackSchemeCode": "visa"},
        }
        item["additionalData"].update(extra)
        d = adyen_notification(item, day)
        assert d is not None
        return d

    seq = [
        obs("NOTIFICATION_OF_CHARGEBACK", 1, defensePeriodEndsAt="2024-06-20T00:00:00Z"),
        obs("CHARGEBACK", 2),
        obs("ISSUER_COMMENTS", 3, issuerComments="Cardholder says nothing arrived"),
        obs("INFORMATION_SUPPLIED", 4),
        obs("CHARGEBACK_REVERSED", 9),
    ]
    with db.session() as s:
        rep = upsert_disputes(s, seq, "t", None)
        assert (rep.created, rep.updated) == (1, 0)
        d = s.scalar(select(Dispute))
        assert d is not None
        assert (d.stage, d.status, d.reason_category) == ("chargeback", "won", "consumer_dispute")
        kinds = [e.kind for e in s.scalars(select(DisputeEvent).order_by(DisputeEvent.id))]
        assert kinds.count("updated") == 2 and kinds.count("psp_comment") == 1
        # The same notifications again (another file): nothing new, comment not repeated.
        again = upsert_disputes(s, seq, "t", None)
        assert again.unchanged == 1 and again.events == 0
        # A late DISPUTE_DEFENSE_PERIOD_ENDED does not expire a won case.
        late = upsert_disputes(s, [obs("DISPUTE_DEFENSE_PERIOD_ENDED", 21)], "t", None)
        assert late.unchanged == 1
        s.refresh(d)
        assert d.status == "won"


def test_card_numbers_in_psp_objects_are_masked_but_own_references_kept(db: Database) -> None:
    """The PSP object and customer details stored with a case hold no full card number; the
    case's own 16-digit references (Luhn-valid, like Adyen's) stay readable for linking."""
    own_ref = "8818736286436243"  # a PSP reference that happens to pass Luhn
    obs = {
        "psp": "adyen",
        "psp_dispute_id": own_ref,
        "charge_ref": own_ref,
        "network": "visa",
        "reason_code": "10.4",
        "stage": "chargeback",
        "status": "needs_response",
        "amount_minor": 5000,
        "currency": "EUR",
        "due_by": dt.datetime.now(dt.UTC) + dt.timedelta(days=5),
        "raw": {
            "pspReference": own_ref,
            "cardNumber": "4111 1111 1111 1111",
            "card": {"number": 5555555555554444, "last4": "4444"},
            "notes": ["paid with 4012.8888.8888.1881"],
        },
        "customer": {"name": "Ann", "comment": "card 378282246310005 used"},
    }
    with db.session() as s:
        upsert_disputes(s, [obs], "t", link=False)
    with db.session() as s:
        d = s.scalar(select(Dispute))
        assert d is not None
        stored = json.dumps({"raw": d.raw, "customer": d.customer})
    for pan in ("4111111111111111", "5555555555554444", "4012888888881881", "378282246310005"):
        assert pan not in stored.replace(" ", "").replace(".", "")
    assert "411111******1111" in stored and "555555******4444" in stored
    assert own_ref in stored
    assert d.psp_dispute_id == own_ref
