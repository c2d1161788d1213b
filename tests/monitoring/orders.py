"""Getting an order filled on a running desk, for the monitoring tests that need a fill (a position, a loss)."""

from __future__ import annotations

import asyncio
import time

from tests.desk_runner import RunningDesk, wait_for
from tests.integration.test_kill_switch import bids
from tradingdesk.core.fixed import format_fixed
from tradingdesk.v1 import common_pb2, orders_pb2, orders_pb2_grpc

ATTEMPTS = 3


async def buy_filled(
    desk: RunningDesk, *, account: str, symbol: str, quantity: str, strategy: str = ""
) -> tuple[str, float]:
    """An IOC buy through the ask (2% over the bid, then more), until one fills; (client order id, time.time()
    when this client read the fill on routing's execution stream)."""
    prices = await wait_for(lambda: bids(desk), timeout=30)
    async with desk.channel("routing") as ch:
        orders = orders_pb2_grpc.OrderServiceStub(ch)
        for attempt in range(ATTEMPTS):
            cid = f"fill-{time.monotonic_ns()}"
            price = prices[symbol] * (102 + 3 * attempt) // 100 // 10_000_000 * 10_000_000
            ack = await orders.SubmitOrder(
                orders_pb2.SubmitOrderRequest(
                    client_order_id=cid,
                    account=account,
                    strategy=strategy,
                    symbol=symbol,
                    side=common_pb2.SIDE_BUY,
                    order_type=common_pb2.ORDER_TYPE_LIMIT,
                    quantity=quantity,
                    limit_price=format_fixed(price),
                    time_in_force=common_pb2.TIME_IN_FORCE_IOC,
                ),
                timeout=5,
            )
            # from the acknowledgement's seq: a fill that came before the subscription is replayed, not missed
            fills = orders.StreamExecutions(
                orders_pb2.StreamExecutionsRequest(
                    account=account, from_seq=ack.journal_seq, exec_types=[common_pb2.EXEC_TYPE_TRADE]
                )
            )
            try:
                return cid, await asyncio.wait_for(_fill_of(fills, ack.order_id), 5)
            except TimeoutError:
                continue  # not filled (the IOC expired): a higher price
            finally:
                fills.cancel()
    raise AssertionError(f"no fill for {quantity} {symbol} in {ATTEMPTS} attempts")


async def _fill_of(fills, order_id: str) -> float:
    async for report in fills:
        if report.order_id == order_id:
            return time.time()
    raise AssertionError("the execution stream ended")
