"""The risk gate ages a reference price from the market data's own time, not from when routing got round to reading
it: a real feeds service (replaying at 100x) on a real gRPC server, read by routing's own market-data consumer
(``RoutingService._consume_market_data``) that is busy for a while before it reads, as a loaded routing was.

Seen on a 20x day (var/sim-day, order sim2449bbf7-s-138237) and measured in a short run with a venue timeout:
routing's subscription fell up to 140 market seconds behind the feeds service while compliance's stayed within a
second. Routing stamped each reference with its own receipt, so prices two minutes old looked fresh and the gate
accepted 1,256 orders against them in ten market minutes (the verdict saw 8, where compliance lagged too)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from tests.integration.test_market_data_service import first_quote, make_desk, running_services
from tests.unit.desk_fixtures import D, default_limits
from tests.unit.desk_fixtures import make_desk as make_order_desk
from tradingdesk.core.clock import WallClock
from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.reject import Reject
from tradingdesk.oms.requests import NewOrder
from tradingdesk.risk.gate import RiskGate
from tradingdesk.routing.service import RoutingService
from tradingdesk.spec.domain import instruments_of

MAX_AGE_MS = 500
"""The gate's ``referenceMaxAgeMs`` here; the feeds service's clock is real time, as routing's."""


class BusyReader:
    """A real channel whose market-data stream routing reads only ``busy_s`` (real seconds) after subscribing, its
    loop busy elsewhere, and then one message only (still busy): what it reads has waited in the stream, as a loaded
    routing's did."""

    def __init__(self, channel: grpc.aio.Channel, busy_s: float) -> None:
        self.channel = channel
        self.busy_s = busy_s
        self.read = asyncio.Event()

    def unary_unary(self, *args: Any, **kwargs: Any) -> Any:
        return self.channel.unary_unary(*args, **kwargs)

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self.channel.stream_stream(*args, **kwargs)

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        return self.channel.stream_unary(*args, **kwargs)

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        inner = self.channel.unary_stream(*args, **kwargs)
        return lambda request, **kw: self._late(inner(request, **kw))

    async def _late(self, call: Any) -> AsyncIterator[Any]:
        await asyncio.sleep(self.busy_s)
        async for message in call:
            yield message
            self.read.set()
            await asyncio.Event().wait()  # busy again: nothing more is read


def order(client_id: str, price: int) -> NewOrder:
    return NewOrder(
        client_order_id=client_id,
        account="ACC",
        strategy="",
        symbol="AAPL",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=D("1"),
        price=price,
        tif=TimeInForce.DAY,
    )


async def read_late(busy_s: float) -> tuple[Any, Any]:
    """Routing's consumer reading a real feeds service's stream ``busy_s`` late; returns the order desk (its gate
    holding the references taken from that read) once it has read."""
    feeds_desk = make_desk()
    async with running_services() as start:
        _, running, stub = await start(feeds_desk, clock=WallClock())
        await first_quote(stub, "AAPL")  # the replay is under way: the subscription's snapshot has prices
        d = make_order_desk(venues=("xnys",), gate=RiskGate(default_limits(reference_max_age_ms=MAX_AGE_MS)))
        routing = SimpleNamespace(
            desk=feeds_desk,
            venues=d.venues,
            instruments={s: i for s, i in instruments_of(feeds_desk).items() if s in ("AAPL", "MSFT")},
            gate=d.gate,
            engine=d.engine,
            clock=WallClock(),
            _breaker_tripped=lambda trip: None,
        )
        async with grpc.aio.insecure_channel(running.address) as channel:
            busy = BusyReader(channel, busy_s)
            consumer = asyncio.create_task(RoutingService._consume_market_data(routing, busy))  # type: ignore[arg-type]
            try:
                await asyncio.wait_for(busy.read.wait(), 10)
                await asyncio.sleep(0)  # the batch read is applied in the same turn as it is read
                d.clock.set(time.time_ns())  # the order is checked now, on the same (real) clock
                return d, routing
            finally:
                consumer.cancel()
                await asyncio.gather(consumer, return_exceptions=True)


async def test_market_data_read_late_is_as_old_as_it_is() -> None:
    d, _ = await read_late(1.5)
    ref = d.gate.references["AAPL"]
    assert d.clock.now_ns() - ref.ts_ns > MAX_AGE_MS * 1_000_000  # aged from feeds' receipt, not routing's read
    with pytest.raises(Reject) as exc:
        d.engine.submit(order("late", ref.price))
    assert exc.value.code == "STALE_REFERENCE"
    assert "the reference price for AAPL is stale" in exc.value.message
    assert not d.engine.orders


async def test_market_data_read_promptly_is_fresh() -> None:
    d, _ = await read_late(0.0)
    ref = d.gate.references["AAPL"]
    assert d.engine.submit(order("prompt", ref.price)).order.status == OrderStatus.PENDING_NEW
