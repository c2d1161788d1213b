"""Audit events of a service without a journal of its own (feeds): what a person changed through it, and the
requests it refused, handed to the compliance service (``RecordServiceEvents``), which records each durably.

    events = ServiceEvents(compliance_address, service="feeds")
    events.start()
    events.record(line_enabled_event(...))   # never blocks, never raises

A background task sends what is queued in batches, retrying with backoff until compliance answers, as
``QueuedAccessAudit`` does for access decisions. The service answers its caller without waiting: taking a bad
feed line out of service must work while compliance is away. What it has not handed over yet is in its memory
only (a crash loses it; the ERROR log at stop says how much). The queue holds ``QUEUE_MAX`` events; beyond that
events are counted as dropped and logged at ERROR.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import grpc
from google.protobuf.message import Message

from tradingdesk.audit.access import RETRY_INITIAL_S, RETRY_MAX_S, STOP_TIMEOUT_S
from tradingdesk.core.reject import Reject
from tradingdesk.edge.refusals import grpc_refusal
from tradingdesk.security import channels
from tradingdesk.v1 import compliance_pb2, compliance_pb2_grpc

log = logging.getLogger(__name__)

QUEUE_MAX = 10_000
BATCH_MAX = 1_000
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


class ServiceEvents:
    """A queue of ``ServiceEventRecord`` sent to ``ComplianceService.RecordServiceEvents`` at ``address``."""

    def __init__(self, address: str, *, service: str) -> None:
        self.address = address
        self.service = service
        self._queue: list[compliance_pb2.ServiceEventRecord] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.dropped = 0
        self.written = 0

    def record(self, event: compliance_pb2.ServiceEventRecord) -> None:
        if len(self._queue) >= QUEUE_MAX:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1_000 == 0:
                log.error("%s: %d audit events dropped: compliance does not take them", self.service, self.dropped)
            return
        self._queue.append(event)
        if self._wake is not None:
            self._wake.set()

    def start(self) -> None:
        self._wake = asyncio.Event()
        if self._queue:
            self._wake.set()
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-audit-events")

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Send what is queued (one more try, for at most ``timeout`` seconds), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                while self._queue:
                    await self._send_some()
        if self._queue:
            log.error("%s: %d audit events not handed to compliance at stop", self.service, len(self._queue))

    async def _send_some(self) -> None:
        batch = self._queue[:BATCH_MAX]
        request = compliance_pb2.RecordServiceEventsRequest(events=batch)
        async with channels.aio_channel(self.address) as channel:  # the service's own identity
            stub = compliance_pb2_grpc.ComplianceServiceStub(channel)
            await stub.RecordServiceEvents(request, timeout=CALL_TIMEOUT_S)
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
                await self._send_some()
                delay = RETRY_INITIAL_S
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                    await self._back_off(exc, delay)
                    delay = min(delay * 2, RETRY_MAX_S)
                    continue
                # Compliance recorded the refused batch itself; sending it again would block the queue for good.
                dropped = min(len(self._queue), BATCH_MAX)
                del self._queue[:dropped]
                self.dropped += dropped
                log.error("%s: compliance refused %d audit events: %s", self.service, dropped, exc.details())
            except Exception as exc:
                await self._back_off(exc, delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _back_off(self, exc: Exception, delay: float) -> None:
        log.warning("%s: audit events not handed to compliance yet (retry in %.1fs): %s", self.service, delay, exc)
        await asyncio.sleep(delay)


__all__ = ["QUEUE_MAX", "ServiceEvents", "line_enabled_event", "refusal_event"]
