"""Migration 0003 on a store with data: doubled matches are cleared, `live` follows the status."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from workstation.db import Database, alembic_config

_ROWS = [
    "INSERT INTO sources (id, name, kind, created_at) VALUES (1, 'Bank', 'bank', '2026-10-01')",
    "INSERT INTO import_batches (id, file_name, sha256, format, imported_by, imported_at, status,"
    " rows_total, rows_new, rows_duplicate, rows_problem, masked_pans)"
    " VALUES (1, 'f', 'x', 'csv', 't', '2026-10-01', 'committed', 4, 4, 0, 0, 0)",
    *(
        "INSERT INTO records (id, source_id, batch_id, fingerprint, occurrence, booked_on,"
        f" amount_minor, currency, direction, kind, match_state) VALUES ({i}, 1, 1, '{i}', 1,"
        " '2026-10-01', 100, 'EUR', 'credit', 'bank_credit', 'matched')"
        for i in range(1, 5)
    ),
    # 1 and 2: the same pair written by two runs at once (auto twice); 3: a suggestion doubling
    # record 3 of the confirmed match 4; 5: a rejected pairing that must stay
    *(
        "INSERT INTO matches (id, status, rule, confidence, difference_minor, currency,"
        f" created_at, created_by) VALUES ({mid}, '{status}', 'r', 90, 0, 'EUR', '2026-10-02', 'e')"
        for mid, status in (
            (1, "auto"),
            (2, "auto"),
            (3, "suggested"),
            (4, "confirmed"),
            (5, "rejected"),
        )
    ),
    *(
        "INSERT INTO match_members (id, match_id, record_id, side, amount_minor)"
        f" VALUES ({n}, {mid}, {rid}, 'bank', 100)"
        for n, (mid, rid) in enumerate(
            ((1, 1), (1, 2), (2, 1), (2, 2), (3, 3), (3, 4), (4, 3), (5, 1), (5, 4)), start=1
        )
    ),
    "INSERT INTO exception_cases (id, record_id, match_id, status, priority,"
    " amount_at_risk_minor, currency, created_at, updated_at, reopen_count)"
    " VALUES (1, 4, 3, 'open', 0, 100, 'EUR', '2026-10-02', '2026-10-02', 0)",
]


def test_upgrade_from_0002_with_doubled_matches(any_db: Database) -> None:
    from alembic import command

    url = any_db.connect_url
    any_db.dispose()
    old_store = create_engine(url)
    cfg = alembic_config(old_store)
    with old_store.begin() as conn:  # back to the store as 0002 left it (0003's downgrade)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    assert "live" not in {c["name"] for c in inspect(old_store).get_columns("match_members")}
    with old_store.begin() as conn:
        for sql in _ROWS:
            conn.execute(text(sql))
    old_store.dispose()
    db = Database(url)  # upgrades to head on open
    with db.sessions() as s:
        matches = dict(s.execute(text("SELECT id, status FROM matches ORDER BY id")).all())
        live = s.execute(
            text("SELECT match_id, record_id, live FROM match_members ORDER BY id")
        ).all()
        case_match = s.execute(text("SELECT match_id FROM exception_cases")).scalar_one()
    db.dispose()
    # the later copy of the doubled auto match goes, and the suggestion doubling a confirmed one
    assert matches == {1: "auto", 4: "confirmed", 5: "rejected"}
    assert [(m, r, bool(v)) for m, r, v in live] == [
        (1, 1, True),
        (1, 2, True),
        (4, 3, True),
        (5, 1, False),
        (5, 4, False),
    ]
    assert case_match is None
    engine = create_engine(url)
    names = {ix["name"] for ix in inspect(engine).get_indexes("match_members")}
    engine.dispose()
    assert "ux_match_members_live_record" in names
