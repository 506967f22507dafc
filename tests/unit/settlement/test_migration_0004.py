"""Migration 0004 on a reconciled store: payouts and level-2 links are rebuilt from the data."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, inspect, text

from workstation.db import Database, alembic_config
from workstation.services.demo.merchant_month import load_demo
from workstation.services.reconcile import engine as recon

_PAYOUTS = (
    "SELECT source_id, payout_ref, currency, state, gross_minor, refunds_minor, fees_minor,"
    " disputes_minor, net_minor, payout_minor, lines FROM payouts"
    " ORDER BY source_id, payout_ref, currency"
)
_LINKS = (
    "SELECT m.id, p.payout_ref, mp.live FROM match_payouts mp JOIN matches m ON m.id = mp.match_id"
    " JOIN payouts p ON p.id = mp.payout_id ORDER BY m.id, p.payout_ref"
)


def test_upgrade_from_0003_builds_payouts_and_links(any_db: Database) -> None:
    from alembic import command

    with any_db.session() as s:
        load_demo(s, orders=400, seed=5)
        s.commit()
    with any_db.session() as s:
        recon.run(s, actor="tester", today=dt.date(2026, 12, 4))
    with any_db.sessions() as s:
        payouts = [tuple(r) for r in s.execute(text(_PAYOUTS)).all()]
        links = [(a, b, bool(c)) for a, b, c in s.execute(text(_LINKS)).all()]
        level2 = s.execute(text("SELECT COUNT(*) FROM matches WHERE level = 2")).scalar_one()
    assert len(payouts) >= 20 and len(links) == level2 >= 20
    url = any_db.connect_url
    any_db.dispose()
    store = create_engine(url)
    cfg = alembic_config(store)
    with store.begin() as conn:  # the store as 0003 left it
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    tables = set(inspect(store).get_table_names())
    assert "payouts" not in tables and "match_payouts" not in tables
    assert "level" not in {c["name"] for c in inspect(store).get_columns("matches")}
    store.dispose()
    db = Database(url)  # upgrades to head on open
    with db.sessions() as s:
        assert [tuple(r) for r in s.execute(text(_PAYOUTS)).all()] == payouts
        assert [(a, b, bool(c)) for a, b, c in s.execute(text(_LINKS)).all()] == links
        members2 = s.execute(
            text("SELECT COUNT(*) FROM match_members WHERE level = 2 AND live")
        ).scalar_one()
    db.dispose()
    assert members2 >= level2
