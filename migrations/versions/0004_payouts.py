"""payouts, match levels and match_payouts: the settlement chain in the store

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 20:40:00

A payout (settlement batch) becomes a row of its own, built from the PSP lines that name it. Matches
get a level (1: order <-> PSP transaction, 2: payout <-> bank line); the unique index on live
members becomes per level, and level-2 matches list the payouts they settle in `match_payouts`
(a payout in at most one live level-2 match).
Data: every payout is built from the stored lines (services.settlement.payout_build, the code that
keeps them current afterwards), and the matches written by a payout rule become level 2 with
links to the payouts their members name.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

def upgrade() -> None:
    op.create_table(
        "payouts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("source_id", _ID, sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("payout_ref", sa.String(128), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("psp", sa.String(32)),
        sa.Column("payout_record_id", sa.BigInteger()),
        sa.Column("first_on", sa.Date(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("expected_on", sa.Date()),
        sa.Column("state", sa.String(16), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in (
                "gross_minor",
                "refunds_minor",
                "fees_minor",
                "disputes_minor",
                "dispute_fees_minor",
                "adjustments_minor",
                "carried_minor",
                "net_minor",
            )
        ),
        sa.Column("payout_minor", sa.BigInteger()),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source_id", "payout_ref", "currency", name="uq_payouts_key"),
    )
    op.create_index("ix_payouts_paid_on", "payouts", ["paid_on", "id"])
    op.create_table(
        "match_payouts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column(
            "match_id", _ID, sa.ForeignKey("matches.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "payout_id", _ID, sa.ForeignKey("payouts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("live", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.UniqueConstraint("match_id", "payout_id"),
    )
    op.create_index(
        "ux_match_payouts_live",
        "match_payouts",
        ["payout_id"],
        unique=True,
        sqlite_where=sa.text("live"),
        postgresql_where=sa.text("live"),
    )
    op.add_column("matches", sa.Column("level", sa.Integer(), server_default="1", nullable=False))
    op.add_column(
        "match_members", sa.Column("level", sa.Integer(), server_default="1", nullable=False)
    )
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "UPDATE matches SET level = 2 WHERE rule IN"
            " (SELECT name FROM match_rules WHERE kind = 'payout')"
        )
    )
    conn.execute(
        sa.text(
            "UPDATE match_members SET level = 2 WHERE match_id IN"
            " (SELECT id FROM matches WHERE level = 2)"
        )
    )
    op.drop_index("ux_match_members_live_record", table_name="match_members")
    op.create_index(
        "ux_match_members_live_record",
        "match_members",
        ["record_id", "level"],
        unique=True,
        sqlite_where=sa.text("live"),
        postgresql_where=sa.text("live"),
    )
    from workstation.services.settlement.payout_build import refresh_all

    refresh_all(Session(bind=conn))
    # level-2 matches settle the payouts their PSP members name (a payout in one live match)
    rows = conn.execute(
        sa.text(
            "SELECT DISTINCT m.id, p.id, COALESCE(p.payout_minor, p.net_minor), m.status"
            " FROM matches m JOIN match_members mm ON mm.match_id = m.id"
            " JOIN records r ON r.id = mm.record_id"
            " JOIN payouts p ON p.source_id = r.source_id AND p.payout_ref = r.payout_ref"
            " AND p.currency = r.currency"
            " WHERE m.level = 2 ORDER BY m.id, p.id"
        )
    ).all()
    links, live_payouts = [], set()
    for match_id, payout_id, amount, status in rows:
        live = status != "rejected" and payout_id not in live_payouts
        if live:
            live_payouts.add(payout_id)
        links.append({"m": match_id, "p": payout_id, "a": amount, "live": live})
    if links:
        conn.execute(
            sa.text(
                "INSERT INTO match_payouts (match_id, payout_id, amount_minor, live)"
                " VALUES (:m, :p, :a, :live)"
            ),
            links,
        )


def downgrade() -> None:
    op.drop_index("ux_match_members_live_record", table_name="match_members")
    # SQLite >= 3.35 drops a column in place; no table copy through batch mode.
    op.execute("ALTER TABLE match_members DROP COLUMN level")
    op.execute("ALTER TABLE matches DROP COLUMN level")
    op.create_index(
        "ux_match_members_live_record",
        "match_members",
        ["record_id"],
        unique=True,
        sqlite_where=sa.text("live"),
        postgresql_where=sa.text("live"),
    )
    op.drop_table("match_payouts")
    op.drop_table("payouts")
