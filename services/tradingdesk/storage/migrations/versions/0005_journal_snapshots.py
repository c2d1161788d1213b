"""Journal snapshots: routing's recoverable state at a journal seq, so a restart replays only what follows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Spelled out here rather than imported from ``schema.py`` (a revision describes the schema as it was written).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Int64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "journal_snapshots",
        sa.Column("seq", Int64, autoincrement=False, nullable=False),
        sa.Column("incarnation", sa.String(64), nullable=False),
        sa.Column("record_ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("record_kind", sa.String(64), nullable=False),
        sa.Column("format", sa.Integer(), nullable=False),
        sa.Column("state_key", sa.String(64), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_journal_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("journal_snapshots")
