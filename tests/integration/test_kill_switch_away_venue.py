"""The kill switch while a venue is away (disconnected): its cancel cannot reach that venue, so the orders resting
there stay open (the OMS does not pretend they left), and they are cancelled as soon as the venue is back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.desk_runner import DeskProcess, wait_for, wait_until, write_desk
from tests.integration.test_kill_switch import open_orders
from tests.integration.test_supervision import status
from tests.integration.test_venue_faults import AWAY, NONE, modes, order, resting_price
from tradingdesk.v1 import common_pb2, orders_pb2, orders_pb2_grpc, risk_pb2, risk_pb2_grpc

pytestmark = pytest.mark.slow


async def test_orders_at_an_away_venue_leave_it_when_it_is_back(tmp_path: Path) -> None:
    desk = DeskProcess(write_desk(tmp_path))
    desk.wait_up(timeout=180)
    try:
        wait_until(lambda: len(status(desk).get("services", {})) == 5, timeout=30, what="the supervisor's status")
        price = await resting_price(desk)
        async with (
            desk.aio_channel("routing", "operations") as ops_ch,
            desk.aio_channel("routing") as admin_ch,
            desk.aio_channel("risk") as risk_ch,
        ):
            ops = orders_pb2_grpc.OrderServiceStub(ops_ch)
            orders = orders_pb2_grpc.OrderServiceStub(admin_ch)
            risk = risk_pb2_grpc.RiskServiceStub(risk_ch)
            at_xnys = (await orders.SubmitOrder(order(price, venue="xnys"), timeout=10)).order_id
            at_xnas = (await orders.SubmitOrder(order(price, venue="xnas"), timeout=10)).order_id

            async def resting() -> dict[str, int]:
                found = {o.order_id: o.status for o in await open_orders(orders)}
                return found if found.get(at_xnys) == found.get(at_xnas) == common_pb2.ORDER_STATUS_NEW else {}

            await wait_for(resting, timeout=30, what="both orders resting")
            away = await ops.SetVenueFault(
                orders_pb2.SetVenueFaultRequest(venue="xnys", mode=AWAY, actor="sre", reason="drill"), timeout=10
            )
            assert modes(away)["xnys"] == AWAY

            await risk.KillSwitch(risk_pb2.KillSwitchRequest(actor="jane.doe", reason="drill: venue away"), timeout=10)

            async def only_xnys_open() -> list:
                listed = await open_orders(orders)
                return listed if [o.order_id for o in listed] == [at_xnys] else []

            (still,) = await wait_for(only_xnys_open, timeout=30, what="the xnas order cancelled, xnys's open")
            assert still.status == common_pb2.ORDER_STATUS_NEW  # the venue never heard the cancel

            back = await ops.SetVenueFault(
                orders_pb2.SetVenueFaultRequest(venue="xnys", mode=NONE, actor="sre", reason="reconnected"),
                timeout=10,
            )
            assert modes(back)["xnys"] == NONE

            async def none_open() -> bool:
                return not await open_orders(orders)

            await wait_for(none_open, timeout=30, what="the xnys order cancelled once its venue is back")
            found = await orders.GetOrder(orders_pb2.GetOrderRequest(account="ACC-EQ-1", order_id=at_xnys), timeout=10)
            assert found.status == common_pb2.ORDER_STATUS_CANCELED
    finally:
        if desk.proc.poll() is None:
            desk.stop()
