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

import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol

from tradingdesk.audit.batching import BatchQueue
from tradingdesk.core.events import AccessDecision
from tradingdesk.security import channels
from tradingdesk.v1 import compliance_pb2, compliance_pb2_grpc

QUEUE_MAX = 100_000

WriteBatch = Callable[[list[AccessDecision]], Awaitable[None]]
"""Writes decisions durably, or raises (the batch is retried)."""


class AccessAudit(Protocol):
    def record_access(self, decision: AccessDecision) -> None:
        """Queue one access decision for the audit trail; never blocks, never raises."""
        ...


def _fold_key(d: AccessDecision) -> tuple:
    return (d.identity, d.via, d.method, d.allowed, d.code, d.detail, d.peer)


class QueuedAccessAudit(BatchQueue[AccessDecision]):
    """An ``AccessAudit`` that writes batches with ``write`` from a background task (``start``/``stop``)."""

    def __init__(self, write: WriteBatch, *, name: str) -> None:
        super().__init__(write, name=name, what="access decisions", queue_max=QUEUE_MAX, drop_log_every=10_000)

    def record_access(self, decision: AccessDecision) -> None:
        self.put(decision)

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
