"""The simulated venue end to end through its real listener interface, with time driven by hand."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.waiting import wait_for
from tradingdesk.core.clock import ManualClock
from tradingdesk.core.enums import OrderType, Side, TimeInForce
from tradingdesk.core.fixed import mul, parse_fixed, to_units
from tradingdesk.core.instruments import Instrument
from tradingdesk.core.orders import Fill
from tradingdesk.venues.base import VenueOrder
from tradingdesk.venues.faults import VenueFaultMode
from tradingdesk.venues.scheduling import LoopScheduler, ManualScheduler
from tradingdesk.venues.simulated import SimulatedVenue

TICK = parse_fixed("0.01")
SYM = "ACME"
LATENCY_US = 250


def px(text: str) -> int:
    return parse_fixed(text, allow_negative=True)


def q(n: int) -> int:
    return to_units(n)


class Recorder:
    """Records every venue callback in arrival order."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.fills: list[Fill] = []

    def on_venue_accepted(self, venue: str, order_id: str) -> None:
        self.events.append(("accepted", order_id))

    def on_venue_rejected(self, venue: str, order_id: str, reason: str) -> None:
        self.events.append(("rejected", order_id, reason))

    def on_venue_fill(self, fill: Fill) -> None:
        self.events.append(("fill", fill.order_id, fill.qty, fill.price, fill.liquidity))
        self.fills.append(fill)

    def on_venue_canceled(self, venue: str, order_id: str, reason: str) -> None:
        self.events.append(("canceled", order_id, reason))

    def on_venue_cancel_rejected(self, venue: str, order_id: str, reason: str) -> None:
        self.events.append(("cancel_rejected", order_id, reason))

    def on_venue_replaced(self, venue: str, old_order_id: str, new_order_id: str) -> None:
        self.events.append(("replaced", old_order_id, new_order_id))

    def on_venue_replace_rejected(self, venue: str, old_order_id: str, reason: str) -> None:
        self.events.append(("replace_rejected", old_order_id, reason))

    def kinds(self) -> list[str]:
        return [e[0] for e in self.events]

    def fills_of(self, order_id: str) -> list[Fill]:
        return [f for f in self.fills if f.order_id == order_id]


class Desk:
    """A venue with its recorder, scheduler and clock."""

    def __init__(self, **kw: Any) -> None:
        self.clock = ManualClock()
        self.sched = ManualScheduler(self.clock)
        self.rec = Recorder()
        params: dict[str, Any] = {"latency_us": LATENCY_US, "depth_levels": 0, "id_prefix": "SIM-X"}
        params.update(kw)
        self.venue = SimulatedVenue(
            "SIM",
            instruments={SYM: Instrument(SYM, TICK, q(1))},
            listener=self.rec,
            scheduler=self.sched,
            clock=self.clock,
            **params,
        )

    def quote(self, bid: str, bid_qty: int, ask: str, ask_qty: int) -> None:
        self.venue.on_quote(SYM, px(bid), q(bid_qty), px(ask), q(ask_qty), self.clock.now_ns())

    def send(
        self,
        oid: str,
        side: Side,
        qty: int,
        price: str | None = None,
        tif: TimeInForce = TimeInForce.DAY,
        symbol: str = SYM,
        qty_units: int | None = None,
    ) -> None:
        order_type = OrderType.MARKET if price is None else OrderType.LIMIT
        units = q(qty) if qty_units is None else qty_units
        limit = 0 if price is None else px(price)
        self.venue.submit(VenueOrder(oid, symbol, side, order_type, units, limit, tif))
        self.sched.run_all()


def order(oid: str, side: Side, qty: int, price: str, tif: TimeInForce = TimeInForce.DAY) -> VenueOrder:
    return VenueOrder(oid, SYM, side, OrderType.LIMIT, q(qty), px(price), tif)


