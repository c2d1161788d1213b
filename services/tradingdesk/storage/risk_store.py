"""Journal of risk limit and trading-state changes: who changed what, when, why and where (scope).

On PostgreSQL one risk service writes it at a time, fenced by the database like routing's journal (fence.py):
``hold`` takes the writer lock (waiting while another replica holds it; ``record`` takes it without waiting if
nobody called ``hold``), and ``record`` writes through the connection that holds it. A risk service whose
session was lost gets ``WriterFenced`` and must stop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from .codec import decode_payload, encode_payload
from .fence import WriterFenced, WriterLock, is_fence_error
from .schema import risk_changes


@dataclass(frozen=True, slots=True)
class RiskChange:
    id: int
    ts_ns: int
    actor: str
    reason: str
    scope: str
    change: dict[str, Any]


class RiskChangeStore:
    def __init__(self, engine: Engine, *, on_fenced: Callable[[], None] | None = None) -> None:
        """``on_fenced``: called once this store finds it lost the writer lock, before ``WriterFenced``."""
        self._engine = engine
        self._on_fenced = on_fenced
        self._fence = WriterLock(engine, risk_changes.name)
        self._writer: Connection | None = None
        self._write_lock = threading.Lock()  # record() is called from the event loop and from worker threads

    def hold(self, *, wait: bool = True, stop: threading.Event | None = None) -> None:
        """Take the writer lock before writing (PostgreSQL; nothing to do on SQLite). ``wait``: queue for it
        while another replica writes (``stop`` ends the wait with ``WriterFenced``); else ``WriterFenced`` at
        once."""
        if not self._fence.enforced or self._writer is not None:
            return
        writer = self._fence.acquire(stop) if wait else self._fence.try_acquire()
        with self._write_lock:
            self._writer = writer

    def release(self) -> None:
        with self._write_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            WriterLock.release(writer)

    def record(self, ts_ns: int, actor: str, reason: str, scope: str, change: dict[str, Any]) -> int:
        """Store one change durably (its own transaction) and return its id."""
        values = {
            "ts_ns": ts_ns,
            "actor": actor,
            "reason": reason,
            "scope": scope,
            "change": encode_payload(change),
        }
        statement = risk_changes.insert().values(**values)
        if not self._fence.enforced:
            with self._engine.begin() as conn:
                pk = conn.execute(statement).inserted_primary_key
        else:
            with self._write_lock:
                if self._writer is None:  # not held yet: take it now, without waiting
                    self._writer = self._fence.try_acquire()
                try:
                    with self._writer.begin():
                        pk = self._writer.execute(statement).inserted_primary_key
                except Exception as exc:
                    if is_fence_error(exc) or not self._still_held():
                        if self._on_fenced is not None:
                            self._on_fenced()
                        raise WriterFenced(f"this risk service lost the writer lock of risk_changes: {exc}") from exc
                    raise
        assert pk is not None
        return int(pk[0])

    def _still_held(self) -> bool:
        """Whether the writer's session still holds the lock (a lost connection does not: its session ended)."""
        try:
            return self._writer is not None and self._fence.holds(self._writer)
        except Exception:
            return False

    def history(self, limit: int = 100, *, scope: str | None = None) -> list[RiskChange]:
        """The most recent ``limit`` changes (optionally for one scope), newest first."""
        t = risk_changes
        stmt = select(t.c.id, t.c.ts_ns, t.c.actor, t.c.reason, t.c.scope, t.c.change)
        if scope is not None:
            stmt = stmt.where(t.c.scope == scope)
        stmt = stmt.order_by(t.c.id.desc()).limit(max(0, limit))
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [RiskChange(r[0], r[1], r[2], r[3], r[4], decode_payload(r[5])) for r in rows]


__all__ = ["RiskChange", "RiskChangeStore"]
