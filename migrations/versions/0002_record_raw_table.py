"""record_raw: the original line of each record moves out of `records`

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 04:40:00

`records` is scanned, indexed and updated in bulk (imports, reconciliation); the raw JSON was two
thirds of its bytes. It now lives in `record_raw`, keyed by the record id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "record_raw",
        sa.Column("record_id", _ID, autoincrement=False, nullable=False),
        sa.Column("raw", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("record_id"),
    )
    op.execute(
        "INSERT INTO record_raw (record_id, raw) SELECT id, raw FROM records WHERE raw IS NOT NULL"
    )
    # SQLite >= 3.35 drops a column in place (indexes kept); no table copy through batch mode.
    op.execute("ALTER TABLE records DROP COLUMN raw")


def downgrade() -> None:
    op.add_column("records", sa.Column("raw", _JSON, nullable=True))
    op.execute(
        "UPDATE records SET raw = (SELECT r.raw FROM record_raw r WHERE r.record_id = records.id)"
    )
    op.drop_table("record_raw")
