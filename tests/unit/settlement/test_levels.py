"""Match levels: one live match per record and level, one live level-2 match per payout, and
bank files that arrive after the PSP lines were already matched to their orders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.fixtures.settlement_month import write_month
from workstation.db import Database
from workstation.services.imports.file_import import import_file
from workstation.services.reconcile import engine
from workstation.services.settlement import payout_queries as pq

TODAY = dt.date(2026, 12, 4)
_BANKS = ("bai2", "camt", "mt940")


def _import(db: Database, paths: list[Path]) -> None:
    for path in paths:
        with db.session() as s:
            import_file(s, path, actor="tester")
            s.commit()


def test_bank_files_imported_after_the_psp_lines_were_matched(tmp_path: Path) -> None:
    truth = write_month(tmp_path / "files")
    db = Database(f"sqlite:///{tmp_path / 'ws.db'}")
    _import(db, [p for k, p in truth.paths.items() if k not in _BANKS])
    with db.session() as s:
        first = engine.run(s, actor="tester", today=TODAY)
    assert first.auto > 0
    with db.sessions() as s:
        # every charge with an order is matched now; no payout can be at a bank yet
        assert all(r.status != "paid" for r in pq.list_payouts(s))
    _import(db, [truth.paths[k] for k in _BANKS])
    with db.session() as s:
        engine.run(s, actor="tester", today=TODAY)
    with db.sessions() as s:
        by_ref = {r.payout_ref: r for r in pq.list_payouts(s)}
        links = s.execute(text("SELECT COUNT(*) FROM match_payouts WHERE live")).scalar_one()
    reached = [p for p in truth.payouts if p.bank_file_key]
    assert all(by_ref[p.payout_ref].status == "paid" for p in reached)
    assert all(by_ref[p.payout_ref].difference_minor == 0 for p in reached)
    # a third run proposes nothing new for payouts already at the bank
    with db.session() as s:
        engine.run(s, actor="tester", today=TODAY)
    with db.sessions() as s:
        again = s.execute(text("SELECT COUNT(*) FROM match_payouts WHERE live")).scalar_one()
    assert again == links == len(reached)
    db.dispose()


def test_the_database_keeps_one_live_match_per_level(any_db: Database) -> None:
    with any_db.session() as s:
        s.execute(
            text(
                "INSERT INTO sources (id, name, kind, created_at)"
                " VALUES (1, 'B', 'bank', '2026-11-01')"
            )
        )
        s.execute(
            text(
                "INSERT INTO import_batches (id, file_name, sha256, format, imported_by,"
                " imported_at, status, rows_total, rows_new, rows_duplicate, rows_problem,"
                " masked_pans) VALUES (1, 'f', 'x', 'csv', 't', '2026-11-01', 'committed', 1, 1,"
                " 0, 0, 0)"
            )
        )
        s.execute(
            text(
                "INSERT INTO records (id, source_id, batch_id, fingerprint, occurrence, booked_on,"
                " amount_minor, currency, direction, kind, match_state) VALUES (1, 1, 1, 1, 1,"
                " '2026-11-01', 100, 'EUR', 'credit', 'bank_credit', 'matched')"
            )
        )
        s.execute(
            text(
                "INSERT INTO payouts (id, source_id, payout_ref, currency, first_on, paid_on,"
                " state, gross_minor, refunds_minor, fees_minor, disputes_minor,"
                " dispute_fees_minor, adjustments_minor, carried_minor, net_minor, lines,"
                " updated_at) VALUES (1, 1, 'po_1', 'EUR', '2026-11-01', '2026-11-01',"
                " 'in_transit', 100, 0, 0, 0, 0, 0, 0, 100, 1, '2026-11-01')"
            )
        )
        for mid, level in ((1, 1), (2, 2), (3, 2)):
            s.execute(
                text(
                    "INSERT INTO matches (id, status, level, rule, confidence, difference_minor,"
                    " currency, created_at, created_by) VALUES (:m, 'auto', :l, 'r', 90, 0, 'EUR',"
                    " '2026-11-02', 'e')"
                ),
                {"m": mid, "l": level},
            )
        insert_member = text(
            "INSERT INTO match_members (match_id, record_id, side, amount_minor, level)"
            " VALUES (:m, 1, 'bank', 100, :l)"
        )
        s.execute(insert_member, {"m": 1, "l": 1})
        s.execute(insert_member, {"m": 2, "l": 2})  # the same record at the other level: fine
        s.execute(
            text("INSERT INTO match_payouts (match_id, payout_id, amount_minor) VALUES (2, 1, 100)")
        )
        s.commit()
    for sql, params in (
        (insert_member, {"m": 3, "l": 2}),  # a second live level-2 match of the record
        (
            text(
                "INSERT INTO match_payouts (match_id, payout_id, amount_minor) VALUES (3, 1, 100)"
            ),
            {},
        ),  # the payout in a second live level-2 match
    ):
        with any_db.session() as s, pytest.raises(IntegrityError):
            s.execute(sql, params)
            s.flush()


def test_an_unmatched_payout_is_open_again_and_not_proposed_again(tmp_path: Path) -> None:
    from workstation.services.reconcile.clerk_actions import unmatch

    truth = write_month(tmp_path / "files")
    db = Database(f"sqlite:///{tmp_path / 'ws.db'}")
    _import(db, list(truth.paths.values()))
    with db.session() as s:
        engine.run(s, actor="tester", today=TODAY)
    ref = truth.shared_bank_credit[0]
    with db.session() as s:
        row = pq.get_payout(s, pq.find_payouts(s, ref)[0])
        assert row.status == "paid" and row.match_id is not None
        unmatch(s, row.match_id, actor="tester")
        s.commit()
    with db.session() as s:
        row = pq.get_payout(s, row.id)
        assert row.status == "in_transit" and row.match_id is None
        engine.run(s, actor="tester", today=TODAY)
    with db.sessions() as s:
        assert pq.get_payout(s, row.id).status == "in_transit"  # the clerk's no stands
    db.dispose()
