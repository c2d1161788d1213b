"""The desk's tables, as SQLAlchemy Core metadata.

The migrations in ``migrations/versions`` create exactly these tables; a test compares the migrated schema
against this metadata, so the two cannot drift apart silently. Change a table here *and* add a migration.

Sequence numbers and ids are ``BIGINT`` on PostgreSQL and ``INTEGER`` on SQLite, where an ``INTEGER
PRIMARY KEY`` is the rowid itself (64-bit, no separate index, the fastest layout for an append-only table).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

#: 64-bit integer that becomes the rowid alias when used as the primary key on SQLite.
Int64 = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: The append-only, event-sourced order journal. ``seq`` is assigned by the application (strictly
#: increasing, no gaps); rows are only ever inserted, never updated or deleted.
journal = Table(
    "journal",
    metadata,
    Column("seq", Int64, primary_key=True, autoincrement=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_journal_order_id", "order_id"),
)

#: What the compliance service has received: one row per journal event it mirrors (``seq`` is the journal
#: seq), with the fields auditors filter on pulled out of the payload.
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", Int64, primary_key=True, autoincrement=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("account", String(128), nullable=False, server_default=""),
    Column("symbol", String(64), nullable=False, server_default=""),
    Column("payload", Text, nullable=False),
    Index("ix_audit_events_order_id", "order_id"),
    Index("ix_audit_events_ts_ns", "ts_ns"),
    Index("ix_audit_events_account", "account"),
    Index("ix_audit_events_symbol", "symbol"),
)

#: Journal of risk limit and trading-state changes (who changed what, when and why).
risk_changes = Table(
    "risk_changes",
    metadata,
    Column("id", Int64, primary_key=True, autoincrement=True),
    Column("ts_ns", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("scope", String(256), nullable=False),
    Column("change", Text, nullable=False),
    Index("ix_risk_changes_ts_ns", "ts_ns"),
    Index("ix_risk_changes_scope", "scope"),
)

#: Market conduct (the compliance service, ``compliance/conduct.py``): the market as the desk saw it (best bid
#: and offer changes and trades, fixed-point ints), for execution quality and surveillance after a restart.
market_tape = Table(
    "market_tape",
    metadata,
    Column("id", Int64, primary_key=True, autoincrement=True),
    Column("ts_ns", BigInteger, nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("kind", String(1), nullable=False),  # Q a quote, T a trade
    Column("bid", BigInteger, nullable=False),
    Column("ask", BigInteger, nullable=False),
    Column("bid_qty", BigInteger, nullable=False),
    Column("ask_qty", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("qty", BigInteger, nullable=False),
    Index("ix_market_tape_ts_ns", "ts_ns"),
)

#: The journal's order events as neutral activity records (``core/activity.py``), by time: what surveillance,
#: execution quality and the CAT export read. ``seq`` is the journal event's; one event may give two records.
order_activity = Table(
    "order_activity",
    metadata,
    Column("id", Int64, primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("account", String(128), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_order_activity_ts_ns", "ts_ns"),
    Index("ix_order_activity_order_id", "order_id"),
)

#: Surveillance alerts; ``alert_key`` identifies a detection, so finding it again (a replay) stores nothing.
surveillance_alerts = Table(
    "surveillance_alerts",
    metadata,
    Column("id", Int64, primary_key=True, autoincrement=True),
    Column("alert_key", String(512), nullable=False, unique=True),
    Column("detector", String(32), nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("owner", String(128), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("accounts", Text, nullable=False),
    Column("order_ids", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("figures", Text, nullable=False),
    Column("recorded_ns", BigInteger, nullable=False),
    Index("ix_surveillance_alerts_ts_ns", "ts_ns"),
)

#: Where the compliance service's conduct watch is in the journal (one row, ``name`` "journal").
conduct_position = Table(
    "conduct_position",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

__all__ = [
    "Int64",
    "audit_events",
    "conduct_position",
    "journal",
    "market_tape",
    "metadata",
    "order_activity",
    "risk_changes",
    "surveillance_alerts",
]
