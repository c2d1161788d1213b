"""A routing gate fails closed when its risk stream is cut: the risk process of an embedded desk is killed
(SIGKILL), new orders are refused with RISK_STREAM_LOST once the configured bound passes, cancels still
work, and the gate trades again by itself when a risk process is back."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import grpc
import pytest

from tests.desk_runner import RunningDesk, wait_for, write_desk
from tests.integration.test_kill_switch import bids, resting
from tradingdesk.runtime.embedded import Child, wait_serving
from tradingdesk.v1 import orders_pb2, orders_pb2_grpc

pytestmark = pytest.mark.slow
BOUND_MS = 500


def fast_bound(doc: dict) -> None:
    doc["spec"]["risk"].update(maxSubmitsPerSecond=1_000_000, gateStreamTimeoutMs=BOUND_MS)


async def submit_outcome(orders: orders_pb2_grpc.OrderServiceStub, req) -> str:
    try:
        await orders.SubmitOrder(req, timeout=5)
        return "ok"
    except grpc.aio.AioRpcError as err:
        meta = dict(err.trailing_metadata() or ())
        return f"{err.code().name}:{meta.get('td-reject-code', '')}:{err.details()}"


async def test_gate_fails_closed_on_a_cut_risk_stream_and_recovers(tmp_path: Path) -> None:
    spec = write_desk(tmp_path, fast_bound)
    desk = await RunningDesk(spec).start()
    try:
        prices = await wait_for(lambda: bids(desk), timeout=20)
        n = iter(range(10**6))

        def probe():
            return resting(prices, 1, f"probe-{next(n)}-{time.monotonic_ns()}")[0]

        async with desk.channel("routing") as ch:
            orders = orders_pb2_grpc.OrderServiceStub(ch)
            assert await submit_outcome(orders, probe()) == "ok"
            working = (await orders.SubmitOrder(probe(), timeout=5)).order_id

            risk = desk.embedded.children["risk"]
            risk.process.kill()  # SIGKILL: no goodbye on the stream
            await risk.process.wait()
            cut = time.monotonic()
            outcome = await wait_for(lambda: _refused(orders, probe()), timeout=BOUND_MS / 1000 + 5, interval=0.02)
            waited = time.monotonic() - cut
            assert outcome.startswith("UNAVAILABLE:RISK_STREAM_LOST:"), outcome
            assert "risk stream lost" in outcome
            # The bound runs from the last heartbeat, which came up to a quarter bound before the kill.
            assert waited >= BOUND_MS / 1000 * 0.5, f"refused after {waited:.3f}s: well before the bound"
            # Risk-reducing housekeeping still works: a cancel goes through.
            await orders.CancelOrder(orders_pb2.CancelOrderRequest(account="ACC-EQ-1", order_id=working), timeout=5)

            # A risk process comes back; the gate reconnects and trades again without anyone touching routing.
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tradingdesk.cli.main", "serve", "risk", "-f", str(spec),
                env=desk.embedded.env,
                stdout=open(tmp_path / "risk-restarted.log", "ab"),  # noqa: SIM115 - owned by the child
                stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            desk.embedded.children["risk"] = Child("risk", risk.address, proc)
            assert await wait_serving(risk.address, time.monotonic() + 15, credentials=desk.embedded.credentials)
            assert await wait_for(lambda: _accepted(orders, probe()), timeout=10, interval=0.05)
    finally:
        await desk.stop()


async def _refused(orders, req) -> str | None:
    outcome = await submit_outcome(orders, req)
    return None if outcome == "ok" else outcome


async def _accepted(orders, req) -> bool:
    return await submit_outcome(orders, req) == "ok"
