"""match_members.live: a record is in at most one live match, enforced by the database

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 04:00:00

Two reconciliation runs at once could put every open record into two matches. Members now carry
`live` (true while their match is auto, suggested or confirmed; false once it is rejected, the
member kept so the pairing is never proposed again) and a partial unique index on `record_id WHERE
live`.
Matches a doubled run left behind are removed first: for each record the best live match stays
(confirmed, then auto, then suggested; the oldest among equals) and any other live match holding
one of its records goes, with its members.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_RANK = {"confirmed": 0, "auto": 1, "suggested": 2}
_CHUNK = 500


def _doubled_matches(conn: sa.Connection) -> list[int]:
    """Ids of live matches that share a record with a better live match."""
    rows = conn.execute(
        sa.text(
            "SELECT mm.record_id, m.id, m.status FROM match_members mm"
            " JOIN matches m ON m.id = mm.match_id"
            " WHERE m.status IN ('auto', 'suggested', 'confirmed')"
            " AND mm.record_id IN (SELECT mm2.record_id FROM match_members mm2"
            " JOIN matches m2 ON m2.id = mm2.match_id"
            " WHERE m2.status IN ('auto', 'suggested', 'confirmed')"
            " GROUP BY mm2.record_id HAVING COUNT(*) > 1)"
        )
    ).all()
    by_record: dict[int, list[tuple[int, int]]] = {}
    for record_id, match_id, status in rows:
        by_record.setdefault(int(record_id), []).append((_RANK[status], int(match_id)))
    drop: set[int] = set()
    for holders in by_record.values():
        kept = [h for h in sorted(holders) if h[1] not in drop]
        drop.update(match_id for _rank, match_id in kept[1:])
    return sorted(drop)


def upgrade() -> None:
    conn = op.get_bind()
    drop = _doubled_matches(conn)
    for lo in range(0, len(drop), _CHUNK):
        part = {"ids": drop[lo : lo + _CHUNK]}
        ids = sa.bindparam("ids", expanding=True)
        conn.execute(
            sa.text("UPDATE exception_cases SET match_id = NULL WHERE match_id IN :ids").bindparams(
                ids
            ),
            part,
        )
        conn.execute(
            sa.text("DELETE FROM match_members WHERE match_id IN :ids").bindparams(ids), part
        )
        conn.execute(sa.text("DELETE FROM matches WHERE id IN :ids").bindparams(ids), part)
    op.add_column(
        "match_members", sa.Column("live", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    conn.execute(
        sa.text(
            "UPDATE match_members SET live = :no WHERE match_id IN"
            " (SELECT id FROM matches WHERE status NOT IN ('auto', 'suggested', 'confirmed'))"
        ),
        {"no": False},
    )
    op.create_index(
        "ux_match_members_live_record",
        "match_members",
        ["record_id"],
        unique=True,
        sqlite_where=sa.text("live"),
        postgresql_where=sa.text("live"),
    )


def downgrade() -> None:
    op.drop_index("ux_match_members_live_record", table_name="match_members")
    # SQLite >= 3.35 drops a column in place; no table copy through batch mode.
    op.execute("ALTER TABLE match_members DROP COLUMN live")
