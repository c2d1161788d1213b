"""A gate's end of ``StreamGateUpdates``: apply each update, acknowledge it, and fail closed when cut off.

Routing runs this inside an ``Upstream`` (which reconnects after any end); the kill switch benchmark's extra
gates run it too, so every gate speaks the protocol one way (``proto/tradingdesk/v1/risk.proto``,
``docs/risk.md``):

1. the first message names the gate;
2. each update: the stream is alive (``RiskGate.heard``), ``apply`` changes the gate before it returns, then the
   update's seq is acknowledged, so the risk service's caller learns the change is in force here;
   heartbeats need no acknowledgement;
3. when the risk service ends the stream with ABORTED (this gate did not acknowledge a change in time), or an
   acknowledgement cannot be delivered because the stream ended under it (grpc then reports INTERNAL, which
   hides the ABORTED), the gate refuses new orders at once (``RiskGate.cut_off``) until the next stream delivers
   the full picture. Any other end leaves the gate to its stream guard, as before: a risk service restarting
   is not a reason to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable

import grpc

from tradingdesk.core.clock import Clock
from tradingdesk.risk.gate import RiskGate
from tradingdesk.v1 import risk_pb2, risk_pb2_grpc

log = logging.getLogger(__name__)


def gate_name(service: str) -> str:
    """``<service>/<host>/<pid>``: which process a gate is, when the risk service reports it cut off."""
    return f"{service}/{socket.gethostname()}/{os.getpid()}"


async def follow_gate_updates(
    channel: grpc.aio.Channel,
    *,
    gate: RiskGate,
    gate_id: str,
    clock: Clock,
    apply: Callable[[risk_pb2.GateUpdate], None],
) -> None:
    """Follow the stream until it ends. A cut-off returns (the caller reconnects at once for the full picture);
    any other failure raises its ``AioRpcError``."""
    gate.arm_stream_guard(clock.now_ns())
    call = risk_pb2_grpc.RiskServiceStub(channel).StreamGateUpdates()
    try:
        # A call that ended before its first message (risk not listening) raises its own status when read.
        with contextlib.suppress(asyncio.InvalidStateError):
            await call.write(risk_pb2.StreamGateUpdatesRequest(gate_id=gate_id))
        async for update in call:
            gate.heard(clock.now_ns())
            if update.heartbeat:
                continue
            apply(update)
            try:
                await call.write(risk_pb2.StreamGateUpdatesRequest(ack_seq=update.seq))
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as exc:
                # The stream ended under the acknowledgement. The risk service then counts this gate cut off
                # (and may have said so with ABORTED, which a failed write can hide): fail closed like it.
                _fail_closed(gate, gate_id, _cut_reason(exc, update.seq))
                return
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.ABORTED:
            raise
        _fail_closed(gate, gate_id, exc.details() or "cut off by the risk service")
    finally:
        await _end_call(call)


async def _end_call(call: grpc.aio.StreamStreamCall) -> None:
    """Stop the call if it still runs (this task was cancelled, or the gate was cut off), and end its request
    side either way.

    Through client interceptors (routing's channels carry them), grpc writes a call's requests from a task of its
    own that reads them from a queue; ``cancel`` stops that task only while the call runs, and returns False
    once the call has ended (risk killed). The task then waited forever on the empty queue, until the garbage
    collector destroyed it and closed its generator under it: the "Task was destroyed but it is pending!" and
    "aclose(): asynchronous generator is already running" errors in routing's log after each risk restart.
    Half-closing an ended call hands that task the end of the queue, so it returns by itself."""
    if call.cancel():
        return
    # The call has ended: half-closing sends nothing (grpc checks), it only ends the request side.
    with contextlib.suppress(grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError):
        await call.done_writing()


def _cut_reason(exc: Exception, seq: int) -> str:
    if isinstance(exc, grpc.aio.AioRpcError) and exc.code() == grpc.StatusCode.ABORTED:
        return exc.details()
    return f"the acknowledgement of update {seq} could not be delivered: the risk service counts this gate cut off"


def _fail_closed(gate: RiskGate, gate_id: str, reason: str) -> None:
    gate.cut_off(reason)
    log.warning("risk gate %s: %s; refusing new orders until the stream is back", gate_id, reason)
