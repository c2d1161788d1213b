"""The journal's incarnation, and the audit log's query index keyed by log position.

Revision ID: 0002
Revises: 0001
Create Date: 2026-06-01

``audit_events`` was keyed on the journal seq with insert-or-ignore, so a journal that started again from seq 1
(a fresh volume) had its events dropped silently. It is replaced by ``audit_log``, keyed by the record's place
in the Merkle log; the compliance service re-reads the journal from its first seq into the new log, so no row
of the old table is lost (the journal never deleted them). ``journal_meta`` holds the incarnation this
migration gives the database: a new database, a new incarnation.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Int64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    meta = op.create_table(
        "journal_meta",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("incarnation", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journal_meta"),
    )
    op.bulk_insert(meta, [{"id": 1, "incarnation": uuid.uuid4().hex}])

    op.drop_index("ix_audit_events_symbol", "audit_events")
    op.drop_index("ix_audit_events_account", "audit_events")
    op.drop_index("ix_audit_events_ts_ns", "audit_events")
    op.drop_index("ix_audit_events_order_id", "audit_events")
    op.drop_table("audit_events")
    op.create_table(
        "audit_log",
        sa.Column("log_index", Int64, autoincrement=False, nullable=False),
        sa.Column("incarnation", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("account", sa.String(128), server_default="", nullable=False),
        sa.Column("symbol", sa.String(64), server_default="", nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("log_index", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_order_id", "audit_log", ["order_id"])
    op.create_index("ix_audit_log_ts_ns", "audit_log", ["ts_ns"])
    op.create_index("ix_audit_log_account", "audit_log", ["account"])
    op.create_index("ix_audit_log_symbol", "audit_log", ["symbol"])
    op.create_index("ix_audit_log_incarnation_seq", "audit_log", ["incarnation", "seq"])


def downgrade() -> None:
    """Back to 0001: the old compliance service then mirrors the journal into an empty ``audit_events`` again
    from seq 1. The audit log itself (spool and bucket) is not in the database and stays as it is."""
    op.drop_table("audit_log")
    op.drop_table("journal_meta")
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