def test_nothing_is_delivered_before_the_latency_has_passed() -> None:
    d = Desk()
    d.quote("99.99", 100, "100.01", 100)
    d.venue.submit(order("b", Side.BUY, 10, "99.99"))
    d.sched.run_until(0.000249)
    assert d.rec.events == []
    d.sched.run_until(0.000250)
    assert d.rec.events == [("accepted", "b")]

    d.venue.on_trade(SYM, px("99.98"), q(5), d.clock.now_ns())  # trades through the bid: fill
    d.sched.advance(0.000249)
    assert d.rec.kinds() == ["accepted"]
    d.sched.advance(0.000001)
    assert d.rec.kinds() == ["accepted", "fill"]


def test_marketable_order_fills_across_levels_with_distinct_exec_ids() -> None:
    d = Desk(depth_levels=2, taker_fee_per_unit=px("0.003"))
    d.quote("99.99", 10, "100.00", 10)  # asks: 100.00 x10, 100.01 x20, 100.02 x30
    d.send("m", Side.BUY, 35)
    fills = d.rec.fills_of("m")
    expected = [(px("100"), q(10)), (px("100.01"), q(20)), (px("100.02"), q(5))]
    assert [(f.price, f.qty) for f in fills] == expected
    assert sum(f.qty for f in fills) == q(35)
    assert len({f.exec_id for f in fills}) == 3
    assert all(f.liquidity == "T" and f.fee == mul(px("0.003"), f.qty) for f in fills)
    assert all(f.ts_ns == d.clock.now_ns() - LATENCY_US * 1000 for f in fills)  # stamped at the engine
    assert d.rec.kinds() == ["accepted", "fill", "fill", "fill"]
    assert d.venue.top_of_book(SYM).ask_qty == q(25)


def impact_of(qty: int) -> int:
    """Price paid above the touch by a market buy of ``qty`` against a fresh 1,000,000 level at 100."""
    d = Desk(impact_coefficient_bps=100)
    d.quote("99.99", 1_000_000, "100.00", 1_000_000)
    d.send("m", Side.BUY, qty)
    (fill,) = d.rec.fills_of("m")
    assert fill.qty == q(qty)
    return fill.price - px("100")


def test_square_root_impact_grows_with_size() -> None:
    # 1% of price for the whole level: 10,000 of 1,000,000 is sqrt(0.01) = 0.1 of that = 0.10.
    assert impact_of(10_000) == px("0.10")
    assert impact_of(40_000) == px("0.20")
    small, large = impact_of(3_000), impact_of(12_000)  # not perfect squares: tick rounding applies
    assert abs(large - 2 * small) <= 2 * TICK
    sizes = [1, 100, 1_000, 10_000, 100_000, 1_000_000]
    impacts = [impact_of(s) for s in sizes]
    assert impacts == sorted(impacts) and impacts[0] == TICK and impacts[-1] == px("1")


def test_impact_never_crosses_a_limit() -> None:
    d = Desk(impact_coefficient_bps=100)
    d.quote("99.99", 1_000_000, "100.00", 1_000_000)
    d.send("b", Side.BUY, 50_000, "100.05")  # unbounded impact would be 0.22
    (fill,) = d.rec.fills_of("b")
    assert fill.price == px("100.05") and fill.qty == q(50_000)
    d.send("s", Side.SELL, 50_000, "99.95")
    (fill,) = d.rec.fills_of("s")
    assert fill.price == px("99.95")


def test_queue_position_print_smaller_than_queue_fills_nothing_next_print_fills() -> None:
    d = Desk(maker_fee_per_unit=px("-0.002"))
    d.quote("99.99", 100, "100.01", 100)
    d.send("b", Side.BUY, 10, "99.99")
    assert d.venue.book(SYM).queue_ahead("b") == q(100)
    d.venue.on_trade(SYM, px("99.99"), q(60), d.clock.now_ns())
    d.sched.run_all()
    assert d.rec.fills == []
    assert d.venue.book(SYM).queue_ahead("b") == q(40)
    d.venue.on_trade(SYM, px("99.99"), q(44), d.clock.now_ns())  # 40 ahead, 4 excess fill us
    d.sched.run_all()
    (fill,) = d.rec.fills
    assert (fill.qty, fill.price, fill.liquidity) == (q(4), px("99.99"), "M")
    assert fill.fee == mul(px("-0.002"), q(4)) < 0  # rebate
    d.venue.on_trade(SYM, px("99.99"), q(100), d.clock.now_ns())
    d.sched.run_all()
    assert sum(f.qty for f in d.rec.fills) == q(10)
    assert d.venue.open_orders() == []


