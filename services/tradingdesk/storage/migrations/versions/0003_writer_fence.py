"""Writer fence: on PostgreSQL only the session holding a table's writer lock may insert into journal or
risk_changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Why in the database: a routing (or risk) replica that lost leadership (its session died and a standby took the
lock) must never append again, whatever its own code believes. A statement-level trigger refuses an INSERT or
COPY from any session while another session holds the advisory lock ``(1952710657, hashtext('<schema>.<table>'))``
(SQLSTATE TD001; ``tradingdesk.storage.fence`` takes that lock for the writer). Once per statement, so a group
commit of 2,000 records costs one check. SQLite needs none: one file per service, never shared by replicas.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FENCED_TABLES = ("journal", "risk_changes")

# pg_try_advisory_xact_lock succeeds for the session holding the writer lock (a session's own locks never conflict)
# and when nobody holds it (then it is held to the end of this transaction); it fails while another session holds
# it. One lock-manager call per statement, nothing like a scan of pg_locks.
FUNCTION = """
CREATE OR REPLACE FUNCTION td_writer_fence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT pg_try_advisory_xact_lock(1952710657, hashtext(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME)) THEN
    RAISE EXCEPTION 'writer fence: another session holds the writer lock of %.%', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'TD001', HINT = 'another replica is the leader, or this one lost leadership';
  END IF;
  RETURN NULL;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table in FENCED_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_writer_fence BEFORE INSERT ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION td_writer_fence()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in FENCED_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_writer_fence ON {table}")
    op.execute("DROP FUNCTION IF EXISTS td_writer_fence()")
