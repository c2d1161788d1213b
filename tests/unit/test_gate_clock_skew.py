"""The risk gate under a skewed routing clock: a clock that steps either way fails closed, never open.

Routing stamps each reference price with its own clock when the tick arrives, so a steady offset cancels out;
what a failing NTP does is step the clock. Forward, every reference looks older (refused as stale until ticks
arrive again); back, references would look younger than they are, letting stale data pass for fresh: the gate
notices the clock reading earlier than an earlier check and treats every reference as of unknown age until
its symbol's next tick."""

from __future__ import annotations

import pytest

from tests.unit.desk_fixtures import D, make_desk
from tradingdesk.core.clock import NS_PER_MS, OffsetClock
from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.reject import Reject
from tradingdesk.oms.requests import NewOrder

SECOND = 1_000_000_000


def order(client_id: str) -> NewOrder:
    return NewOrder(
        client_order_id=client_id,
        account="ACC",
        strategy="",
        symbol="AAPL",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=D("10"),
        price=D("100.00"),
        tif=TimeInForce.DAY,
    )


def skewed_desk():
    d = make_desk(venues=("xnys",))
    routing_clock = OffsetClock(d.clock)
    d.engine.clock = routing_clock
    d.gate.on_trade("AAPL", D("100.00"), routing_clock.now_ns())  # stamped on arrival by routing's clock
    return d, routing_clock


def refusal(d, req: NewOrder) -> tuple[str, str]:
    with pytest.raises(Reject) as exc:
        d.engine.submit(req)
    return exc.value.code, exc.value.message


def test_a_clock_stepped_back_does_not_make_stale_data_look_fresh() -> None:
    d, routing_clock = skewed_desk()
    d.clock.advance(6 * SECOND)  # the feed went quiet: the reference is 6 s old (the limit is 5 s)
    assert "is stale (6000 ms old)" in refusal(d, order("c1"))[1]
    routing_clock.offset_ns = -4 * SECOND  # the clock steps back 4 s: the reference would look 2 s old
    code, message = refusal(d, order("c2"))
    assert code == "STALE_REFERENCE"
    assert (
        message
        == "the clock stepped back since the reference price for AAPL arrived: its age is unknown until the next tick"
    )
    d.clock.advance(3 * SECOND)  # still no tick: its age stays unknown, however the clock moves on
    assert "stepped back" in refusal(d, order("c3"))[1]
    assert not d.engine.orders
    d.gate.on_trade("AAPL", D("100.00"), routing_clock.now_ns())  # the next tick, on the new timeline
    assert d.engine.submit(order("c4")).order.status == OrderStatus.PENDING_NEW
    d.clock.advance(6 * SECOND)  # and it ages on the new timeline like any other
    assert "is stale (6000 ms old)" in refusal(d, order("c5"))[1]


def test_a_small_step_back_is_noise_not_a_step() -> None:
    d, routing_clock = skewed_desk()
    assert d.engine.submit(order("c1")).order.status == OrderStatus.PENDING_NEW
    routing_clock.offset_ns = -NS_PER_MS // 2
    assert d.engine.submit(order("c2")).order.status == OrderStatus.PENDING_NEW


def test_a_reference_stamped_ahead_of_the_clock_is_refused() -> None:
    d, routing_clock = skewed_desk()
    routing_clock.offset_ns = -2 * SECOND  # stepped back before any order was checked
    code, message = refusal(d, order("c1"))
    assert code == "STALE_REFERENCE"
    assert "stamped 2000 ms ahead of the clock: the clock stepped back" in message
    routing_clock.offset_ns = 0
    assert d.engine.submit(order("c2")).order.status == OrderStatus.PENDING_NEW


def test_a_clock_stepped_forward_refuses_until_fresh_data_arrives() -> None:
    d, routing_clock = skewed_desk()
    assert d.engine.submit(order("ok")).order.status == OrderStatus.PENDING_NEW
    routing_clock.offset_ns = 6_000 * NS_PER_MS
    code, message = refusal(d, order("c1"))
    assert code == "STALE_REFERENCE" and "is stale (6000 ms old)" in message
    d.gate.on_trade("AAPL", D("100.00"), routing_clock.now_ns())  # the next tick, stamped by the skewed clock
    assert d.engine.submit(order("c2")).order.status == OrderStatus.PENDING_NEW
