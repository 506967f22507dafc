"""Payouts from every report that knows them: Braintree disbursements, PayPal withdrawals,
Stripe payout objects and Adyen batches (shared samples), built by the import itself."""

from __future__ import annotations

from pathlib import Path

from tests.unit.importers.test_psp_formats import BRAINTREE
from workstation.db import Database
from workstation.services.imports.file_import import import_file
from workstation.services.settlement import payout_queries as pq


def _import(db: Database, path: Path) -> None:
    with db.session() as s:
        import_file(s, path, actor="tester")
        s.commit()


def test_braintree_disbursements_become_payouts(sqlite_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "braintree.csv"
    path.write_text(BRAINTREE, encoding="utf-8")
    _import(sqlite_db, path)
    with sqlite_db.session() as s:
        by_ref = {r.payout_ref: r for r in pq.list_payouts(s)}
    eur = by_ref["disb-2026-10-03-shop_EUR"]
    assert (eur.gross_minor, eur.refunds_minor, eur.fees_minor, eur.net_minor) == (
        4999,
        -1000,
        -170,
        3829,
    )
    assert eur.lines == 2 and eur.status == "in_transit" and eur.psp == "braintree"
    usd = by_ref["disb-2026-10-04-shop_USD"]
    assert (usd.currency, usd.net_minor) == ("USD", 11_355)


def test_paypal_withdrawals_take_the_lines_they_swept(sqlite_db: Database, samples: Path) -> None:
    _import(sqlite_db, samples / "psp" / "paypal" / "paypal_statement_en.csv")
    with sqlite_db.session() as s:
        rows = pq.list_payouts(s)
        tid1 = pq.get_payout(s, pq.find_payouts(s, "TID1")[0])
    assert len(rows) == 4 and {r.currency for r in rows} == {"EUR"}
    # the first withdrawal is funded by its currency conversion (which names it)
    assert tid1.payout_minor == 105_809 and tid1.net_minor == 105_809 and tid1.lines == 1
    assert tid1.components["carried"] == 105_809


def test_stripe_payout_object_and_adyen_batches(sqlite_db: Database, samples: Path) -> None:
    for name in ("adyen_settlement_detail_report_batch_380.csv",):
        _import(sqlite_db, samples / "psp" / "adyen" / name)
    _import(sqlite_db, samples / "psp" / "stripe" / "stripe_api_fixture_payout.json")
    with sqlite_db.session() as s:
        by_ref = {r.payout_ref: r for r in pq.list_payouts(s)}
    batch = by_ref["batch-380"]
    assert batch.payout_minor == batch.net_minor == 5_530_807 and batch.lines == 227
    assert sum(batch.components.values()) == batch.net_minor
    (po,) = [r for ref, r in by_ref.items() if ref.startswith("po_")]
    assert po.payout_minor == 1100 and po.lines == 0 and po.status == "in_transit"
