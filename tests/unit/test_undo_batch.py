"""Undoing an import: refused while its lines are matched; otherwise removes lines, cases, links."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from workstation.db import Database
from workstation.errors import UserError
from workstation.models import ExceptionCase, ImportBatch, Match, Record, RecordRaw, RecordReference
from workstation.services.imports.file_import import import_file, undo_batch
from workstation.services.reconcile import clerk_actions
from workstation.services.reconcile.engine import run


def _count(s, model) -> int:
    return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_undo_refused_when_matched_then_allowed(db: Database, tmp_path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "Order ID,Date,Total,Currency\nORD-1001,2026-10-01,12.50,EUR\n"
        "ORD-1002,2026-10-02,99.00,EUR\n"
    )
    bank = tmp_path / "bank.csv"
    bank.write_text("Order ID,Date,Total,Currency\nX-1,2026-10-01,12.50,EUR\n")
    with db.session() as s:
        a = import_file(s, orders, actor="t").batch_id
    with db.session() as s:
        b = import_file(s, bank, actor="t").batch_id
    with db.session() as s:
        ids = sorted(s.scalars(select(Record.id).where(Record.amount_minor == 1250)))
        m = clerk_actions.manual_match(s, ids, actor="t")
        run(s, actor="engine")  # opens a case for the unmatched order
        assert _count(s, ExceptionCase) >= 1
    with pytest.raises(UserError, match="has matched lines"), db.session() as s:
        undo_batch(s, int(a), actor="t")
    with db.session() as s:
        match_id = s.scalars(select(Match.id)).first()
        assert match_id is not None and m is not None
        clerk_actions.unmatch(s, match_id, actor="t")
    with db.session() as s:
        assert _count(s, RecordRaw) == 3  # the original line of every record, kept apart
        assert s.get(Record, ids[0]).raw is not None
        assert undo_batch(s, int(a), actor="t") == 2
    with db.session() as s:
        assert _count(s, Record) == 1
        left = s.scalars(select(Record.id)).one()
        assert s.scalars(select(RecordRaw.record_id)).all() == [left]
        assert set(s.scalars(select(RecordReference.record_id))) <= {left}
        assert s.get(ImportBatch, a).status == "undone"
        assert (
            s.scalar(
                select(func.count())
                .select_from(ExceptionCase)
                .join(Record, Record.id == ExceptionCase.record_id)
                .where(Record.batch_id == a)
            )
            == 0
        )
    with db.session() as s:  # the same file can come back after an undo
        again = import_file(s, orders, actor="t")
        assert again.new == 2 and not again.already_imported
    assert b is not None
