"""Links from a dispute to its charge, order and money trail (PSP and bank lines), re-linking."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from workstation.db import Database
from workstation.errors import UserError
from workstation.models import Dispute, DisputeLink, Record
from workstation.services.disputes.linking import link_disputes
from workstation.services.disputes.money_trail import money_trail
from workstation.services.imports.file_import import import_file

from .conftest import STRIPE_CHARGE, STRIPE_ID, StoreRows, record

DAY = dt.date(2024, 7, 1)


def stripe_rows() -> list[dict]:
    """The Stripe sample dispute's charge, its order and the dispute's money movements."""
    return [
        record(
            1,
            "charge",
            1000,
            day=DAY,
            external_id="txn_charge001",
            fee=59,
            ref_charge=STRIPE_CHARGE,
            ref_order="ORD-1001",
        ),
        # Stripe books the chargeback with the 15.00 dispute fee on the same line.
        record(
            2,
            "dispute",
            -1000,
            day=DAY + dt.timedelta(days=20),
            external_id="txn_dp00001",
            fee=1500,
            ref_dispute=STRIPE_ID,
            ref_charge=STRIPE_CHARGE,
        ),
        record(
            3,
            "dispute_reversal",
            1000,
            day=DAY + dt.timedelta(days=60),
            external_id="txn_dpr0001",
            fee=0,
            ref_dispute=STRIPE_ID,
        ),
        record(
            4,
            "fee",
            -300,
            day=DAY + dt.timedelta(days=21),
            external_id="txn_fee0001",
            ref_dispute=STRIPE_ID,
        ),
        # Unrelated traffic that must not be linked.
        record(5, "charge", 5000, day=DAY, external_id="txn_other001", ref_charge="ch_unrelated01"),
    ]


def order_rows() -> list[dict]:
    return [
        record(
            1,
            "order",
            1000,
            day=DAY,
            external_id="ORD-1001",
            account="ledger",
            raw={"order_id": "ORD-1001", "email": "jane@example.com", "ip": "203.0.113.7"},
        ),
        record(2, "order", 2500, day=DAY, external_id="ORD-1002", account="ledger"),
    ]


def roles(db: Database, dispute_id: int) -> dict[str, str]:
    with db.session() as s:
        rows = s.execute(
            select(Record.external_id, DisputeLink.role)
            .join(Record, Record.id == DisputeLink.record_id)
            .where(DisputeLink.dispute_id == dispute_id)
        ).all()
    return {str(e): r for e, r in rows}


def test_dispute_then_records_links_and_trail(
    any_db: Database, stripe_dispute: Path, store_rows: StoreRows
) -> None:
    with any_db.session() as s:
        import_file(s, stripe_dispute, actor="t")
        d = s.scalar(select(Dispute))
        assert d is not None and d.charge_record_id is None
        did = d.id
    store_rows(any_db, stripe_rows())  # arrive later: re-linked by the import path
    store_rows(any_db, order_rows())
    assert roles(any_db, did) == {
        "txn_charge001": "charge",
        "txn_dp00001": "withdrawn",
        "txn_dpr0001": "reinstated",
        "txn_fee0001": "fee",
        "ORD-1001": "order",
    }
    with any_db.session() as s:
        d = s.get(Dispute, did)
        assert d is not None and d.charge_record_id is not None and d.order_record_id is not None
        order = s.get(Record, d.order_record_id)
        assert order is not None and order.external_id == "ORD-1001"  # via the charge's order token
        trail = money_trail(s, did)
    assert (trail.disputed_minor, trail.charge_minor) == (1000, 1000)
    assert trail.withdrawn_minor == -1000
    assert trail.fees_minor == -1500 - 300  # fee carried on the withdrawal + the fee line
    assert trail.reinstated_minor == 1000
    assert trail.net_minor == -1800
    assert trail.summary().endswith("net -18.00 USD")


def test_records_then_dispute_and_idempotent_relink(
    db: Database, stripe_dispute: Path, store_rows: StoreRows
) -> None:
    store_rows(db, stripe_rows())
    with db.session() as s:
        report = import_file(s, stripe_dispute, actor="t")
        assert report.disputes is not None and report.disputes["linked"] == 4
    with db.session() as s:
        again = link_disputes(s)
        assert (again.disputes, again.links_changed, again.charges_found) == (1, 0, 1)


def test_bank_line_counts_only_without_psp_line(
    db: Database, adyen_chargeback: Path, store_rows: StoreRows
) -> None:
    with db.session() as s:
        import_file(s, adyen_chargeback, actor="t")
        did = s.scalar(select(Dispute.id))
    assert did is not None
    # The acquirer debits the chargeback straight from the bank account, naming the dispute.
    store_rows(
        db,
        [
            record(
                1,
                "bank_debit",
                -1000,
                day=DAY,
                currency="EUR",
                account="bank",
                external_id="BNK-1",
                ref_e2e="9915555555555555",
            ),
        ],
    )
    with db.session() as s:
        trail = money_trail(s, did)
    assert [(ln.role, ln.counted) for ln in trail.lines] == [("withdrawn", True)]
    assert trail.withdrawn_minor == -1000
    # Later the PSP report shows the same withdrawal: the bank line becomes an echo.
    store_rows(
        db,
        [
            record(
                1,
                "charge",
                1000,
                day=DAY - dt.timedelta(days=30),
                currency="EUR",
                external_id="9913333333333333",
            ),
            record(
                2,
                "dispute",
                -1000,
                day=DAY,
                currency="EUR",
                external_id="ADY-CB-1",
                ref_dispute="9915555555555555",
                ref_charge="9913333333333333",
            ),
        ],
    )
    with db.session() as s:
        trail = money_trail(s, did)
        d = s.get(Dispute, did)
        assert d is not None and d.charge_record_id is not None
    assert sorted((ln.role, ln.source_kind, ln.counted) for ln in trail.lines) == [
        ("charge", "psp", True),
        ("withdrawn", "bank", False),
        ("withdrawn", "psp", True),
    ]
    assert trail.withdrawn_minor == -1000 and trail.net_minor == -1000


def test_psp_sample_files_link(db: Database, samples: Path, stripe_dispute: Path) -> None:
    """With the Stripe importer present, its balance-transaction sample is the disputed charge."""
    bt = samples / "psp" / "stripe" / "stripe_api_fixture_balance_transaction.json"
    with db.session() as s:
        import_file(s, stripe_dispute, actor="t")
        try:
            import_file(s, bt, actor="t")
        except UserError as exc:
            pytest.skip(f"no importer for the Stripe balance transaction yet: {exc}")
        d = s.scalar(select(Dispute))
        assert d is not None and d.charge_record_id is not None
        charge = s.get(Record, d.charge_record_id)
        assert charge is not None and charge.amount_minor == 100


def test_money_trail_other_currency_not_summed(
    db: Database, stripe_dispute: Path, store_rows: StoreRows
) -> None:
    with db.session() as s:
        import_file(s, stripe_dispute, actor="t")
        did = s.scalar(select(Dispute.id))
    assert did is not None
    store_rows(
        db,
        [
            record(
                1,
                "dispute",
                -900,
                day=DAY,
                currency="EUR",
                external_id="txn_eur",
                ref_dispute=STRIPE_ID,
            )
        ],
    )
    with db.session() as s:
        trail = money_trail(s, did)
    assert trail.withdrawn_minor == 0 and trail.lines[0].counted is False
    assert "EUR" in trail.warnings[0]
