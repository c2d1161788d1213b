"""What the operator remembers about each desk between events, in memory.

Why memory is enough: everything here is rebuilt by the resume handler when the operator (re)starts — the
parsed spec from the object, the trading state from its status — and the watch streams re-list every child.
Two threads may touch one desk at once (the desk's handler and a Deployment event), hence the locks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from deskoperator.status import Trading
from tradingdesk.spec.model import TradingDesk


@dataclass
class DeskState:
    namespace: str
    name: str
    uid: str = ""
    generation: int = 0
    desk: TradingDesk | None = None
    rendered: list[dict[str, Any]] = field(default_factory=list)
    """What ``desk`` renders to; cached because every child event compares against it."""
    config_hashes: dict[str, str] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)
    reconciled_generation: int | None = None
    error: tuple[str, str] | None = None
    trading: Trading | None = None
    deleting: bool = False
    last_status: dict[str, Any] | None = None
    status_lock: threading.Lock = field(default_factory=threading.Lock)
    apply_lock: threading.Lock = field(default_factory=threading.Lock)


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

    def __len__(self) -> int:
        with self._lock:
            return len(self._desks)
