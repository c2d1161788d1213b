"""A whole embedded desk whose only feed is a WebSocket vendor (run by the test on 127.0.0.1): when both
lines go down the feeds service reports market data down and routing refuses new orders as stale; when the
vendor comes back the feed resumes from where it stopped, with no gap, and orders are accepted again."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from tests.desk_runner import RunningDesk, wait_for, write_desk
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.feeds.synthetic import generate_session
from tradingdesk.feeds.vendor import VendorServer
from tradingdesk.spec.domain import instruments_of
from tradingdesk.spec.load import load_desk
from tradingdesk.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc

pytestmark = pytest.mark.slow

REFERENCE_MAX_AGE_MS = 1_000


def order(n: int, price: int) -> orders_pb2.SubmitOrderRequest:
    return orders_pb2.SubmitOrderRequest(
        client_order_id=f"outage-{n}-{time.monotonic_ns()}",
        account="ACC-EQ-2",
        symbol="AAPL",
        side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        quantity="1",
        limit_price=format_fixed(price),
        time_in_force=common_pb2.TIME_IN_FORCE_DAY,
    )


async def test_both_lines_down_blocks_orders_and_recovery_resumes_without_gaps(tmp_path: Path) -> None:
    instruments = list(instruments_of(load_desk(Path("examples/desk.yaml"))).values())
    vendor = VendorServer(lambda: generate_session(instruments, seed=7, session_seconds=23_400), speed=5)
    await vendor.start()

    def websocket_feed(doc: dict) -> None:
        doc["spec"]["feeds"] = [
            {
                "name": "vendor-ws",
                "kind": "websocket",
                "lines": [{"name": "A", "url": vendor.url("A")}, {"name": "B", "url": vendor.url("B")}],
                "staleAfterMs": REFERENCE_MAX_AGE_MS,
                "failoverAfterMs": 250,
            }
        ]
        doc["spec"]["risk"]["referenceMaxAgeMs"] = REFERENCE_MAX_AGE_MS
        # A WebSocket desk follows the wall clock by default; this vendor replays a session, so the desk plays
        # it on the replay clock (from a session's open) and trades whatever the hour of the test.
        doc["spec"].setdefault("conduct", {})["clock"] = {"source": "replay"}

    desk = RunningDesk(write_desk(tmp_path, websocket_feed))
    await desk.start()
    try:
        async with (
            desk.channel("feeds") as feeds_channel,
            desk.channel("routing") as routing_channel,
        ):
            feeds = market_data_pb2_grpc.MarketDataServiceStub(feeds_channel)
            orders = orders_pb2_grpc.OrderServiceStub(routing_channel)

            async def report() -> market_data_pb2.FeedStatusReport:
                return await feeds.GetFeedStatus(market_data_pb2.GetFeedStatusRequest())

            async def passive_price() -> int:
                q = await feeds.GetQuote(market_data_pb2.GetQuoteRequest(symbol="AAPL"))
                return parse_fixed(q.bid_price) * 99 // 100 // 10_000_000 * 10_000_000

            async def accepted(n: int) -> bool:
                try:
                    await orders.SubmitOrder(order(n, await passive_price()), timeout=5)
                    return True
                except grpc.aio.AioRpcError as exc:
                    if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                        return False
                    raise

            await wait_for(lambda: accepted(0), timeout=20)  # data flows, references are fresh

            await vendor.down("A")
            await vendor.down("B")
            await wait_for(lambda: _not_serving(report), timeout=5)
            status = (await report()).feeds[0]
            assert status.health == market_data_pb2.FEED_HEALTH_DOWN
            seq_at_outage = status.next_seq

            price = await passive_price()
            await wait_for(lambda: _refused_as_stale(orders, price), timeout=REFERENCE_MAX_AGE_MS / 1000 + 5)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await orders.SubmitOrder(order(1, price), timeout=5)
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "stale" in (refused.value.details() or "")

            vendor.up("A")
            vendor.up("B")
            await wait_for(lambda: _serving(report), timeout=10)
            await wait_for(lambda: accepted(2), timeout=10)
            status = (await report()).feeds[0]
            assert status.next_seq > seq_at_outage
            assert status.gaps == 0 and status.lost == 0  # the lines resent what the outage missed
            # serving needs one line back; LIVE needs both, and line B may still be in its reconnect back-off
            await wait_for(lambda: _live(report), timeout=10)
    except BaseException:
        print(desk.logs())
        raise
    finally:
        await desk.stop()
        await vendor.stop()


async def _not_serving(report) -> bool:
    return not (await report()).serving


async def _serving(report) -> bool:
    return (await report()).serving


async def _live(report) -> bool:
    return (await report()).feeds[0].health == market_data_pb2.FEED_HEALTH_LIVE


async def _refused_as_stale(orders: orders_pb2_grpc.OrderServiceStub, price: int) -> bool:
    try:
        await orders.SubmitOrder(order(9, price), timeout=5)
    except grpc.aio.AioRpcError as exc:
        return exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "stale" in (exc.details() or "")
    return False
