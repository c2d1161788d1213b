"""Journal of risk limit and trading-state changes: who changed what, when, why and where (scope).

The ids are the journal's sequence numbers, assigned here rather than by the database: one writer, under a
lock, takes the next number and commits the row before the next one is taken. So the numbers have no gaps
and a row is never visible before the rows numbered below it, which is what lets the compliance service read
the journal as a gap-free stream (``since``) and tell a missing change from one not yet written. (A database
sequence can skip numbers on a rolled-back insert, and concurrent writers can commit out of order.)

There must be one risk service writing to a database at a time: it owns the numbering. On PostgreSQL the
database enforces that, like routing's journal (fence.py): ``hold`` takes the writer lock (waiting while
another replica holds it; ``record`` takes it without waiting if nobody called ``hold``), and ``record`` writes
through the connection that holds it. The next id is read once the lock is held, so a standby that takes over
goes on from the last change its predecessor committed. A risk service whose session was lost gets
``WriterFenced`` and must stop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from .codec import decode_payload, encode_payload
from .fence import WriterFenced, WriterLock, is_fence_error
from .incarnation import journal_incarnation
from .schema import risk_changes


@dataclass(frozen=True, slots=True)
class RiskChange:
    id: int
    ts_ns: int
    actor: str
    reason: str
    scope: str
    change: dict[str, Any]
    change_json: str = ""
    """``change`` as stored."""


class RiskChangeStore:
    def __init__(self, engine: Engine, *, on_fenced: Callable[[], None] | None = None) -> None:
        """``on_fenced``: called once this store finds it lost the writer lock, before ``WriterFenced``."""
        self._engine = engine
        self._on_fenced = on_fenced
        self._fence = WriterLock(engine, risk_changes.name)
        self._writer: Connection | None = None
        self._write_lock = threading.Lock()  # record() is called from the event loop and from worker threads
        self._next_id: int | None = None  # read at the first write under the lock (and after migrate)

    def hold(self, *, wait: bool = True, stop: threading.Event | None = None) -> None:
        """Take the writer lock before writing (PostgreSQL; nothing to do on SQLite). ``wait``: queue for it
        while another replica writes (``stop`` ends the wait with ``WriterFenced``); else ``WriterFenced`` at
        once."""
        if not self._fence.enforced or self._writer is not None:
            return
        writer = self._fence.acquire(stop) if wait else self._fence.try_acquire()
        with self._write_lock:
            self._writer = writer
            self._next_id = None  # whoever wrote before us may have gone on: read the last id again

    def release(self) -> None:
        with self._write_lock:
            writer, self._writer = self._writer, None
            self._next_id = None
        if writer is not None:
            WriterLock.release(writer)

    def record(self, ts_ns: int, actor: str, reason: str, scope: str, change: dict[str, Any]) -> int:
        """Store one change durably (its own transaction) and return its id, the next without a gap."""
        values = {
            "ts_ns": ts_ns,
            "actor": actor,
            "reason": reason,
            "scope": scope,
            "change": encode_payload(change),
        }
        with self._write_lock:
            if self._fence.enforced and self._writer is None:  # not held yet: take it now, without waiting
                self._writer = self._fence.try_acquire()
                self._next_id = None
            if self._next_id is None:
                self._next_id = self.last_id() + 1
            change_id = self._next_id
            statement = risk_changes.insert().values(id=change_id, **values)
            try:
                if self._writer is None:
                    with self._engine.begin() as conn:
                        conn.execute(statement)
                else:
                    with self._writer.begin():
                        self._writer.execute(statement)
            except Exception as exc:
                self._next_id = None  # it may have committed after all: read the last id again next time
                if self._writer is not None and (is_fence_error(exc) or not self._still_held()):
                    if self._on_fenced is not None:
                        self._on_fenced()
                    raise WriterFenced(f"this risk service lost the writer lock of risk_changes: {exc}") from exc
                raise
            self._next_id = change_id + 1
        return change_id

    def _still_held(self) -> bool:
        """Whether the writer's session still holds the lock (a lost connection does not: its session ended)."""
        try:
            return self._writer is not None and self._fence.holds(self._writer)
        except Exception:
            return False

    def incarnation(self) -> str:
        """The database's incarnation: a new database numbers its changes from 1 again."""
        return journal_incarnation(self._engine)

    def last_id(self) -> int:
        """The id of the last change stored (0 when none)."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.max(risk_changes.c.id))).scalar() or 0)

    def history(self, limit: int = 100, *, scope: str | None = None) -> list[RiskChange]:
        """The most recent ``limit`` changes (optionally for one scope), newest first."""
        t = risk_changes
        stmt = select(t.c.id, t.c.ts_ns, t.c.actor, t.c.reason, t.c.scope, t.c.change)
        if scope is not None:
            stmt = stmt.where(t.c.scope == scope)
        stmt = stmt.order_by(t.c.id.desc()).limit(max(0, limit))
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [RiskChange(r[0], r[1], r[2], r[3], r[4], decode_payload(r[5]), r[5]) for r in rows]

    def since(self, first_id: int, *, limit: int = 1000) -> list[RiskChange]:
        """Changes with ids from ``first_id`` on, oldest first, at most ``limit``."""
        t = risk_changes
        stmt = select(t.c.id, t.c.ts_ns, t.c.actor, t.c.reason, t.c.scope, t.c.change)
        stmt = stmt.where(t.c.id >= first_id).order_by(t.c.id).limit(max(0, limit))
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [RiskChange(r[0], r[1], r[2], r[3], r[4], decode_payload(r[5]), r[5]) for r in rows]


__all__ = ["RiskChange", "RiskChangeStore"]
