"""Journal of risk limit and trading-state changes: who changed what, when, why and where (scope).

The ids are the journal's sequence numbers, assigned here rather than by the database: one writer, under a
lock, takes the next number and commits the row before the next one is taken. So the numbers have no gaps
and a row is never visible before the rows numbered below it, which is what lets the compliance service read
the journal as a gap-free stream (``since``) and tell a missing change from one not yet written. (A database
sequence can skip numbers on a rolled-back insert, and concurrent writers can commit out of order.)

There must be one risk service writing to a database at a time: it owns the numbering.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from .codec import decode_payload, encode_payload
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
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._next_id: int | None = None  # read at the first write (the tables may not exist before migrate)

    def record(self, ts_ns: int, actor: str, reason: str, scope: str, change: dict[str, Any]) -> int:
        """Store one change durably (its own transaction) and return its id, the next without a gap."""
        values = {
            "ts_ns": ts_ns,
            "actor": actor,
            "reason": reason,
            "scope": scope,
            "change": encode_payload(change),
        }
        with self._lock:
            if self._next_id is None:
                self._next_id = self.last_id() + 1
            change_id = self._next_id
            try:
                with self._engine.begin() as conn:
                    conn.execute(risk_changes.insert().values(id=change_id, **values))
            except Exception:
                self._next_id = None  # it may have committed after all: read the last id again next time
                raise
            self._next_id = change_id + 1
        return change_id

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
