"""Real-time risk on a real embedded desk: the risk service follows the routing journal and the feeds' marks,
and a kill with flatten closes the account's positions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.desk_runner import RunningDesk, wait_for, write_desk
from tests.integration.test_kill_switch import bids, journal_kinds
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.v1 import common_pb2, orders_pb2, orders_pb2_grpc, risk_pb2, risk_pb2_grpc

pytestmark = pytest.mark.slow


async def test_risk_follows_the_desk_and_a_kill_flattens(tmp_path: Path) -> None:
    desk = await RunningDesk(write_desk(tmp_path)).start()
    try:
        prices = await wait_for(lambda: bids(desk), timeout=20)
        async with (
            desk.channel("routing") as och,
            desk.channel("risk") as rch,
        ):
            orders = orders_pb2_grpc.OrderServiceStub(och)
            risk = risk_pb2_grpc.RiskServiceStub(rch)
            scope = common_pb2.Scope(account="ACC-EQ-1")
            price = format_fixed(prices["AAPL"] * 103 // 100 // 10_000_000 * 10_000_000)
            ack = await orders.SubmitOrder(
                orders_pb2.SubmitOrderRequest(
                    client_order_id=f"rt-{time.monotonic_ns()}",
                    account="ACC-EQ-1",
                    strategy="manual",
                    symbol="AAPL",
                    side=common_pb2.SIDE_BUY,
                    order_type=common_pb2.ORDER_TYPE_LIMIT,
                    quantity="10",
                    limit_price=price,
                    time_in_force=common_pb2.TIME_IN_FORCE_IOC,
                ),
                timeout=5,
            )

            async def filled_qty() -> int | None:
                o = await orders.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-1", order_id=ack.order_id))
                return parse_fixed(o.cum_quantity) if o.status in (4, 6) and o.cum_quantity != "0" else None

            qty = await wait_for(filled_qty, timeout=10)

            async def risk_sees_it() -> risk_pb2.RiskSnapshot | None:
                snap = await risk.GetRiskSnapshot(risk_pb2.GetRiskSnapshotRequest(scope=scope))
                rows = {s.symbol: s for s in snap.symbols}
                ok = "AAPL" in rows and parse_fixed(rows["AAPL"].quantity) == qty and rows["AAPL"].mark != "0"
                return snap if ok else None

            snap = await wait_for(risk_sees_it, timeout=10)
            assert snap.sectors[0].sector == "technology" and parse_fixed(snap.gross_exposure) > 0

            kill = await risk.KillSwitch(
                risk_pb2.KillSwitchRequest(scope=scope, actor="ops", reason="flatten drill", flatten=True), timeout=5
            )

            async def flat() -> bool:
                resp = await orders.GetPositions(orders_pb2.GetPositionsRequest(account="ACC-EQ-1"))
                return all(p.quantity == "0" for p in resp.positions)

            await wait_for(flat, timeout=10)
            incidents = await wait_for(lambda: journal_kinds(orders, "incident"), timeout=5)
            report = incidents[-1]
            assert report["kill_id"] == kill.kill_id and report["flatten"] and report["flatten_orders"]
            assert {p["symbol"]: p["qty"] for p in report["positions"]}["AAPL"] == format_fixed(qty)

            async def risk_flat() -> bool:
                snap = await risk.GetRiskSnapshot(risk_pb2.GetRiskSnapshotRequest(scope=scope))
                return not snap.symbols and snap.state == common_pb2.TRADING_STATE_HALTED

            await wait_for(risk_flat, timeout=10)
    finally:
        await desk.stop()
