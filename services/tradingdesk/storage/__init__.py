"""Storage for the desk: SQLAlchemy Core tables, Alembic migrations, the group-commit order journal, the
compliance audit store and the risk-change journal. SQLite by default, PostgreSQL by DSN.

    engine = make_engine("sqlite:///var/desk.db")   # or "postgresql+psycopg://user@host/db"
    migrate(engine)                                   # idempotent, at every start
    journal = Journal(engine).start()
    seq = journal.append("new", order_id, {"qty": 100}, ts_ns)
"""

from .audit_store import AuditStore, IndexRow
from .codec import decode_payload, encode_payload
from .db import current_revision, head_revision, is_postgresql, is_sqlite, make_engine, migrate
from .journal import (
    CommitListener,
    Journal,
    JournalClosed,
    JournalError,
    JournalFull,
    JournalRecord,
    JournalStats,
)
from .journal_async import AsyncDurability
from .risk_store import RiskChange, RiskChangeStore

__all__ = [
    "AsyncDurability",
    "AuditStore",
    "CommitListener",
    "IndexRow",
    "Journal",
    "JournalClosed",
    "JournalError",
    "JournalFull",
    "JournalRecord",
    "JournalStats",
    "RiskChange",
    "RiskChangeStore",
    "current_revision",
    "decode_payload",
    "encode_payload",
    "head_revision",
    "is_postgresql",
    "is_sqlite",
    "make_engine",
    "migrate",
]
