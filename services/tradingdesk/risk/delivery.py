"""The risk service's end of each gate stream: what it sent, what the gate acknowledged, and cutting off a gate
that does not acknowledge in time.

Every ``GateUpdate`` the risk service sends carries a sequence number (``seq``); a gate acknowledges on the same
stream the highest seq it has applied, which covers every update before it. A trading-state change a caller
waits on (``SetTradingState``, ``KillSwitch``, ``Resume``, whichever door) returns only when every gate it was
sent to has acknowledged it, or when the deadline has passed: a gate that has not acknowledged by then is cut
off. Its stream ends with ABORTED, so a gate that is slow but alive fails closed the moment it reads that, and
one that cannot read it fails closed by its own stream guard; either way it trades again only after it has
reconnected and applied the full picture, which includes the change.

Nothing here runs per order: acknowledgements cost one small message per update on a stream that exists anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from tradingdesk.v1 import risk_pb2

MAX_GATE_ID = 128


@dataclass(frozen=True, slots=True)
class Delivery:
    """Which gates applied one change before the call returned; ``gates == applied + len(cut_off)``."""

    gates: int
    applied: int
    cut_off: tuple[str, ...] = ()
    deadline_ms: int = 0

    def to_proto(self) -> risk_pb2.GateDelivery:
        return risk_pb2.GateDelivery(
            gates=self.gates,
            applied=self.applied,
            cut_off=len(self.cut_off),
            cut_off_gates=self.cut_off,
            ack_deadline_ms=self.deadline_ms,
        )

    def to_json(self) -> dict:
        return {
            "gates": self.gates,
            "applied": self.applied,
            "cut_off": len(self.cut_off),
            "cut_off_gates": list(self.cut_off),
            "ack_deadline_ms": self.deadline_ms,
        }


@dataclass(eq=False, slots=True)
class GateLink:
    """One connected gate: its stream's queue of updates, the last seq queued on it and the last it acknowledged.

    The queue ends with ``None``: at shutdown (the stream ends cleanly) or when the gate is cut off
    (``cut_reason`` is set, and the stream ends with ABORTED)."""

    peer: str
    queue: asyncio.Queue[risk_pb2.GateUpdate | None]
    gate_id: str = ""
    sent_seq: int = 0
    acked_seq: int = 0
    cut_reason: str = ""
    acks_open: bool = True
    _waiters: list[tuple[int, asyncio.Future[bool]]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.gate_id} ({self.peer})" if self.gate_id else self.peer

    @property
    def ended(self) -> bool:
        return bool(self.cut_reason) or not self.acks_open

    def send(self, update: risk_pb2.GateUpdate) -> bool:
        """Queue an update; False when the gate has fallen a whole queue behind (the caller cuts it off)."""
        try:
            self.queue.put_nowait(update)
        except asyncio.QueueFull:
            return False
        self.sent_seq = update.seq
        return True

    def name_from(self, gate_id: str) -> None:
        self.gate_id = "".join(c for c in gate_id[:MAX_GATE_ID] if c.isprintable())

    def acknowledge(self, seq: int) -> bool:
        """The gate applied every update up to ``seq``; False if it claims one this stream was never sent."""
        if seq > self.sent_seq:
            return False
        if seq > self.acked_seq:
            self.acked_seq = seq
            self._settle(lambda wanted: wanted <= seq, True)
        return True

    def until_acknowledged(self, seq: int) -> asyncio.Future[bool]:
        """A future that resolves True once ``seq`` is acknowledged, False if the stream ends first."""
        future = asyncio.get_running_loop().create_future()
        if self.acked_seq >= seq:
            future.set_result(True)
        elif self.ended:
            future.set_result(False)
        else:
            self._waiters.append((seq, future))
        return future

    def acks_ended(self) -> None:
        """The gate's side of the stream ended: it can acknowledge nothing more."""
        self.acks_open = False
        self._settle(lambda _wanted: True, False)

    def cut(self, reason: str) -> None:
        """End the stream with ABORTED: what is still queued is dropped (the gate reconnects for the full picture)."""
        if self.cut_reason:
            return
        self.cut_reason = reason
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)
        self._settle(lambda _wanted: True, False)

    def end(self) -> None:
        """End the stream cleanly after what is queued (shutdown: the gate reconnects to the next instance)."""
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
        self._settle(lambda _wanted: True, False)

    def _settle(self, due, result: bool) -> None:
        keep = []
        for wanted, future in self._waiters:
            if due(wanted):
                if not future.done():
                    future.set_result(result)
            else:
                keep.append((wanted, future))
        self._waiters = keep


async def await_acknowledgements(
    links: list[GateLink], seq: int, *, timeout_s: float
) -> tuple[list[GateLink], list[GateLink]]:
    """Wait until each link has acknowledged ``seq`` (or its stream ended), for at most ``timeout_s``.
    Returns (applied, not applied); the caller cuts off the second."""
    futures = {link: link.until_acknowledged(seq) for link in links}
    pending = [f for f in futures.values() if not f.done()]
    if pending:
        await asyncio.wait(pending, timeout=max(timeout_s, 0.0))
    applied = [link for link, f in futures.items() if f.done() and f.result()]
    missing = [link for link, f in futures.items() if not (f.done() and f.result())]
    for f in futures.values():
        f.cancel()  # those still pending; a done future ignores it
    return applied, missing
