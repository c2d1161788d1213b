"""The compliance service's query index of the audit log: by order, account, symbol, time and incarnation.

Each row is one record of the Merkle log, keyed by its place in it (``log_index``), with its exact bytes.
The log is the source of truth; this index is derived from it (the compliance service re-indexes what is
missing at start, and drops rows beyond the log if the log was rebuilt shorter). Inserting a row whose
``log_index`` is already there changes nothing: the same place in the log is the same record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from .pg_copy import copy_rows
from .schema import audit_log

_INSERT_CHUNK = 5000
_SQLITE_INSERT_OR_IGNORE = (
    "INSERT OR IGNORE INTO audit_log (log_index, incarnation, seq, ts_ns, source, kind, order_id, account, symbol, "
    "record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
MAX_QUERY_LIMIT = 100_000
_COLUMNS = tuple(c.name for c in audit_log.columns)


class IndexRow(NamedTuple):
    """One row, its fields in the table's column order (a tuple: the SQLite driver takes a batch of them as
    they are, with no object built per row on the ingest path)."""

    log_index: int
    incarnation: str
    seq: int
    ts_ns: int
    source: str
    kind: str
    order_id: str
    account: str
    symbol: str
    record: str
    """The record's bytes as they are in the log (ASCII JSON)."""


@dataclass(frozen=True, slots=True)
class JournalPosition:
    """Where the log stands in the journal: the incarnation and the last journal seq recorded (0: none yet),
    and the log index of that record (or of the incarnation's first record)."""

    incarnation: str
    seq: int
    log_index: int


class AuditStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        if engine.dialect.name == "postgresql":
            # RETURNING yields only the rows inserted (executemany row counts are not reliable).
            stmt = postgresql.insert(audit_log).on_conflict_do_nothing(index_elements=["log_index"])
            self._insert = stmt.returning(audit_log.c.log_index)
        elif engine.dialect.name == "sqlite":
            self._insert = sqlite.insert(audit_log).on_conflict_do_nothing(index_elements=["log_index"])
        else:
            raise NotImplementedError(f"AuditStore supports postgresql and sqlite, not {engine.dialect.name}")

    def insert_many(self, rows: Iterable[IndexRow]) -> int:
        """Index ``rows`` in one transaction; rows whose log index is already there are skipped."""
        tuples = rows if isinstance(rows, list) else list(rows)
        if not tuples:
            return 0
        if self._engine.dialect.name == "postgresql":
            # COPY (storage/pg_copy.py says why). A row already indexed (a batch retried after its commit was
            # lost, a re-index) fails the whole COPY; only then does the batch go through INSERT ... ON CONFLICT DO
            # NOTHING, which skips those.
            try:
                with self._engine.begin() as conn:
                    copy_rows(conn, table=audit_log.name, columns=_COLUMNS, rows=tuples)
                return len(tuples)
            except IntegrityError:
                pass
        with self._engine.begin() as conn:
            if self._engine.dialect.name == "sqlite":
                # The driver's executemany: SQLAlchemy's path costs more than the insert itself here.
                raw = conn.connection.driver_connection
                before = raw.total_changes
                raw.executemany(_SQLITE_INSERT_OR_IGNORE, tuples)
                return raw.total_changes - before
            names = _COLUMNS
            inserted = 0
            for i in range(0, len(tuples), _INSERT_CHUNK):
                chunk = [dict(zip(names, t, strict=True)) for t in tuples[i : i + _INSERT_CHUNK]]
                inserted += len(conn.execute(self._insert, chunk).all())
            return inserted

    def server_started(self) -> str | None:
        """When the PostgreSQL server started (it changes when the server restarts); None on SQLite."""
        if self._engine.dialect.name != "postgresql":
            return None
        with self._engine.connect() as conn:
            return str(conn.execute(select(func.pg_postmaster_start_time())).scalar())

    def first_missing(self, end: int) -> int:
        """The lowest log index below ``end`` that the index does not hold (``end`` when it holds them all).

        A database that crashed may have lost the last commits before it (the index commits without waiting for
        the disk), while rows after them arrive once it is back: a hole, not only a short tail. A binary search
        over counts of the primary key finds its start in a few dozen index-only queries."""

        with self._engine.connect() as conn:

            def held_below(k: int) -> int:
                query = select(func.count()).select_from(audit_log).where(audit_log.c.log_index < k)
                return int(conn.execute(query).scalar() or 0)

            if held_below(end) == end:
                return end
            lo, hi = 0, end  # every index below lo is held; one below hi is missing
            while lo + 1 < hi:
                mid = (lo + hi) // 2
                if held_below(mid) == mid:
                    lo = mid
                else:
                    hi = mid
            return lo

    def size(self) -> int:
        """One past the highest log index indexed (0 when empty)."""
        with self._engine.connect() as conn:
            value = conn.execute(select(func.max(audit_log.c.log_index))).scalar()
        return 0 if value is None else int(value) + 1

    def drop_from(self, log_index: int) -> int:
        """Forget rows at ``log_index`` and beyond (the log they came from was rebuilt shorter)."""
        with self._engine.begin() as conn:
            return conn.execute(delete(audit_log).where(audit_log.c.log_index >= log_index)).rowcount or 0

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_log)).scalar() or 0)

    def incarnations(self, source: str = "journal") -> list[str]:
        """Every incarnation of ``source`` in the log, oldest first."""
        t = audit_log
        stmt = select(t.c.incarnation).where(t.c.source == source).group_by(t.c.incarnation)
        stmt = stmt.order_by(func.min(t.c.log_index))
        with self._engine.connect() as conn:
            seen = [r[0] for r in conn.execute(stmt)]
        started = [incarnation for _, incarnation in self._starts(source)]
        return started + [i for i in seen if i not in started]

    def _starts(self, source: str) -> list[tuple[int, str]]:
        """(log index, incarnation) of each ``journal_incarnation`` record about ``source``, oldest first. Such
        records are few (one per new database), so their payloads are read here rather than indexed."""
        t = audit_log
        stmt = select(t.c.log_index, t.c.incarnation, t.c.record).where(t.c.kind == "journal_incarnation")
        with self._engine.connect() as conn:
            rows = conn.execute(stmt.order_by(t.c.log_index)).all()
        return [(int(i), inc) for i, inc, raw in rows if json.loads(raw)["payload"].get("source", "journal") == source]

    def position(self, source: str = "journal") -> JournalPosition | None:
        """The last record of ``source``, or the last start of one of its incarnations if that came later; None
        when the log holds nothing of it."""
        t = audit_log
        stmt = select(t.c.incarnation, t.c.seq, t.c.log_index).where(t.c.source == source)
        with self._engine.connect() as conn:
            row = conn.execute(stmt.order_by(t.c.log_index.desc()).limit(1)).first()
        last = None if row is None else JournalPosition(row[0], int(row[1]), int(row[2]))
        starts = self._starts(source)
        if starts and (last is None or starts[-1][0] > last.log_index):
            index, incarnation = starts[-1]
            return JournalPosition(incarnation, 0, index)
        return last

    def journal_position(self) -> JournalPosition | None:
        """``position`` of the order journal."""
        return self.position("journal")

    def record_at(self, log_index: int) -> str | None:
        with self._engine.connect() as conn:
            return conn.execute(select(audit_log.c.record).where(audit_log.c.log_index == log_index)).scalar()

    def find(self, incarnation: str, seq: int, source: str = "journal") -> int | None:
        """The log index of event ``seq`` of ``incarnation`` of ``source``."""
        t = audit_log
        stmt = select(t.c.log_index).where(t.c.incarnation == incarnation, t.c.seq == seq, t.c.source == source)
        with self._engine.connect() as conn:
            value = conn.execute(stmt).scalar()
        return None if value is None else int(value)

    def query(
        self,
        *,
        order_id: str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        incarnation: str | None = None,
        source: str | None = None,
        kind: str | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int = 1000,
        after_seq: int = 0,
        from_index: int = 0,
    ) -> list[IndexRow]:
        """Rows matching every given filter, in log order.

        ``since_ns`` is inclusive and ``until_ns`` exclusive. Page through a large result by passing the last
        log index of one page plus one as ``from_index`` of the next (``after_seq`` pages by journal seq, which is only
        unique within one incarnation).
        """
        t = audit_log
        stmt = select(*t.columns)
        if from_index:
            stmt = stmt.where(t.c.log_index >= from_index)
        if after_seq:
            stmt = stmt.where(t.c.seq > after_seq)
        for column, value in (
            (t.c.order_id, order_id),
            (t.c.account, account),
            (t.c.symbol, symbol),
            (t.c.incarnation, incarnation),
            (t.c.source, source),
            (t.c.kind, kind),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if since_ns is not None:
            stmt = stmt.where(t.c.ts_ns >= since_ns)
        if until_ns is not None:
            stmt = stmt.where(t.c.ts_ns < until_ns)
        stmt = stmt.order_by(t.c.log_index).limit(max(0, min(limit, MAX_QUERY_LIMIT)))
        with self._engine.connect() as conn:
            rows: Sequence[Any] = conn.execute(stmt).all()
        return [IndexRow(*r) for r in rows]


__all__ = ["MAX_QUERY_LIMIT", "AuditStore", "IndexRow", "JournalPosition"]
