"""Deferred index builds: only the named columns' indexes are dropped (SQLite), all come back."""

from __future__ import annotations

from sqlalchemy import inspect, text

from workstation.db import Database
from workstation.services.common.bulk_write import deferred_indexes


def _index_names(db: Database, conn) -> set[str]:
    return {ix["name"] for ix in inspect(conn).get_indexes("records")}


def test_deferred_indexes_by_column(any_db: Database) -> None:
    with any_db.session() as s:
        before = _index_names(any_db, s.connection())
        state = {n for n in before if "state" in n or "open" in n}
        assert state and before - state  # both kinds exist
        with deferred_indexes(s, ("records",), columns=("match_state",)):
            during = _index_names(any_db, s.connection())
            if any_db.dialect == "sqlite":
                assert during == before - state
            else:  # a shared server never drops an index (readers would wait, duplicates slip in)
                assert during == before
            s.execute(text("UPDATE records SET match_state = 'matched' WHERE id < 0"))
        assert _index_names(any_db, s.connection()) == before


def test_gc_paused_nests_and_restores() -> None:
    import gc
    import threading

    from workstation.services.common.bulk_write import gc_paused

    assert gc.isenabled()
    entered, inner_done = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            entered.set()
            inner_done.wait(5)

    t = threading.Thread(target=other)
    with gc_paused():
        t.start()
        assert entered.wait(5)
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread still holds it
    inner_done.set()
    t.join()
    assert gc.isenabled()
