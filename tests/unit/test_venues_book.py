"""The per-symbol book: price-time priority, external liquidity ahead in the queue, prints, views."""

from __future__ import annotations

from tradingdesk.core.fixed import parse_fixed, to_units
from tradingdesk.venues.book import Execution, OrderBook


def px(text: str) -> int:
    return parse_fixed(text)


def q(n: int) -> int:
    return to_units(n)


def summary(execs: list[Execution]) -> list[tuple[str | None, int, int]]:
    """(maker id or None for external, price, qty) per execution."""
    return [(e.maker.order_id if e.maker else None, e.price, e.qty) for e in execs]


def test_price_then_time_priority() -> None:
    book = OrderBook("X")
    book.add("a", False, px("101"), q(10))
    book.add("b", False, px("100"), q(10))
    book.add("c", False, px("100"), q(10))
    execs = book.match(True, q(25), px("101"))
    assert summary(execs) == [("b", px("100"), q(10)), ("c", px("100"), q(10)), ("a", px("101"), q(5))]
    assert book.best_ask() == (px("101"), q(5))
    rest = book.get("a")
    assert "b" not in book and "c" not in book and rest is not None and rest.qty == q(5)


def test_limit_stops_matching_and_market_walks_all_levels() -> None:
    book = OrderBook("X")
    book.add("a", True, px("99"), q(10))
    book.add("b", True, px("98"), q(10))
    assert summary(book.match(False, q(30), px("99"))) == [("a", px("99"), q(10))]
    assert book.best_bid() == (px("98"), q(10))
    assert summary(book.match(False, q(30), None)) == [("b", px("98"), q(10))]
    assert book.best_bid() is None and len(book) == 0


def test_cancel_removes_level_and_unknown_is_none() -> None:
    book = OrderBook("X")
    book.add("a", True, px("99"), q(1))
    book.add("b", True, px("98"), q(1))
    assert book.cancel("a") is not None
    assert book.best_bid() == (px("98"), q(1))
    assert book.cancel("a") is None
    assert book.cancel("nope") is None


def test_reduce_keeps_priority_and_can_rename() -> None:
    book = OrderBook("X")
    book.add("a", False, px("100"), q(10))
    book.add("b", False, px("100"), q(10))
    book.reduce("a", q(4), new_id="a2")
    assert "a" not in book and book.queue_ahead("b") == q(4)
    execs = book.match(True, q(6), px("100"))
    assert summary(execs) == [("a2", px("100"), q(4)), ("b", px("100"), q(2))]


def test_client_order_sits_behind_external_size() -> None:
    book = OrderBook("X")
    book.set_external([(px("99.99"), q(100))], [(px("100.01"), q(50))])
    book.add("s", False, px("100.01"), q(10))
    assert book.queue_ahead("s") == q(50)
    assert book.best_ask() == (px("100.01"), q(60))
    execs = book.match(True, q(55), px("100.01"))
    # external size is reported as one execution with the level size it was taken from (for impact)
    assert execs[0] == Execution(px("100.01"), q(50), None, q(50))
    assert summary(execs[1:]) == [("s", px("100.01"), q(5))]


def test_external_added_after_a_client_order_queues_behind_it() -> None:
    book = OrderBook("X")
    book.set_external([], [(px("100"), q(20))])
    book.add("s", False, px("100"), q(10))
    book.set_external([], [(px("100"), q(500))])  # size grew: newcomers join the back
    assert book.queue_ahead("s") == q(20)
    book.set_external([], [(px("100"), q(5))])  # size shrank: it left from ahead of us
    assert book.queue_ahead("s") == q(5)
    execs = book.match(True, q(12), None)
    assert summary(execs) == [(None, px("100"), q(5)), ("s", px("100"), q(7))]


def test_print_advances_queue_then_fills() -> None:
    book = OrderBook("X")
    book.set_external([(px("100"), q(30))], [])
    book.add("b", True, px("100"), q(10))
    assert book.on_print(px("100"), q(20)) == []
    assert book.queue_ahead("b") == q(10)
    assert book.external_qty(True, px("100")) == q(10)
    assert summary(book.on_print(px("100"), q(15))) == [("b", px("100"), q(5))]
    rest = book.get("b")
    assert book.queue_ahead("b") == 0 and rest is not None and rest.qty == q(5)


def test_print_through_fills_at_resting_price_best_first_up_to_print_size() -> None:
    book = OrderBook("X")
    book.set_external([(px("100"), q(1000))], [])
    book.add("hi", True, px("100.02"), q(5))
    book.add("lo", True, px("100.01"), q(5))
    execs = book.on_print(px("100"), q(7))
    assert summary(execs) == [("hi", px("100.02"), q(5)), ("lo", px("100.01"), q(2))]
    assert book.on_print(px("100.05"), q(100)) == []  # above a bid: not through


def test_quote_does_not_cross_resting_client_orders() -> None:
    book = OrderBook("X")
    book.add("b", True, px("100.00"), q(10))
    asks = [(px("99.99"), q(10)), (px("100.00"), q(20)), (px("100.01"), q(30))]
    book.set_external([(px("99.98"), q(10))], asks)
    assert book.best_ask() == (px("100.01"), q(30))
    assert book.best_bid() == (px("100.00"), q(10))


def test_refresh_restores_consumed_external_and_drops_stale_levels() -> None:
    book = OrderBook("X")
    book.set_external([], [(px("100"), q(10)), (px("100.01"), q(20))])
    book.match(True, q(10), None)
    assert book.best_ask() == (px("100.01"), q(20))
    book.set_external([], [(px("100"), q(10))])
    assert book.depth(False, 5) == [(px("100"), q(10))]


def test_available_and_depth_combine_external_and_clients() -> None:
    book = OrderBook("X")
    book.set_external([], [(px("100"), q(10)), (px("100.01"), q(20))])
    book.add("s", False, px("100.01"), q(5))
    assert book.depth(False, 2) == [(px("100"), q(10)), (px("100.01"), q(25))]
    assert book.available(True, q(100), px("100")) == q(10)
    assert book.available(True, q(100), None) == q(35)
    assert book.available(True, q(12), None) >= q(12)


def test_remove_where_is_one_pass_and_selective() -> None:
    book = OrderBook("X")
    for i in range(100):
        book.add(f"o{i}", i % 2 == 0, px("99") if i % 2 == 0 else px("101"), q(1), ref=i)
    removed = book.remove_where(lambda r: r.ref % 4 == 0)
    assert len(removed) == 25 and len(book) == 75
    assert book.best_bid() == (px("99"), q(25))
    assert len(book.remove_where()) == 75
    assert book.best_bid() is None and book.best_ask() is None