def test_ioc_remainder_is_canceled() -> None:
    d = Desk()
    d.quote("99.99", 10, "100.00", 10)
    d.send("i", Side.BUY, 25, "100.00", TimeInForce.IOC)
    assert d.rec.events == [("accepted", "i"), ("fill", "i", q(10), px("100"), "T"), ("canceled", "i", "IOC")]
    assert d.venue.open_orders() == []


def test_fok_is_all_or_nothing() -> None:
    d = Desk(depth_levels=1)
    d.quote("99.99", 10, "100.00", 10)  # 10 at 100.00, 20 at 100.01
    d.send("f1", Side.BUY, 25, "100.00", TimeInForce.FOK)
    assert d.rec.events == [("accepted", "f1"), ("canceled", "f1", "FOK")]
    assert d.venue.top_of_book(SYM).ask_qty == q(10)  # nothing was taken
    d.send("f2", Side.BUY, 25, "100.01", TimeInForce.FOK)
    assert sum(f.qty for f in d.rec.fills_of("f2")) == q(25)
    assert ("canceled", "f2", "FOK") not in d.rec.events


def test_market_order_without_liquidity_is_canceled_and_never_rests() -> None:
    d = Desk()
    d.send("m", Side.SELL, 5)
    assert d.rec.events == [("accepted", "m"), ("canceled", "m", "no liquidity")]
    d.quote("99.99", 3, "100.01", 3)
    d.send("m2", Side.SELL, 5)
    assert d.rec.kinds()[-3:] == ["accepted", "fill", "canceled"]
    assert d.venue.open_orders() == []


def test_rejects_unknown_symbol_and_off_grid_values() -> None:
    d = Desk()
    d.send("u", Side.BUY, 1, "100", symbol="NOPE")
    d.send("p", Side.BUY, 1, "100.005")
    d.send("l", Side.BUY, 0, "100", qty_units=px("1.5"))
    d.send("z", Side.BUY, 0, "100")
    assert d.rec.kinds() == ["rejected"] * 4
    assert "unknown symbol" in d.rec.events[0][2]
    assert "tick size" in d.rec.events[1][2]
    assert "lot size" in d.rec.events[2][2]


def test_orders_of_two_accounts_cross_at_maker_price_with_maker_rebate_and_taker_fee() -> None:
    """Two of the desk's accounts (two self-match groups) trade with each other; one account's two orders never
    do (tests/unit/test_self_match.py)."""
    d = Desk(maker_fee_per_unit=px("-0.002"), taker_fee_per_unit=px("0.003"))
    d.venue.submit(VenueOrder("s", SYM, Side.SELL, OrderType.LIMIT, q(10), px("100.00"), TimeInForce.DAY, "A1", "A1"))
    d.venue.submit(VenueOrder("b", SYM, Side.BUY, OrderType.LIMIT, q(4), px("100.05"), TimeInForce.DAY, "A2", "A2"))
    d.sched.run_all()
    maker, taker = d.rec.fills
    assert (maker.order_id, maker.liquidity, maker.price, maker.side) == ("s", "M", px("100"), Side.SELL)
    assert (taker.order_id, taker.liquidity, taker.price, taker.side) == ("b", "T", px("100"), Side.BUY)
    assert maker.fee == -mul(px("0.002"), q(4)) and taker.fee == mul(px("0.003"), q(4))
    assert maker.exec_id != taker.exec_id
    (rest,) = d.venue.open_orders()
    assert rest.order_id == "s" and rest.qty == q(6)


