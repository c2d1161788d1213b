"""Initial schema: journal, audit_events, risk_changes.

Revision ID: 0001
Revises:
Create Date: 2026-05-20

The table definitions are spelled out here (not imported from ``schema.py``) so that this revision keeps
describing the schema as it was when it was written. A test checks the migrated schema against
``schema.metadata``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT on PostgreSQL; INTEGER (the rowid alias when it is the primary key) on SQLite.
Int64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "journal",
        sa.Column("seq", Int64, autoincrement=False, nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_journal"),
    )
    op.create_index("ix_journal_order_id", "journal", ["order_id"])

    op.create_table(
        "audit_events",
        sa.Column("seq", Int64, autoincrement=False, nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("account", sa.String(128), server_default="", nullable=False),
        sa.Column("symbol", sa.String(64), server_default="", nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_order_id", "audit_events", ["order_id"])
    op.create_index("ix_audit_events_ts_ns", "audit_events", ["ts_ns"])
    op.create_index("ix_audit_events_account", "audit_events", ["account"])
    op.create_index("ix_audit_events_symbol", "audit_events", ["symbol"])

    op.create_table(
        "risk_changes",
        sa.Column("id", Int64, autoincrement=True, nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(256), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_risk_changes"),
    )
    op.create_index("ix_risk_changes_ts_ns", "risk_changes", ["ts_ns"])
    op.create_index("ix_risk_changes_scope", "risk_changes", ["scope"])


def downgrade() -> None:
    op.drop_table("risk_changes")
    op.drop_table("audit_events")
    op.drop_table("journal")
