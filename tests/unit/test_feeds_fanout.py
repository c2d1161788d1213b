"""Subscriber buffers: bounded, conflating on overflow, recovering when the reader catches up."""

from __future__ import annotations

import asyncio

import pytest

from tradingdesk.feeds import messages
from tradingdesk.feeds.fanout import Fanout, Subscriber
from tradingdesk.v1 import market_data_pb2 as pb


def q(symbol: str, seq: int) -> pb.MarketDataEvent:
    return pb.MarketDataEvent(quote=pb.Quote(symbol=symbol, seq=seq))


def t(symbol: str, seq: int) -> pb.MarketDataEvent:
    return pb.MarketDataEvent(trade=pb.Trade(symbol=symbol, seq=seq))


async def drain(sub: Subscriber) -> list[pb.MarketDataEvent]:
    out = []
    while sub.queued or sub.stats().pending_quotes:
        event = await sub.get()
        assert event is not None
        out.append(event)
    return out


async def test_normal_delivery_is_in_order() -> None:
    sub = Subscriber(bound=10)
    sub.push_quote("AAPL", q("AAPL", 1))
    sub.push_trade(t("AAPL", 2))
    sub.push_quote("MSFT", q("MSFT", 3))
    got = await drain(sub)
    assert [e.quote.seq or e.trade.seq for e in got] == [1, 2, 3]
    assert not sub.conflating and sub.stats().delivered == 3


async def test_overflow_conflates_quotes_and_drops_trades_within_the_bound() -> None:
    sub = Subscriber(bound=4)
    for seq in range(1, 5):
        sub.push_quote("AAPL", q("AAPL", seq))
    assert not sub.conflating
    for seq in range(5, 105):  # the reader is asleep; 100 more updates
        sub.push_quote("AAPL" if seq % 2 else "MSFT", q("AAPL" if seq % 2 else "MSFT", seq))
        sub.push_trade(t("AAPL", 1000 + seq))
        assert sub.queued <= 4 and sub.stats().pending_quotes <= 2
    stats = sub.stats()
    assert stats.conflating and stats.conflations == 1
    assert stats.dropped_trades == 100 and stats.conflated_quotes == 98
    got = await drain(sub)
    # the four queued quotes first, then the latest quote of each symbol
    assert [e.quote.seq for e in got] == [1, 2, 3, 4, 103, 104]
    assert got[-2].quote.symbol == "AAPL" and got[-1].quote.symbol == "MSFT"


async def test_conflation_keeps_publish_order_and_bounds_pending_trades() -> None:
    sub = Subscriber(bound=3)
    for seq in (1, 2, 3):
        sub.push_quote("AAPL", q("AAPL", seq))
    sub.push_quote("MSFT", q("MSFT", 4))  # overflow: conflating from here on
    assert [(await sub.get()).quote.seq for _ in range(2)] == [1, 2]  # type: ignore[union-attr]
    sub.push_trade(t("AAPL", 5))  # room for trades again: queue (1) + pending trades (0) < 3
    sub.push_quote("AAPL", q("AAPL", 6))
    sub.push_trade(t("AAPL", 7))
    sub.push_trade(t("AAPL", 8))  # queue (1) + pending trades (2) = bound: dropped
    sub.push_quote("MSFT", q("MSFT", 9))  # replaces seq 4 and moves behind the trades
    sub.push_quote("AAPL", q("AAPL", 10))  # replaces seq 6
    stats = sub.stats()
    assert (stats.queued, stats.pending_quotes, stats.pending_trades, stats.dropped_trades) == (1, 2, 2, 1)
    got = await drain(sub)
    assert [e.quote.seq or e.trade.seq for e in got] == [3, 5, 7, 9, 10]  # sequence numbers only increase


async def test_caught_up_subscriber_returns_to_normal_delivery() -> None:
    sub = Subscriber(bound=2)
    for seq in range(1, 6):
        sub.push_quote("AAPL", q("AAPL", seq))
    assert sub.conflating
    await drain(sub)
    waiter = asyncio.create_task(sub.get())  # nothing left: the reader waits and conflation ends
    await asyncio.sleep(0)
    assert not sub.conflating
    sub.push_trade(t("AAPL", 6))
    sub.push_quote("AAPL", q("AAPL", 7))
    first = await asyncio.wait_for(waiter, 1)
    assert first is not None and first.trade.seq == 6
    assert (await sub.get()).quote.seq == 7  # type: ignore[union-attr]


async def test_close_wakes_the_reader_and_ends_the_stream() -> None:
    sub = Subscriber(bound=2)
    waiter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    sub.close()
    assert await asyncio.wait_for(waiter, 1) is None
    sub.push_quote("AAPL", q("AAPL", 1))
    assert await sub.get() is None


def test_bound_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Subscriber(bound=0)


def test_fanout_registers_by_symbol_and_removes_without_mutating_published_lists() -> None:
    fanout = Fanout(["AAPL", "MSFT"])
    a, b = Subscriber(4), Subscriber(4)
    fanout.add(a, ["AAPL", "MSFT"])
    fanout.add(b, ["AAPL"])
    listeners = fanout.by_symbol["AAPL"]
    assert listeners == [a, b] and fanout.by_symbol["MSFT"] == [a]
    fanout.remove(a)
    assert listeners == [a, b]  # a publisher iterating the old list is unaffected
    assert fanout.by_symbol["AAPL"] == [b] and fanout.by_symbol["MSFT"] == []
    fanout.close_all()
    assert b.closed and fanout.subscribers() == []


async def test_batches_take_everything_waiting_in_order_up_to_the_limit() -> None:
    sub = Subscriber(bound=3)
    for seq in range(1, 4):
        sub.push_quote("AAPL" if seq % 2 else "MSFT", q("AAPL" if seq % 2 else "MSFT", seq))
    sub.push_quote("AAPL", q("AAPL", 4))  # overflow: conflating from here
    sub.push_trade(t("KO", 5))  # no room left within the bound: dropped
    first = await sub.get_batch(2)
    assert [e.quote.seq for e in first] == [1, 2]
    rest = await sub.get_batch(100)
    assert [e.quote.seq or e.trade.seq for e in rest] == [3, 4]
    assert sub.stats().delivered == 4 and sub.stats().dropped_trades == 1
    waiting = asyncio.create_task(sub.get_batch(100))
    await asyncio.sleep(0)
    assert not waiting.done() and not sub.conflating  # caught up: back to normal delivery, waiting
    sub.push_trade(t("KO", 6))
    assert [e.trade.seq for e in await waiting] == [6]
    sub.close()
    assert await sub.get_batch(100) == []


def test_encoded_events_framed_together_are_a_market_data_batch() -> None:
    """SubscribeBatches frames the shared encoded events instead of building a message per subscriber."""
    big = pb.MarketDataEvent(quote=pb.Quote(symbol="AAPL", feed="f" * 200))  # a two-byte length
    huge = pb.MarketDataEvent(trade=pb.Trade(symbol="MSFT", feed="f" * 20_000))  # a three-byte length
    events = [q("AAPL", 1), t("MSFT", 2), big, pb.MarketDataEvent(), huge]
    encoded = messages.encode_batch([e.SerializeToString() for e in events])
    assert pb.MarketDataBatch.FromString(encoded) == pb.MarketDataBatch(events=events)
    assert encoded == pb.MarketDataBatch(events=events).SerializeToString()
    assert messages.encode_batch([]) == b""
