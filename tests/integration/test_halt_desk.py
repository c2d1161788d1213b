"""A whole embedded desk obeys the trading status its market data carries: a WebSocket vendor (run by the test on
127.0.0.1) halts one symbol and pauses another; routing refuses orders in them with ``SYMBOL_HALTED``, naming
the status and the reason, while the other symbols trade; the vendor's resumption opens them again."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from tests.desk_runner import RunningDesk, wait_for, write_desk
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.edge.status import REJECT_CODE_KEY
from tradingdesk.feeds.events import STATUS, MarketEvent
from tradingdesk.feeds.synthetic import generate_session
from tradingdesk.feeds.vendor import VendorServer
from tradingdesk.markets.status import SymbolStatus
from tradingdesk.spec.domain import instruments_of
from tradingdesk.spec.load import load_desk
from tradingdesk.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc

pytestmark = pytest.mark.slow


def websocket_feed(vendor: VendorServer):
    def mutate(doc: dict) -> None:
        doc["spec"]["feeds"] = [
            {
                "name": "vendor-ws",
                "kind": "websocket",
                "lines": [{"name": "A", "url": vendor.url("A")}, {"name": "B", "url": vendor.url("B")}],
            }
        ]
        # The vendor replays a session: the desk plays it on the replay clock (from a session's open), so the
        # market is open whatever the hour of the test.
        doc["spec"].setdefault("conduct", {})["clock"] = {"source": "replay"}

    return mutate


async def test_halts_and_pauses_from_market_data_refuse_orders_until_the_resumption(tmp_path: Path) -> None:
    instruments = list(instruments_of(load_desk(Path("examples/desk.yaml"))).values())
    vendor = VendorServer(lambda: generate_session(instruments, seed=7, session_seconds=23_400), speed=5)
    await vendor.start()
    desk = RunningDesk(write_desk(tmp_path, websocket_feed(vendor)))
    await desk.start()
    try:
        async with (
            desk.channel("feeds") as feeds_channel,
            desk.channel("routing") as routing_channel,
        ):
            feeds = market_data_pb2_grpc.MarketDataServiceStub(feeds_channel)
            orders = orders_pb2_grpc.OrderServiceStub(routing_channel)

            async def outcome(symbol: str) -> str:
                """``accepted``, or the reject code and message of a passive limit buy in ``symbol``."""
                q = await feeds.GetQuote(market_data_pb2.GetQuoteRequest(symbol=symbol))
                price = parse_fixed(q.bid_price) * 99 // 100 // 10_000_000 * 10_000_000
                request = orders_pb2.SubmitOrderRequest(
                    client_order_id=f"halt-{symbol}-{time.monotonic_ns()}",
                    account="ACC-EQ-2",
                    symbol=symbol,
                    side=common_pb2.SIDE_BUY,
                    order_type=common_pb2.ORDER_TYPE_LIMIT,
                    quantity="1",
                    limit_price=format_fixed(price),
                    time_in_force=common_pb2.TIME_IN_FORCE_DAY,
                )
                try:
                    await orders.SubmitOrder(request, timeout=5)
                except grpc.aio.AioRpcError as exc:
                    meta = dict(exc.trailing_metadata() or ())
                    return f"{exc.code().name} {meta.get(REJECT_CODE_KEY, '')}: {exc.details()}"
                return "accepted"

            async def becomes(symbol: str, expected: str) -> bool:
                return await outcome(symbol) == expected

            for symbol in ("AAPL", "MSFT", "KO"):  # data flows, references are fresh
                await wait_for(lambda s=symbol: becomes(s, "accepted"), timeout=30, what=f"{symbol} accepted")

            vendor.publish(MarketEvent(0, "AAPL", STATUS, status=SymbolStatus.HALTED, reason="T1"))
            vendor.publish(MarketEvent(0, "MSFT", STATUS, status=SymbolStatus.PAUSED, reason="LUDP"))
            halted = "FAILED_PRECONDITION SYMBOL_HALTED: AAPL is halted by its market (T1: news pending)"
            await wait_for(lambda: becomes("AAPL", halted), timeout=10, what="AAPL refused as halted")
            paused = "FAILED_PRECONDITION SYMBOL_HALTED: MSFT is paused by its market (LUDP: Limit Up-Limit Down pause)"
            await wait_for(lambda: becomes("MSFT", paused), timeout=10, what="MSFT refused as paused")
            assert await outcome("KO") == "accepted"  # a halt is one symbol's

            vendor.publish(MarketEvent(0, "AAPL", STATUS, status=SymbolStatus.TRADING))
            await wait_for(lambda: becomes("AAPL", "accepted"), timeout=10, what="AAPL accepted after its resumption")
            assert await outcome("MSFT") == paused  # still paused: only AAPL resumed
    except BaseException:
        print(desk.logs())
        raise
    finally:
        await desk.stop()
        await vendor.stop()
