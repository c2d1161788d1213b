"""``routing_failover_ms``: the active router killed (SIGKILL) to the first order acknowledged by a hot standby,
on a real PostgreSQL, for a desk with a journal of a few thousand records.

Baseline, same run: the same kill without a standby, the router started again by hand (what a restart costs:
a new process, its imports, the journal's replay). A client resends the same order until it is acknowledged,
with a fresh channel each time, so neither figure includes gRPC's reconnect back-off.

On Kubernetes the Service adds the readiness probe's period (1 s) at most; tests/operator/test_failover_e2e.py
measures that end to end on the local control plane.
"""

from __future__ import annotations

import asyncio
import signal
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import grpc

from bench.report import figure
from tests import access
from tests.desk_runner import RunningDesk, ServiceProcess, wait_for, write_desk
from tests.postgres import PostgresServer, find_postgres
from tradingdesk.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc

RESTING_ORDERS = 2_000


def resting(coid: str, limit: Decimal) -> orders_pb2.SubmitOrderRequest:
    return orders_pb2.SubmitOrderRequest(
        client_order_id=coid, account="ACC-EQ-2", symbol="AAPL", side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT, quantity="1", limit_price=str(limit),
        time_in_force=common_pb2.TIME_IN_FORCE_DAY,
    )  # fmt: skip


async def acknowledged(desk: RunningDesk, address: str, request: orders_pb2.SubmitOrderRequest) -> bool:
    async with access.aio_channel(desk.desk, address) as ch:
        try:
            await orders_pb2_grpc.OrderServiceStub(ch).SubmitOrder(request, timeout=2)
        except grpc.aio.AioRpcError:
            return False
    return True


async def one_run(server: PostgresServer, tmp: Path, *, standby: bool) -> float:
    env = {"TD_DSN": server.create_database(f"fo_{'hot' if standby else 'cold'}")}
    (tmp / "desk").mkdir(parents=True)
    spec = write_desk(tmp / "desk", lambda d: d["spec"]["risk"].update(maxSubmitsPerSecond=1_000_000))
    desk = await RunningDesk(spec, env).start()
    second: ServiceProcess | None = None
    try:

        async def bid() -> Decimal | None:
            async with desk.channel("feeds") as ch:
                q = await market_data_pb2_grpc.MarketDataServiceStub(ch).GetQuote(
                    market_data_pb2.GetQuoteRequest(symbol="AAPL"), timeout=2
                )
            return Decimal(q.bid_price) if q.bid_price else None

        limit = ((await wait_for(bid, timeout=60)) * Decimal("0.98")).quantize(Decimal("0.01"))
        active = desk.address("routing")
        for i in range(RESTING_ORDERS):  # a journal to replay, and open orders to reseat
            await wait_for(lambda i=i: acknowledged(desk, active, resting(f"pre-{i}", limit)), timeout=30)
        if standby:
            second = ServiceProcess("routing", spec, env, tmp / "routing-2.log")
            await wait_for(lambda: _alive(desk, second.address), timeout=60)
        desk.embedded.children["routing"].process.send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        if second is None:  # no standby: start the router again
            second = ServiceProcess("routing", spec, env, tmp / "routing-2.log")
        await wait_for(lambda: acknowledged(desk, second.address, resting("after", limit)), timeout=120, interval=0.005)
        return (time.perf_counter() - killed) * 1000
    finally:
        if second is not None:
            second.stop()
        await desk.stop()


async def _alive(desk: RunningDesk, address: str) -> bool:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with access.aio_channel(desk.desk, address) as ch:
        try:
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.aio.AioRpcError:
            return False
    return True


def run() -> list[dict]:
    server = PostgresServer(find_postgres()).start()
    try:
        with tempfile.TemporaryDirectory(prefix="td-failover-bench-") as tmp:
            hot = asyncio.run(one_run(server, Path(tmp) / "hot", standby=True))
            cold = asyncio.run(one_run(server, Path(tmp) / "cold", standby=False))
    finally:
        server.destroy()
    return [figure("routing_failover_ms", hot, "ms", cold)]


if __name__ == "__main__":
    run()
