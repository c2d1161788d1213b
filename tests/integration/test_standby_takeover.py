"""One active routing (and risk) replica, hot standbys, on a real PostgreSQL: the standby refuses calls and is not
SERVING; when the active process is killed it takes over within a second, with every acknowledged order,
position and halt, and numbers the journal on without a gap or a duplicate."""

from __future__ import annotations

import signal
import time
import uuid
from decimal import ROUND_UP, Decimal
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests import access
from tests.desk_runner import RunningDesk, ServiceProcess, wait_for, write_desk
from tradingdesk.storage.db import make_engine
from tradingdesk.v1 import (
    common_pb2,
    market_data_pb2,
    market_data_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    risk_pb2,
    risk_pb2_grpc,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(300)]


async def health(desk: RunningDesk, address: str, service: str) -> int | None:
    async with access.aio_channel(desk.desk, address) as ch:
        try:
            reply = await health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=2
            )
        except grpc.aio.AioRpcError:
            return None
        return reply.status


def marketable(ask: Decimal, coid: str) -> orders_pb2.SubmitOrderRequest:
    return orders_pb2.SubmitOrderRequest(
        client_order_id=coid, account="ACC-EQ-1", strategy="manual", symbol="AAPL", side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT, quantity="10",
        limit_price=str((ask * Decimal("1.01")).quantize(Decimal("0.01"), ROUND_UP)),
        time_in_force=common_pb2.TIME_IN_FORCE_DAY,
    )  # fmt: skip


async def submit(desk: RunningDesk, address: str, request: orders_pb2.SubmitOrderRequest) -> orders_pb2.OrderAck | None:
    async with access.aio_channel(desk.desk, address) as ch:
        try:
            return await orders_pb2_grpc.OrderServiceStub(ch).SubmitOrder(request, timeout=5)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION), exc.details()
            return None


async def orders_at(desk: RunningDesk, address: str) -> list[orders_pb2.Order]:
    async with access.aio_channel(desk.desk, address) as ch:
        return list((await orders_pb2_grpc.OrderServiceStub(ch).ListOrders(orders_pb2.ListOrdersRequest())).orders)


async def test_a_standby_router_takes_over_with_every_acknowledged_order(postgres_server, tmp_path: Path) -> None:
    env = {"TD_DSN": postgres_server.create_database(f"ha_{uuid.uuid4().hex[:8]}")}
    (tmp_path / "desk").mkdir()
    spec = write_desk(tmp_path / "desk")
    desk = await RunningDesk(spec, env).start()
    standby = ServiceProcess("routing", spec, env, tmp_path / "routing-standby.log")
    try:
        active = desk.address("routing")
        await wait_for(lambda: health(desk, standby.address, ""), timeout=60)  # alive, standing by
        assert await health(desk, active, "tradingdesk.v1.OrderService") == health_pb2.HealthCheckResponse.SERVING
        assert (
            await health(desk, standby.address, "tradingdesk.v1.OrderService")
            == health_pb2.HealthCheckResponse.NOT_SERVING
        )
        async with access.aio_channel(desk.desk, standby.address) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await orders_pb2_grpc.OrderServiceStub(ch).ListOrders(orders_pb2.ListOrdersRequest(), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "standby: another routing replica is active" in refused.value.details()

        async def ask() -> Decimal | None:
            async with desk.channel("feeds") as ch:
                q = await market_data_pb2_grpc.MarketDataServiceStub(ch).GetQuote(
                    market_data_pb2.GetQuoteRequest(symbol="AAPL"), timeout=2
                )
            return Decimal(q.ask_price) if q.ask_price else None

        price = await wait_for(ask, timeout=30)
        acked = [
            await wait_for(lambda i=i: submit(desk, active, marketable(price, f"ha-{i}")), timeout=30)
            for i in range(20)
        ]
        assert len({a.order_id for a in acked}) == 20

        # the active router dies (SIGKILL: no drain, its session ends with the process)
        routing = desk.embedded.children["routing"].process
        killed = time.monotonic()
        routing.send_signal(signal.SIGKILL)
        first = await wait_for(lambda: submit(desk, standby.address, marketable(price, "ha-after")), timeout=30)
        failover_ms = (time.monotonic() - killed) * 1000
        print(f"\n[standby] routing_failover_ms (process killed to first order acknowledged) = {failover_ms:.0f}")
        assert first.order_id not in {a.order_id for a in acked}
        again = await submit(desk, standby.address, marketable(price, "ha-3"))  # a client resending: the original ack
        assert again is not None and again.order_id == acked[3].order_id and again.duplicate

        after = {o.client_order_id: o for o in await orders_at(desk, standby.address)}
        assert {f"ha-{i}" for i in range(20)} | {"ha-after"} == set(after)
        assert all(after[f"ha-{i}"].order_id == acked[i].order_id for i in range(20))
        engine = make_engine(env["TD_DSN"], schema="us_equities_routing")
        try:
            with engine.connect() as conn:
                seqs = [r[0] for r in conn.exec_driver_sql("SELECT seq FROM journal ORDER BY seq")]
                pending = conn.exec_driver_sql("SELECT count(*) FROM journal WHERE kind = 'pending_new'").scalar()
        finally:
            engine.dispose()
        assert seqs == list(range(1, len(seqs) + 1))  # no gap, no reuse across the two writers
        assert pending == 21  # each order journaled once
    finally:
        standby.stop()
        await desk.stop()


async def test_a_standby_risk_service_takes_over_with_the_halts(postgres_server, tmp_path: Path) -> None:
    env = {"TD_DSN": postgres_server.create_database(f"hr_{uuid.uuid4().hex[:8]}")}
    (tmp_path / "desk").mkdir()
    spec = write_desk(tmp_path / "desk")
    desk = await RunningDesk(spec, env).start()
    standby = ServiceProcess("risk", spec, env, tmp_path / "risk-standby.log")
    try:
        await wait_for(lambda: health(desk, standby.address, ""), timeout=60)
        assert (
            await health(desk, standby.address, "tradingdesk.v1.RiskService")
            == health_pb2.HealthCheckResponse.NOT_SERVING
        )
        async with desk.channel("risk") as ch:
            kill = risk_pb2.KillSwitchRequest(scope=common_pb2.Scope(account="ACC-EQ-2"), actor="sre", reason="ha test")
            await risk_pb2_grpc.RiskServiceStub(ch).KillSwitch(kill, timeout=5)
        desk.embedded.children["risk"].process.send_signal(signal.SIGKILL)  # the active risk service dies

        async def halted() -> risk_pb2.TradingStateInfo | None:
            async with access.aio_channel(desk.desk, standby.address) as ch:
                try:
                    return await risk_pb2_grpc.RiskServiceStub(ch).GetTradingState(
                        risk_pb2.GetTradingStateRequest(scope=common_pb2.Scope(account="ACC-EQ-2")), timeout=2
                    )
                except grpc.aio.AioRpcError:
                    return None

        info = await wait_for(halted, timeout=30)
        assert (info.state, info.actor, info.reason) == (common_pb2.TRADING_STATE_HALTED, "sre", "ha test")
        assert (
            await health(desk, standby.address, "tradingdesk.v1.RiskService") == health_pb2.HealthCheckResponse.SERVING
        )
    finally:
        standby.stop()
        await desk.stop()
