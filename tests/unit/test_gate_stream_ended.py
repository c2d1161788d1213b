"""A gate stream that ends under the gate (the risk process killed) leaves nothing of the call running.

Routing dials the risk service through client interceptors, and through them grpc writes a stream's requests
from a task of its own. When the risk service went away, that task was left waiting forever: the garbage
collector destroyed it later, and routing logged "Task was destroyed but it is pending!" and "aclose():
asynchronous generator is already running" after each risk restart (a simulated day's log)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from opentelemetry import metrics

from tests.desk_runner import free_ports
from tests.unit.desk_fixtures import default_limits
from tests.waiting import wait_for
from tradingdesk.core.clock import ManualClock
from tradingdesk.risk.gate import RiskGate
from tradingdesk.risk.gate_stream import follow_gate_updates
from tradingdesk.security import channels
from tradingdesk.telemetry.rpc import client_metrics_interceptors
from tradingdesk.v1 import risk_pb2, risk_pb2_grpc


class OneUpdateThenGone(risk_pb2_grpc.RiskServiceServicer):
    """Sends the full picture, waits for its acknowledgement, then lets the test stop the server."""

    def __init__(self) -> None:
        self.acknowledged = asyncio.Event()

    async def StreamGateUpdates(self, request_iterator, context):
        requests = aiter(request_iterator)
        await anext(requests)  # the gate's name
        yield risk_pb2.GateUpdate(seq=1, full=True)
        if (await anext(requests)).ack_seq == 1:
            self.acknowledged.set()
        await asyncio.Event().wait()  # until the server goes away


def _request_writers() -> list[asyncio.Task]:
    """grpc's tasks that write a stream's requests (``_consume_request_iterator``), still running."""
    return [t for t in asyncio.all_tasks() if not t.done() and "_consume_request_iterator" in repr(t.get_coro())]


async def test_a_gate_stream_cut_by_a_dying_risk_service_leaves_no_task_behind() -> None:
    (port,) = free_ports(1)
    server = grpc.aio.server()
    servicer = OneUpdateThenGone()
    risk_pb2_grpc.add_RiskServiceServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    clock = ManualClock()
    gate = RiskGate(default_limits(), stream_clock=clock)
    applied: list[int] = []
    interceptors = client_metrics_interceptors(metrics.get_meter("test"), None)  # as routing dials risk
    async with channels.aio_channel(f"127.0.0.1:{port}", interceptors=interceptors) as channel:
        following = asyncio.create_task(
            follow_gate_updates(
                channel, gate=gate, gate_id="test/1", clock=clock, apply=lambda u: applied.append(u.seq)
            )
        )
        await asyncio.wait_for(servicer.acknowledged.wait(), timeout=10)
        assert _request_writers(), "the stream writes its acknowledgements from grpc's own task"
        await server.stop(None)  # the risk process is gone
        with pytest.raises(grpc.aio.AioRpcError):
            await following
        assert applied == [1]
        assert await wait_for(lambda: not _request_writers(), timeout=5, what="grpc's request writer to end")
    assert gate.cut_reason == "", "a risk service going away is left to the stream guard, not a cut-off"
