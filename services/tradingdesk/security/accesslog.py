"""The access log: every refused call and every privileged call, naming the identity.

Each record is one JSON line appended to ``<dataDir>/<desk>/access/<service>.jsonl`` and fsync'd by a writer
thread in batches (group commit), and logged on ``tradingdesk.access``. With ``forward``, each record also
goes to the desk's audit trail as an access decision (the service's ``access_audit``: its journal, or
compliance). A flood of refusals from one caller becomes one record per batch with a ``count`` instead of one
line per call, so the log cannot be used to slow the service down. Records carry no credential: the identity's
name, how it authenticated, the method, the outcome and the request's scope, actor and reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tradingdesk.core.events import AccessDecision

log = logging.getLogger("tradingdesk.access")

FLUSH_INTERVAL_S = 0.05


@dataclass(slots=True)
class AccessRecord:
    identity: str
    """Who called (``anonymous`` when it presented nothing we could verify)."""
    via: str
    """certificate, jwt, token or none."""
    method: str
    """The RPC (``/tradingdesk.v1.RiskService/KillSwitch``) or HTTP route (``POST /v1/kill``)."""
    outcome: str
    """The status code: OK, PERMISSION_DENIED, UNAUTHENTICATED, RESOURCE_EXHAUSTED, INVALID_ARGUMENT, ..."""
    detail: str = ""
    """Why it was refused, or the service's answer."""
    service: str = ""
    peer: str = ""
    request: dict = field(default_factory=dict)
    """The privileged request's scope, actor and reason (never a credential)."""
    privileged: bool = False
    ts_ns: int = 0
    count: int = 1

    def key(self) -> tuple:
        return (self.identity, self.method, self.outcome, self.detail, self.privileged)

    def decision(self) -> AccessDecision:
        """This record as the audit trail's access decision."""
        return AccessDecision(
            ts_ns=self.ts_ns,
            identity=self.identity,
            via=self.via,
            method=self.method,
            allowed=self.outcome == "OK",
            code=self.outcome,
            detail=self.detail,
            privileged=self.privileged,
            peer=self.peer,
            request=dict(self.request),
            count=self.count,
        )


class AccessLog:
    """Appends records from any thread or coroutine without blocking it."""

    def __init__(self, path: Path | None, *, service: str) -> None:
        self.path = path
        self.service = service
        self._queue: queue.SimpleQueue[AccessRecord | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._forward: tuple[Callable[[AccessDecision], None], asyncio.AbstractEventLoop] | None = None

    def forward(self, sink: Callable[[AccessDecision], None], loop: asyncio.AbstractEventLoop) -> None:
        """Hand every record to ``sink`` too, called on ``loop`` whichever thread records it: the service's
        ``access_audit.record_access``, which queues it for the audit trail and never blocks."""
        self._forward = (sink, loop)

    def record(self, rec: AccessRecord) -> None:
        rec.service = rec.service or self.service
        rec.ts_ns = rec.ts_ns or time.time_ns()
        if self._forward is not None:
            sink, loop = self._forward
            with contextlib.suppress(RuntimeError):  # the loop is closed: the service is stopping
                loop.call_soon_threadsafe(sink, rec.decision())  # converted now: the writer may fold ``rec``
        self._queue.put(rec)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"access-log-{self.service}", daemon=True)
            self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(5)
            self._thread = None

    def _drain(self, first: AccessRecord) -> tuple[list[AccessRecord], bool]:
        merged: dict[tuple, AccessRecord] = {}
        stop = False
        item: AccessRecord | None = first
        while True:
            if item is None:
                stop = True
                break
            if item.privileged:  # never merged: each privileged call is its own record
                merged[(id(item),)] = item
            elif (seen := merged.get(item.key())) is not None:
                seen.count += item.count
            else:
                merged[item.key()] = item
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return list(merged.values()), stop

    def _run(self) -> None:
        handle = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a", encoding="utf-8")
        try:
            while True:
                first = self._queue.get()
                batch, stop = self._drain(first) if first is not None else ([], True)
                lines = [json.dumps(asdict(r), separators=(",", ":"), sort_keys=True) for r in batch]
                for rec in batch:
                    level = logging.INFO if rec.outcome == "OK" else logging.WARNING
                    log.log(level, "%s %s via %s: %s %s", rec.identity, rec.method, rec.via, rec.outcome, rec.detail)
                if handle is not None and lines:
                    handle.write("\n".join(lines) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                if stop:
                    return
                time.sleep(FLUSH_INTERVAL_S if len(batch) > 100 else 0)
        finally:
            if handle is not None:
                handle.close()


def read_records(path: Path) -> list[dict]:
    """Every record of an access log file (for tests and ``tradingdesk access log``)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
