"""Market conduct: the market tape, the journal as activity records, surveillance alerts, the watch's position.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Spelled out here rather than imported from ``schema.py`` (a revision describes the schema as it was written).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Int64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "market_tape",
        sa.Column("id", Int64, autoincrement=True, nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(1), nullable=False),
        sa.Column("bid", sa.BigInteger(), nullable=False),
        sa.Column("ask", sa.BigInteger(), nullable=False),
        sa.Column("bid_qty", sa.BigInteger(), nullable=False),
        sa.Column("ask_qty", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_market_tape"),
    )
    op.create_index("ix_market_tape_ts_ns", "market_tape", ["ts_ns"])
    op.create_table(
        "order_activity",
        sa.Column("id", Int64, autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_activity"),
    )
    op.create_index("ix_order_activity_ts_ns", "order_activity", ["ts_ns"])
    op.create_index("ix_order_activity_order_id", "order_activity", ["order_id"])
    op.create_table(
        "surveillance_alerts",
        sa.Column("id", Int64, autoincrement=True, nullable=False),
        sa.Column("alert_key", sa.String(512), nullable=False),
        sa.Column("detector", sa.String(32), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("accounts", sa.Text(), nullable=False),
        sa.Column("order_ids", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("recorded_ns", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_surveillance_alerts"),
        sa.UniqueConstraint("alert_key", name="uq_surveillance_alerts_alert_key"),
    )
    op.create_index("ix_surveillance_alerts_ts_ns", "surveillance_alerts", ["ts_ns"])
    op.create_table(
        "conduct_position",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("incarnation", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_conduct_position"),
    )


def downgrade() -> None:
    op.drop_table("conduct_position")
    op.drop_table("surveillance_alerts")
    op.drop_table("order_activity")
    op.drop_table("market_tape")
