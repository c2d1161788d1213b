"""Journal of risk limit and trading-state changes: who changed what, when, why and where (scope)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from .codec import decode_payload, encode_payload
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
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, ts_ns: int, actor: str, reason: str, scope: str, change: dict[str, Any]) -> int:
        """Store one change durably (its own transaction) and return its id."""
        values = {
            "ts_ns": ts_ns,
            "actor": actor,
            "reason": reason,
            "scope": scope,
            "change": encode_payload(change),
        }
        with self._engine.begin() as conn:
            result = conn.execute(risk_changes.insert().values(**values))
            pk = result.inserted_primary_key
        assert pk is not None
        return int(pk[0])

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
