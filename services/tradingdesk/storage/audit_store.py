"""What the compliance service has received, queryable by order, account, symbol and time.

Each row mirrors one journal event (``seq`` is the journal seq), so inserting is idempotent on ``seq``:
delivering the same events again (after a reconnect or a restart) changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Insert, func, select
from sqlalchemy.dialects import postgresql, sqlite

from tradingdesk.core.event_codec import payload_scope

from .codec import decode_payload, encode_payload
from .journal import JournalRecord
from .schema import audit_events

_INSERT_CHUNK = 5000
_SQLITE_INSERT_OR_IGNORE = (
    "INSERT OR IGNORE INTO audit_events (seq, ts_ns, kind, order_id, account, symbol, payload) "
    "VALUES (:seq, :ts_ns, :kind, :order_id, :account, :symbol, :payload)"
)
MAX_QUERY_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    ts_ns: int
    kind: str
    order_id: str
    account: str
    symbol: str
    payload: dict[str, Any] | None
    payload_json: str = field(default="", compare=False, repr=False)
    """The payload as received; stored as is, so a mirror never decodes and re-encodes what it forwards."""

    @classmethod
    def from_journal(cls, rec: JournalRecord) -> AuditRecord:
        """Mirror a journal record; ``account`` and ``symbol`` come from the payload keys of those names."""
        account, symbol = payload_scope(rec.payload)
        return cls(rec.seq, rec.ts_ns, rec.kind, rec.order_id, account, symbol, rec.payload)


class AuditStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = self._make_insert(engine)

    @staticmethod
    def _make_insert(engine: Engine) -> Insert:
        name = engine.dialect.name
        # RETURNING yields only the rows actually inserted (executemany rowcounts are not reliable).
        if name == "postgresql":
            stmt = postgresql.insert(audit_events).on_conflict_do_nothing(index_elements=["seq"])
            return stmt.returning(audit_events.c.seq)
        if name == "sqlite":
            stmt = sqlite.insert(audit_events).on_conflict_do_nothing(index_elements=["seq"])
            return stmt.returning(audit_events.c.seq)
        raise NotImplementedError(f"AuditStore supports postgresql and sqlite, not {name}")

    def insert_many(self, records: Iterable[AuditRecord]) -> int:
        """Insert ``records`` in one transaction, skipping seqs already stored. Returns rows inserted."""
        rows = [
            {
                "seq": r.seq,
                "ts_ns": r.ts_ns,
                "kind": r.kind,
                "order_id": r.order_id,
                "account": r.account,
                "symbol": r.symbol,
                "payload": r.payload_json or encode_payload(r.payload),
            }
            for r in records
        ]
        if not rows:
            return 0
        inserted = 0
        if self._engine.dialect.name == "sqlite":
            return self._insert_sqlite(rows)
        with self._engine.begin() as conn:
            for i in range(0, len(rows), _INSERT_CHUNK):
                inserted += len(conn.execute(self._insert, rows[i : i + _INSERT_CHUNK]).all())
        return inserted

    def _insert_sqlite(self, rows: list[dict[str, Any]]) -> int:
        """The driver's executemany: SQLAlchemy's RETURNING path costs more than the insert itself here."""
        with self._engine.begin() as conn:
            raw = conn.connection.driver_connection
            before = raw.total_changes
            raw.executemany(_SQLITE_INSERT_OR_IGNORE, rows)
            return raw.total_changes - before

    def last_seq(self) -> int:
        """The highest seq stored (0 when empty): where to resume mirroring the journal."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.max(audit_events.c.seq))).scalar() or 0)

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_events)).scalar() or 0)

    def query(
        self,
        order_id: str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int = 1000,
        after_seq: int = 0,
    ) -> list[AuditRecord]:
        """Records matching every given filter, in seq order.

        ``since_ns`` is inclusive and ``until_ns`` exclusive. Page through a large result by passing the
        last seq of one page as ``after_seq`` of the next.
        """
        t = audit_events
        stmt = select(t.c.seq, t.c.ts_ns, t.c.kind, t.c.order_id, t.c.account, t.c.symbol, t.c.payload)
        if after_seq:
            stmt = stmt.where(t.c.seq > after_seq)
        if order_id is not None:
            stmt = stmt.where(t.c.order_id == order_id)
        if account is not None:
            stmt = stmt.where(t.c.account == account)
        if symbol is not None:
            stmt = stmt.where(t.c.symbol == symbol)
        if since_ns is not None:
            stmt = stmt.where(t.c.ts_ns >= since_ns)
        if until_ns is not None:
            stmt = stmt.where(t.c.ts_ns < until_ns)
        stmt = stmt.order_by(t.c.seq).limit(max(0, min(limit, MAX_QUERY_LIMIT)))
        with self._engine.connect() as conn:
            rows: Sequence[Any] = conn.execute(stmt).all()
        return [AuditRecord(r[0], r[1], r[2], r[3], r[4], r[5], decode_payload(r[6])) for r in rows]


__all__ = ["MAX_QUERY_LIMIT", "AuditRecord", "AuditStore"]
