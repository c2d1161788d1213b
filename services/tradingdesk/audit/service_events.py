"""Audit events of a service without a journal of its own (feeds): what a person changed through it, and the
requests it refused, handed to the compliance service (``RecordServiceEvents``), which records each durably.

    events = ServiceEvents(compliance_address, service="feeds")
    events.start()
    await events.hand_over([line_enabled_event(...)], timeout=5)   # durable when it returns, or raises
    events.record(refusal_event(...))                               # queued: never blocks, never raises

A change is handed over before it is made (``hand_over``), as risk journals its changes before applying them:
when compliance cannot record it, the change is refused and not made. What cannot be handed over at once (a
refusal while compliance is away) is queued, and a background task sends the queue in batches, retrying with
backoff until compliance answers (``audit/batching.py``, as for access decisions). What is queued is in memory
only (a crash loses it; the ERROR log at stop says how much). The queue holds ``QUEUE_MAX`` events; beyond that
events are counted as dropped and logged at ERROR.
"""

from __future__ import annotations

import json

import grpc
from google.protobuf.message import Message

from tradingdesk.audit.batching import BatchQueue, BatchRefused
from tradingdesk.core.reject import Reject
from tradingdesk.edge.refusals import grpc_refusal
from tradingdesk.security import channels
from tradingdesk.v1 import compliance_pb2, compliance_pb2_grpc

QUEUE_MAX = 10_000
CALL_TIMEOUT_S = 5.0


def line_enabled_event(
    *,
    ts_ns: int,
    service: str,
    feed: str,
    line: str,
    enabled: bool,
    actor: str,
    reason: str,
    door: str,
    peer: str,
    line_state: str,
) -> compliance_pb2.ServiceEventRecord:
    """A feed line taken out of service (``enabled`` false) or put back, by ``actor`` for ``reason``."""
    return compliance_pb2.ServiceEventRecord(
        ts_ns=ts_ns,
        service=service,
        line_enabled=compliance_pb2.LineEnabledRecord(
            feed=feed,
            line=line,
            enabled=enabled,
            actor=actor,
            reason=reason,
            door=door,
            peer=peer,
            line_state=line_state,
        ),
    )


def refusal_event(
    *, ts_ns: int, service: str, method: str, door: str, reject: Reject, request: Message, peer: str
) -> compliance_pb2.ServiceEventRecord:
    """A refused request, with its fields as sent (bounded) and the actor and reason it gave, if any."""
    refusal = grpc_refusal(method=method, door=door, reject=reject, request=request)
    return compliance_pb2.ServiceEventRecord(
        ts_ns=ts_ns,
        service=service,
        refused=compliance_pb2.RefusalRecord(
            method=refusal.method,
            door=refusal.door,
            reject_kind=refusal.reject_kind,
            code=refusal.code,
            status=refusal.status,
            message=refusal.message,
            request_json=json.dumps(dict(refusal.request), separators=(",", ":"), sort_keys=True),
            actor=getattr(request, "actor", "")[:1000],
            reason=getattr(request, "reason", "")[:1000],
            peer=peer,
        ),
    )


class ServiceEvents(BatchQueue[compliance_pb2.ServiceEventRecord]):
    """A queue of ``ServiceEventRecord`` sent to ``ComplianceService.RecordServiceEvents`` at ``address``."""

    def __init__(self, address: str, *, service: str) -> None:
        super().__init__(self._send, name=service, what="audit events", queue_max=QUEUE_MAX)
        self.address = address
        self.service = service

    def record(self, event: compliance_pb2.ServiceEventRecord) -> None:
        """Queue ``event`` for the background sender; never blocks, never raises."""
        self.put(event)

    async def hand_over(self, events: list[compliance_pb2.ServiceEventRecord], *, timeout: float) -> None:
        """Send ``events`` now, not queued: compliance has recorded them durably when this returns. Raises
        ``BatchRefused`` when compliance refuses them, another exception when it cannot be reached in
        ``timeout`` seconds."""
        await self._send(events, timeout=timeout)

    async def _send(self, batch: list[compliance_pb2.ServiceEventRecord], *, timeout: float = CALL_TIMEOUT_S) -> None:
        request = compliance_pb2.RecordServiceEventsRequest(events=batch)
        try:
            async with channels.aio_channel(self.address) as channel:  # the service's own identity
                stub = compliance_pb2_grpc.ComplianceServiceStub(channel)
                await stub.RecordServiceEvents(request, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                # Compliance recorded the refused batch itself; sending it again would block the queue for good.
                raise BatchRefused(f"compliance refused them: {exc.details()}") from exc
            raise


__all__ = ["CALL_TIMEOUT_S", "QUEUE_MAX", "ServiceEvents", "line_enabled_event", "refusal_event"]
