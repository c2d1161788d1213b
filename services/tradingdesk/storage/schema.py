"""The desk's tables, as SQLAlchemy Core metadata.

The migrations in ``migrations/versions`` create exactly these tables; a test compares the migrated schema
against this metadata, so the two cannot drift apart silently. Change a table here *and* add a migration.

Sequence numbers and ids are ``BIGINT`` on PostgreSQL and ``INTEGER`` on SQLite, where an ``INTEGER
PRIMARY KEY`` is the rowid itself (64-bit, no separate index, the fastest layout for an append-only table).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

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

#: The journal's incarnation: one row, written by the migration that creates the database, so a new journal
#: (a fresh database, a pod on a new volume) gets a new one and consumers never take its seqs for the old ones.
journal_meta = Table(
    "journal_meta",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("incarnation", String(64), nullable=False),
)

#: The compliance service's query index of the audit log (one row per record; ``log_index`` is the record's
#: place in the Merkle log, ``record`` its exact bytes). Derived from the log: rebuilt from it after a crash.
audit_log = Table(
    "audit_log",
    metadata,
    Column("log_index", Int64, primary_key=True, autoincrement=False),
    Column("incarnation", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("source", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("account", String(128), nullable=False, server_default=""),
    Column("symbol", String(64), nullable=False, server_default=""),
    Column("record", Text, nullable=False),
    Index("ix_audit_log_order_id", "order_id"),
    Index("ix_audit_log_ts_ns", "ts_ns"),
    Index("ix_audit_log_account", "account"),
    Index("ix_audit_log_symbol", "symbol"),
    Index("ix_audit_log_incarnation_seq", "incarnation", "seq"),
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

#: Surveillance alerts, the query index of their audit records (``log_index``: the record's place in the audit
#: log, NULL until it is recorded there). ``alert_key`` identifies a detection: finding it again stores nothing.
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
    Column("log_index", BigInteger, nullable=True),
    Index("ix_surveillance_alerts_ts_ns", "ts_ns"),
)

#: Where the compliance service's conduct watch is in the journal (one row, ``name`` "journal"): the journal
#: incarnation and the last seq whose activity is stored.
conduct_position = Table(
    "conduct_position",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("incarnation", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
)

#: Snapshots of routing's recoverable state at a journal seq (``snapshots.py``): an optimisation of recovery, the
#: journal stays the truth. Each row is self-checking (format, state key, SHA-256 over the header and body); the
#: newest few are kept, older ones deleted.
journal_snapshots = Table(
    "journal_snapshots",
    metadata,
    Column("seq", Int64, primary_key=True, autoincrement=False),
    Column("incarnation", String(64), nullable=False),
    Column("record_ts_ns", BigInteger, nullable=False),
    Column("record_kind", String(64), nullable=False),
    Column("format", Integer, nullable=False),
    Column("state_key", String(64), nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
)

__all__ = [
    "Int64",
    "audit_log",
    "conduct_position",
    "journal",
    "journal_meta",
    "journal_snapshots",
    "market_tape",
    "metadata",
    "order_activity",
    "risk_changes",
    "surveillance_alerts",
]
