"""Access decisions into the audit trail: the one call the security layer makes for every denied and every
privileged call, whichever service decided it.

    service.access_audit.record_access(AccessDecision(ts_ns=..., identity="svc:trader-7", via="certificate",
        method="/tradingdesk.v1.RiskService/KillSwitch", allowed=True, code="OK", privileged=True,
        request={"scope": ..., "actor": ..., "reason": ...}))

``record_access`` never blocks and never raises: it queues the decision, and a background task writes the queue
in batches to the service's own durable journal (routing: the order journal; risk: the risk change journal;
compliance: the audit log itself), or, for a service without one (feeds, monitoring), to the compliance service
(``RecordAccess``), retrying with backoff until it answers. Each becomes one ``access`` record (docs/audit.md).
What a service without a journal has not handed over yet is in its memory only: a crash of that process loses it.
The security layer calls it for every decision it writes to its own access log (``AccessLog.forward``: the gRPC
interceptor of every service, and the risk service's HTTP routes) when the desk's TLS is on. The queue holds
``QUEUE_MAX`` decisions; beyond that, while the writer cannot keep up or reach its journal, identical denials are
folded into one decision with a ``count``, and anything else is counted as dropped and logged at ERROR: a flood of
denied calls must not cost unbounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol

from tradingdesk.core.events import AccessDecision
from tradingdesk.security import channels
from tradingdesk.v1 import compliance_pb2, compliance_pb2_grpc

log = logging.getLogger(__name__)

QUEUE_MAX = 100_000
BATCH_MAX = 1_000
RETRY_INITIAL_S = 0.1
RETRY_MAX_S = 5.0
STOP_TIMEOUT_S = 5.0

WriteBatch = Callable[[list[AccessDecision]], Awaitable[None]]
"""Writes decisions durably, or raises (the batch is retried)."""


class AccessAudit(Protocol):
    def record_access(self, decision: AccessDecision) -> None:
        """Queue one access decision for the audit trail; never blocks, never raises."""
        ...


def _fold_key(d: AccessDecision) -> tuple:
    return (d.identity, d.via, d.method, d.allowed, d.code, d.detail, d.peer)


class QueuedAccessAudit:
    """An ``AccessAudit`` that writes batches with ``write`` from a background task (``start``/``stop``)."""

    def __init__(self, write: WriteBatch, *, name: str) -> None:
        self._write = write
        self.name = name
        self._queue: list[AccessDecision] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.dropped = 0
        self.written = 0

    def record_access(self, decision: AccessDecision) -> None:
        queue = self._queue
        if len(queue) >= QUEUE_MAX and not self._fold(decision):
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.error("%s: %d access decisions dropped: the audit writer is behind", self.name, self.dropped)
            return
        if len(queue) < QUEUE_MAX:
            queue.append(decision)
        if self._wake is not None:
            self._wake.set()

    def _fold(self, decision: AccessDecision) -> bool:
        """Fold a denial into an identical one still queued (counting it); False if there is none."""
        if decision.allowed or decision.privileged:
            return False
        key = _fold_key(decision)
        for i in range(len(self._queue) - 1, max(-1, len(self._queue) - 1_000), -1):
            queued = self._queue[i]
            if not queued.allowed and not queued.privileged and _fold_key(queued) == key:
                self._queue[i] = replace(queued, count=queued.count + decision.count)
                return True
        return False

    def start(self) -> None:
        self._wake = asyncio.Event()
        if self._queue:
            self._wake.set()
        self._task = asyncio.create_task(self._run(), name=f"{self.name}-access-audit")

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Write what is queued (for at most ``timeout`` seconds), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                while self._queue:
                    await self._write_some()
        if self._queue:
            log.error("%s: %d access decisions not written at stop", self.name, len(self._queue))

    async def _write_some(self) -> None:
        batch = self._queue[:BATCH_MAX]
        await self._write(batch)
        del self._queue[: len(batch)]
        self.written += len(batch)

    async def _run(self) -> None:
        assert self._wake is not None
        delay = RETRY_INITIAL_S
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
            try:
                await self._write_some()
                delay = RETRY_INITIAL_S
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: access decisions not written yet (retry in %.1fs): %s", self.name, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)


def decision_message(d: AccessDecision, *, service: str) -> compliance_pb2.AccessDecisionRecord:
    return compliance_pb2.AccessDecisionRecord(
        ts_ns=d.ts_ns,
        identity=d.identity,
        via=d.via,
        method=d.method,
        allowed=d.allowed,
        code=d.code,
        detail=d.detail,
        privileged=d.privileged,
        peer=d.peer,
        request_json=json.dumps(dict(d.request), separators=(",", ":"), sort_keys=True),
        count=d.count,
        service=service,
    )


def to_compliance(address: str, *, service: str, timeout: float = 5.0) -> WriteBatch:
    """A ``WriteBatch`` for a service without a journal: ``ComplianceService.RecordAccess`` at ``address`` (a
    channel per batch: decisions come in bursts, rarely)."""

    async def write(batch: list[AccessDecision]) -> None:
        request = compliance_pb2.RecordAccessRequest(decisions=[decision_message(d, service=service) for d in batch])
        async with channels.aio_channel(address) as channel:  # the service's own identity
            await compliance_pb2_grpc.ComplianceServiceStub(channel).RecordAccess(request, timeout=timeout)

    return write


__all__ = ["AccessAudit", "QueuedAccessAudit", "WriteBatch", "decision_message", "to_compliance"]
