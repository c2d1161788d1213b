"""What the operator remembers about each desk between events, in memory.

Why memory is enough: everything here is rebuilt when the operator (re)starts — the raw object and its parsed
spec from the first watch event, what the RiskService confirmed from the desk's status — and the watch streams
re-list every child. Two threads may touch one desk at once (a reconcile and a child event), hence the locks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from deskoperator.delivery import Confirmation
from tradingdesk.spec.model import TradingDesk
from tradingdesk.v1 import risk_pb2


@dataclass
class DeskState:
    namespace: str
    name: str
    uid: str = ""
    generation: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    """The desk object as last seen (raw: read even when the spec model refuses it)."""
    desk: TradingDesk | None = None
    """The last spec the model accepted; what the children are rendered from."""
    rendered: list[dict[str, Any]] = field(default_factory=list)
    """What ``desk`` renders to; cached because every child event compares against it."""
    config_hashes: dict[str, str] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)
    scaled_up: dict[str, float] = field(default_factory=dict)
    """Service -> wall time its replicas were last raised (its new pods get the startup grace period)."""
    reconciled_generation: int | None = None
    """The generation whose children were applied (status.observedGeneration)."""
    handled_generation: int | None = None
    """The generation last acted on, applied or refused (an unchanged refused spec is not parsed again)."""
    error: tuple[str, str] | None = None
    repair_error: str = ""
    trading: Confirmation = field(default_factory=Confirmation)
    limits: Confirmation = field(default_factory=Confirmation)
    limits_wanted: risk_pb2.RiskLimits | None = None
    """The RiskLimits message of ``desk`` (what ``limits.want`` is the hash of)."""
    deleting: bool = False
    seen_status: bool = False
    """The saved status was read once (confirmations and lastTransitionTime survive operator restarts)."""
    last_status: dict[str, Any] | None = None
    heartbeat: dict[str, Any] = field(default_factory=dict)
    status_lock: threading.Lock = field(default_factory=threading.Lock)
    apply_lock: threading.Lock = field(default_factory=threading.Lock)

    def starting(self, grace: dict[str, int], now: float | None = None) -> frozenset[str]:
        """Services whose last scale-up is younger than their grace period."""
        t = time.time() if now is None else now
        return frozenset(s for s, at in self.scaled_up.items() if t - at < grace.get(s, 0))


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._desks: dict[tuple[str, str], DeskState] = {}

    def ensure(self, namespace: str, name: str) -> DeskState:
        with self._lock:
            key = (namespace, name)
            if key not in self._desks:
                self._desks[key] = DeskState(namespace, name)
            return self._desks[key]

    def get(self, namespace: str, name: str) -> DeskState | None:
        with self._lock:
            return self._desks.get((namespace, name))

    def drop(self, namespace: str, name: str) -> None:
        with self._lock:
            self._desks.pop((namespace, name), None)

    def all(self) -> list[DeskState]:
        with self._lock:
            return list(self._desks.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._desks)
