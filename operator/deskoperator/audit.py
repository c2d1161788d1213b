"""The operator's actions on a desk, into the desk's audit trail (``ComplianceService.RecordOperatorAction``).

Why in the background: a desk's compliance service may not run yet (the operator is creating it) or may be
unreachable for a while, and neither may hold up a reconcile. So an action is queued here and a worker thread
delivers each desk's queue in order, retrying with backoff (up to ``RETRY_MAX_S``) until compliance records it.
The finalizer delivers what is queued for its desk, and the deletion itself, before it seals the log.

What is not delivered yet lives in this process only: an operator restart loses it. Each record carries the
desk's generation, so an auditor sees which generations have no record, and the next record says what the
desk is then (its spec hash). A retry after a lost answer may record an action twice (same ``action_id``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deskoperator import rpc
from deskoperator.names import ACTOR
from tradingdesk.v1 import compliance_pb2

log = logging.getLogger(__name__)

RETRY_INITIAL_S = 1.0
RETRY_MAX_S = 30.0
PENDING_MAX = 1_000


def spec_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 of the desk's spec as JSON with sorted keys: the same spec, the same hash."""
    text = json.dumps(body.get("spec", {}), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def action_request(
    body: Mapping[str, Any], *, namespace: str, name: str, action: str, detail: str
) -> compliance_pb2.OperatorActionRequest:
    return compliance_pb2.OperatorActionRequest(
        actor=ACTOR,
        action=action,
        generation=int(body.get("metadata", {}).get("generation", 0)),
        spec_hash=spec_hash(body),
        detail=detail[:1000],
        namespace=namespace,
        desk=name,
        acted_ns=time.time_ns(),
        action_id=uuid.uuid4().hex,
    )


@dataclass
class _Queue:
    address: str
    actions: deque[compliance_pb2.OperatorActionRequest] = field(default_factory=deque)
    retry_at: float = 0.0
    delay: float = RETRY_INITIAL_S
    sending: bool = False
    """An action of this desk is on its way (the worker's or the finalizer's): one at a time, so none is sent
    twice and they arrive in order."""


class AuditRecorder:
    def __init__(self, *, timeout: float = 3.0) -> None:
        self.timeout = timeout
        self._queues: dict[tuple[str, str], _Queue] = {}
        self._cv = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="audit-recorder", daemon=True)
        self._thread.start()

    def record(self, key: tuple[str, str], address: str, request: compliance_pb2.OperatorActionRequest) -> None:
        """Queue one action of the desk ``key`` (namespace, name) for its compliance service at ``address``."""
        with self._cv:
            queue = self._queues.setdefault(key, _Queue(address))
            queue.address = address
            if len(queue.actions) >= PENDING_MAX:
                dropped = queue.actions.popleft()
                log.error("audit: %s/%s has %d actions waiting; dropped %s", *key, PENDING_MAX, dropped.action)
            queue.actions.append(request)
            self._cv.notify()

    def pending(self, key: tuple[str, str]) -> int:
        with self._cv:
            queue = self._queues.get(key)
            return len(queue.actions) if queue else 0

    def forget(self, key: tuple[str, str]) -> int:
        """Drop what waits for a desk that is gone; how many actions that was."""
        with self._cv:
            queue = self._queues.pop(key, None)
            return len(queue.actions) if queue else 0

    def deliver_now(self, key: tuple[str, str], timeout: float) -> str:
        """Deliver the desk's queue now (the finalizer); "" when all is recorded, else why not. An action the
        worker is sending meanwhile is waited for, not sent a second time."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cv:
                queue = self._queues.get(key)
                while queue is not None and queue.sending and time.monotonic() < deadline:
                    self._cv.wait(deadline - time.monotonic())
                    queue = self._queues.get(key)
                if queue is None or not queue.actions:
                    self._queues.pop(key, None)
                    return ""
                left = deadline - time.monotonic()
                if queue.sending or left <= 0:
                    return "no time left"
                request, address = queue.actions[0], queue.address
                queue.sending = True
            try:
                rpc.record_operator_action(address, request, min(self.timeout, left))
            except rpc.DeliveryError as exc:
                return str(exc)
            finally:
                self._sent(queue)
            self._delivered(key, request)

    def _sent(self, queue: _Queue) -> None:
        with self._cv:
            queue.sending = False
            self._cv.notify_all()

    def _delivered(self, key: tuple[str, str], request: compliance_pb2.OperatorActionRequest) -> None:
        with self._cv:
            queue = self._queues.get(key)
            if queue and queue.actions and queue.actions[0] is request:
                queue.actions.popleft()
                queue.delay, queue.retry_at = RETRY_INITIAL_S, 0.0

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify()
        self._thread.join(timeout=5)
        left = sum(len(q.actions) for q in self._queues.values())
        if left:
            log.warning("audit: %d operator actions not recorded at shutdown", left)

    def _next(self) -> tuple[tuple[str, str], _Queue] | None:
        now = time.monotonic()
        for key, queue in self._queues.items():
            if queue.actions and queue.retry_at <= now and not queue.sending:
                return key, queue
        return None

    def _run(self) -> None:
        while True:
            with self._cv:
                due = self._next()
                while due is None and not self._stopped:
                    waits = [q.retry_at for q in self._queues.values() if q.actions and not q.sending]
                    self._cv.wait(max(0.05, min(waits) - time.monotonic()) if waits else None)
                    due = self._next()
                if self._stopped:
                    return
                key, queue = due
                request, address = queue.actions[0], queue.address
                queue.sending = True
            try:
                rpc.record_operator_action(address, request, self.timeout)
            except rpc.DeliveryError as exc:
                with self._cv:
                    queue.retry_at = time.monotonic() + queue.delay
                    queue.delay = min(queue.delay * 2, RETRY_MAX_S)
                log.info("audit: %s of %s/%s not recorded yet (%s); retrying", request.action, *key, exc)
                continue
            finally:
                self._sent(queue)
            self._delivered(key, request)