def test_replace_priority_rules() -> None:
    d = Desk()
    d.send("a", Side.SELL, 10, "100.00")
    d.send("b", Side.SELL, 10, "100.00")
    book = d.venue.book(SYM)

    d.venue.replace("a", order("a2", Side.SELL, 6, "100.00"))  # smaller: keeps its place
    d.sched.run_all()
    assert d.rec.events[-1] == ("replaced", "a", "a2")
    assert book.queue_ahead("a2") == 0 and book.queue_ahead("b") == q(6)

    d.venue.replace("a2", order("a3", Side.SELL, 8, "100.00"))  # larger: to the back
    d.sched.run_all()
    assert book.queue_ahead("b") == 0 and book.queue_ahead("a3") == q(10)

    d.venue.replace("b", order("b2", Side.SELL, 10, "100.01"))  # new price: behind everything there
    d.sched.run_all()
    assert book.queue_ahead("b2") == 0 and book.best_ask() == (px("100"), q(8))

    d.send("t", Side.BUY, 9, "100.01")
    assert [(f.order_id, f.qty) for f in d.rec.fills if f.liquidity == "M"] == [("a3", q(8)), ("b2", q(1))]


def test_replace_into_a_crossing_price_matches_after_the_replace_ack() -> None:
    d = Desk()
    d.quote("99.98", 10, "100.02", 10)
    d.send("b", Side.BUY, 5, "99.98")
    d.venue.replace("b", order("b2", Side.BUY, 5, "100.02"))
    d.sched.run_all()
    assert d.rec.events[-2:] == [("replaced", "b", "b2"), ("fill", "b2", q(5), px("100.02"), "T")]


def test_unknown_or_finished_orders_are_refused_for_cancel_and_replace() -> None:
    d = Desk()
    d.venue.cancel("ghost")
    d.venue.replace("ghost", order("ghost2", Side.BUY, 1, "99"))
    d.send("b", Side.BUY, 1, "99")
    d.venue.cancel("b")
    d.venue.cancel("b")
    d.sched.run_all()
    assert d.rec.events == [
        ("cancel_rejected", "ghost", "unknown order"),
        ("replace_rejected", "ghost", "unknown order"),
        ("accepted", "b"),
        ("canceled", "b", "canceled"),
        ("cancel_rejected", "b", "unknown order"),
    ]


def test_quote_refresh_restores_consumed_external_liquidity() -> None:
    d = Desk(depth_levels=1)
    d.quote("99.99", 10, "100.00", 10)
    d.send("m", Side.BUY, 10)
    tob = d.venue.top_of_book(SYM)
    assert (tob.ask_price, tob.ask_qty) == (px("100.01"), q(20))
    d.quote("99.99", 10, "100.00", 10)
    tob = d.venue.top_of_book(SYM)
    assert (tob.bid_price, tob.bid_qty, tob.ask_price, tob.ask_qty) == (px("99.99"), q(10), px("100"), q(10))


def test_a_quote_with_less_size_at_a_client_order_caps_its_queue_though_more_size_follows() -> None:
    d = Desk()
    d.quote("99.99", 10, "100.00", 10)
    d.send("s", Side.SELL, 4, "100.00")  # behind the 10 external
    d.quote("99.99", 10, "100.00", 3)
    d.quote("99.98", 10, "100.00", 50)
    d.venue.on_trade(SYM, px("100.00"), q(5), d.clock.now_ns())
    d.sched.run_all()
    assert [(f.qty, f.price) for f in d.rec.fills_of("s")] == [(q(2), px("100.00"))]


def test_quotes_between_two_reads_leave_the_book_the_last_one_sets() -> None:
    d = Desk(depth_levels=1)
    d.send("far", Side.BUY, 1, "90.00")
    for bid, ask in (("99.97", "100.02"), ("99.99", "100.01"), ("99.98", "100.00")):
        d.quote(bid, 10, ask, 20)
    d.venue.on_trade(SYM, px("100.00"), q(5), d.clock.now_ns())  # takes 5 of the last quote's 20 at 100.00
    book = d.venue.book(SYM)
    assert book.depth(False, 5) == [(px("100.00"), q(15)), (px("100.01"), q(40))]
    assert book.depth(True, 5) == [(px("99.98"), q(10)), (px("99.97"), q(20)), (px("90.00"), q(1))]


