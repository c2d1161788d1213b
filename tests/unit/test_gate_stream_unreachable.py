"""A gate whose risk service is not listening (restarting): following the stream fails with the call's own
status, UNAVAILABLE, which the reconnecting subscription logs quietly. In a busy routing process the call could
end before the gate's first write, and that write then failed with "RPC already finished", which the
subscription logged as an unexpected failure with a traceback on every retry (seen in a simulated day's log);
that race is not reproduced here: this checks the status a caller sees when risk is away."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from tests.desk_runner import free_ports
from tests.unit.desk_fixtures import default_limits
from tradingdesk.core.clock import ManualClock
from tradingdesk.risk.gate import RiskGate
from tradingdesk.risk.gate_stream import follow_gate_updates
from tradingdesk.security import channels
from tradingdesk.telemetry import client_interceptors


def test_a_risk_service_not_listening_is_unavailable() -> None:
    async def scenario() -> None:
        (port,) = free_ports(1)
        clock = ManualClock()
        gate = RiskGate(default_limits(), stream_clock=clock)
        # As routing dials it: the client interceptors are what turned the failed write into "RPC already finished".
        async with channels.aio_channel(f"127.0.0.1:{port}", interceptors=client_interceptors()) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await follow_gate_updates(channel, gate=gate, gate_id="test/1", clock=clock, apply=lambda _: None)
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE

    asyncio.run(scenario())