def test_top_of_book_combines_external_and_client_liquidity() -> None:
    d = Desk()
    d.quote("99.99", 10, "100.01", 10)
    d.send("b", Side.BUY, 3, "99.99")
    d.send("s", Side.SELL, 4, "100.00")
    tob = d.venue.top_of_book(SYM)
    assert (tob.bid_price, tob.bid_qty, tob.ask_price, tob.ask_qty) == (px("99.99"), q(13), px("100"), q(4))
    assert d.venue.top_of_book("NOPE").bid_price == 0


def test_mass_cancel_ten_thousand_resting_orders() -> None:
    d = Desk()
    d.quote("90.00", 100, "110.00", 100)
    for i in range(10_000):
        side = Side.BUY if i % 2 else Side.SELL
        price = 95 * 10**9 - (i % 50) * TICK if side == Side.BUY else 105 * 10**9 + (i % 50) * TICK
        d.venue.submit(VenueOrder(f"o{i}", SYM, side, OrderType.LIMIT, q(1), price, TimeInForce.GTC, "acct"))
    d.sched.run_all()
    assert len(d.venue.open_orders()) == 10_000
    start = time.perf_counter()
    n = d.venue.mass_cancel()
    elapsed_ms = (time.perf_counter() - start) * 1000
    print(f"mass_cancel of {n} resting orders took {elapsed_ms:.2f} ms")
    assert n == 10_000 and d.venue.open_orders() == []
    assert d.rec.kinds().count("canceled") == 0  # acks travel with the latency
    d.sched.run_all()
    assert d.rec.kinds().count("canceled") == 10_000
    tob = d.venue.top_of_book(SYM)
    assert (tob.bid_price, tob.ask_price) == (px("90"), px("110"))  # external liquidity untouched


def test_mass_cancel_with_predicate() -> None:
    d = Desk()
    d.send("b1", Side.BUY, 1, "99")
    d.send("s1", Side.SELL, 1, "101")
    assert d.venue.mass_cancel(lambda o: o.side == Side.BUY) == 1
    d.sched.run_all()
    assert d.rec.events[-1] == ("canceled", "b1", "mass cancel")
    assert [o.order_id for o in d.venue.open_orders()] == ["s1"]
    d.venue.cancel("b1")
    d.sched.run_all()
    assert d.rec.kinds()[-1] == "cancel_rejected"


@pytest.mark.parametrize("bad", ["crossed", "locked"])
def test_crossed_or_locked_quotes_are_ignored(bad: str) -> None:
    d = Desk()
    d.quote("99.99", 10, "100.01", 10)
    d.quote("100.02" if bad == "crossed" else "100.01", 10, "100.01", 10)
    tob = d.venue.top_of_book(SYM)
    assert (tob.bid_price, tob.ask_price) == (px("99.99"), px("100.01"))


def test_manual_scheduler_runs_in_time_then_fifo_order_and_moves_the_clock() -> None:
    clock = ManualClock(start_ns=0)
    sched = ManualScheduler(clock)
    ran: list[tuple[str, int]] = []
    sched.call_later(0.002, lambda: ran.append(("late", clock.now_ns())))
    sched.call_later(0.001, lambda: ran.append(("first", clock.now_ns())))
    sched.call_later(0.001, lambda: ran.append(("second", clock.now_ns())))
    sched.call_later(0.001, lambda: ran.append(("cancelled", 0))).cancel()
    assert sched.run_until(0.0015) == 2
    assert ran == [("first", 1_000_000), ("second", 1_000_000)]
    assert clock.now_ns() == 1_500_000
    assert sched.run_all() == 1 and ran[-1] == ("late", 2_000_000)


class LifoTies:
    """A legal scheduler that runs callbacks due at the same time newest first."""

    def __init__(self) -> None:
        self.queue: list[tuple[float, Callable[..., Any], tuple[Any, ...]]] = []

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> None:
        self.queue.append((delay, callback, args))

    def run_all(self) -> None:
        while self.queue:
            batch, self.queue = self.queue, []
            for _, callback, args in reversed(batch):
                callback(*args)


def test_replies_keep_engine_order_even_if_the_scheduler_reorders_ties() -> None:
    clock, rec, sched = ManualClock(), Recorder(), LifoTies()
    venue = SimulatedVenue(
        "SIM",
        instruments={SYM: Instrument(SYM, TICK, q(1))},
        listener=rec,
        scheduler=sched,
        clock=clock,
        latency_us=100,
    )
    venue.submit(order("a", Side.SELL, 5, "100"))
    venue.submit(order("b", Side.BUY, 5, "100"))
    venue.cancel("a")
    sched.run_all()
    assert rec.kinds() == ["accepted", "accepted", "fill", "fill", "cancel_rejected"]


async def test_loop_scheduler_delivers_on_the_event_loop_after_the_latency() -> None:
    clock, rec = ManualClock(), Recorder()
    instruments = {SYM: Instrument(SYM, TICK, q(1))}
    venue = SimulatedVenue(
        "SIM", instruments=instruments, listener=rec, scheduler=LoopScheduler(), clock=clock, latency_us=2_000
    )
    venue.submit(order("a", Side.SELL, 5, "100"))
    assert rec.events == []
    await asyncio.sleep(0)  # one turn of the loop: not yet, the venue's latency has not passed
    assert rec.events == []
    await wait_for(lambda: rec.events, 5, 0.001, what="the venue's answer")
    assert rec.events == [("accepted", "a")]


def test_a_faulted_venue_rejects_or_is_away_and_recovers() -> None:
    d = Desk()
    d.quote("99.99", 100, "100.01", 100)
    d.send("rest", Side.BUY, 10, "99.98")
    d.venue.fault = VenueFaultMode.REJECT_ALL
    d.send("r1", Side.BUY, 10, "99.98")
    d.venue.replace("rest", order("rest-2", Side.BUY, 5, "99.97"))
    d.sched.run_all()
    rejects = "venue SIM rejects every order (venue fault)"
    assert d.rec.events[1:] == [("rejected", "r1", rejects), ("replace_rejected", "rest", rejects)]
    assert d.venue.connected

    d.venue.fault = VenueFaultMode.AWAY
    assert not d.venue.connected
    d.venue.cancel("rest")
    d.venue.reduce("rest", q(5), "restated")  # left alone: nothing reaches a venue that is away
    d.sched.run_all()
    assert d.rec.events[3:] == [("cancel_rejected", "rest", "venue SIM is away (disconnected)")]
    assert [o.order_id for o in d.venue.open_orders()] == ["rest"]  # still resting there

    d.venue.fault = VenueFaultMode.NONE
    d.venue.cancel("rest")
    d.sched.run_all()
    assert d.rec.events[-1] == ("canceled", "rest", "canceled")


def test_a_silent_venue_takes_everything_answers_nothing_then_everything_in_order() -> None:
    d = Desk()
    d.quote("99.99", 100, "100.01", 100)
    d.send("rest", Side.BUY, 10, "99.98")
    d.venue.fault = VenueFaultMode.TIMEOUT
    assert d.venue.connected and d.venue.silent  # routing still sends it orders: it looks up
    d.send("cross", Side.BUY, 5, "100.01")  # trades against the book at once
    d.venue.cancel("rest")
    d.sched.run_all()
    assert d.rec.events == [("accepted", "rest")], "nothing leaves a silent venue"
    assert d.venue.open_orders() == [], "but it carried the cancel out"

    d.venue.fault = VenueFaultMode.NONE
    d.sched.run_all()
    assert [e[:2] for e in d.rec.events[1:]] == [("accepted", "cross"), ("fill", "cross"), ("canceled", "rest")]
