"""The per-symbol book: price-time priority, external liquidity ahead in the queue, prints, views."""

from __future__ import annotations

import random

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


# ---- ladders kept aside until the book is read (exact: the same book as applying every ladder at once) ----------


def test_only_the_last_of_several_ladders_shows() -> None:
    book = OrderBook("X")
    book.add("far", True, px("90"), q(1))  # a client order far from the ladders: they wait
    book.set_external([(px("99.99"), q(10))], [(px("100.01"), q(10))])
    book.set_external([(px("99.98"), q(20))], [(px("100.02"), q(30)), (px("100.03"), q(60))])
    assert book.depth(False, 5) == [(px("100.02"), q(30)), (px("100.03"), q(60))]
    assert book.depth(True, 5) == [(px("99.98"), q(20)), (px("90"), q(1))]
    assert book.external_qty(False, px("100.01")) == 0


def test_a_print_takes_its_size_from_a_waiting_ladder() -> None:
    book = OrderBook("X")
    book.add("far", True, px("90"), q(1))
    book.set_external([(px("99.99"), q(10))], [(px("100.01"), q(10)), (px("100.02"), q(20))])
    assert book.on_print(px("100.01"), q(4)) == []
    assert book.on_print(px("99.99"), q(25)) == []  # more than the level: it is gone
    assert book.best_ask() == (px("100.01"), q(6))
    assert book.best_bid() == (px("90"), q(1))
    assert summary(book.on_print(px("90"), q(3))) == [("far", px("90"), q(1))]


def test_a_smaller_size_at_a_client_order_caps_its_queue_even_if_a_larger_one_follows() -> None:
    book = OrderBook("X")
    book.set_external([], [(px("100"), q(20))])
    book.add("s", False, px("100"), q(10))
    book.set_external([], [(px("100"), q(5))])
    book.set_external([], [(px("100"), q(500))])
    assert book.queue_ahead("s") == q(5)
    book.set_external([], [(px("100.01"), q(50))])  # the external size left the client's level entirely
    book.set_external([], [(px("100"), q(50))])
    assert book.queue_ahead("s") == 0


def test_an_unchanged_ladder_leaves_the_book_as_it_was() -> None:
    book = OrderBook("X")
    ladder = ([(px("99.99"), q(10))], [(px("100.01"), q(10))])
    book.set_external(*ladder)
    book.add("s", False, px("100.01"), q(3))
    before = (book.depth(True, 5), book.depth(False, 5), book.queue_ahead("s"))
    book.set_external(*ladder)
    assert (book.depth(True, 5), book.depth(False, 5), book.queue_ahead("s")) == before


def _observed(book: OrderBook) -> tuple[object, ...]:
    return (
        book.depth(True, 50),
        book.depth(False, 50),
        sorted((o.order_id, o.qty, book.queue_ahead(o.order_id)) for o in book.orders()),
    )


def test_waiting_ladders_change_nothing_a_reader_can_see() -> None:
    """Random ladders, client orders, cancels, prints and takers on two books: one is read after every ladder (so
    none waits), the other only when the operations read it. They must say and hold the same all along."""
    for seed in range(20):
        rng = random.Random(seed)
        eager, lazy = OrderBook("X"), OrderBook("X")
        mid = 10_000
        for n in range(400):
            op, draws = rng.random(), rng.random()
            results = []
            for book in (eager, lazy):
                state = random.Random(draws)  # the same draws for both books
                if op < 0.5:
                    top = mid + state.randint(-3, 3)
                    bids = [(px(f"{(top - 1 - i) / 100:.2f}"), q(state.randint(0, 5) * (i + 1))) for i in range(3)]
                    asks = [(px(f"{(top + 1 + i) / 100:.2f}"), q(state.randint(0, 5) * (i + 1))) for i in range(3)]
                    book.set_external(bids, asks)
                    if book is eager:
                        book.best_bid()
                elif op < 0.65:
                    buy = state.random() < 0.5
                    price = px(f"{(mid + state.randint(-5, 5)) / 100:.2f}")
                    book.add(f"o{n}", buy, price, q(state.randint(1, 4)))
                elif op < 0.75:
                    ids = sorted(o.order_id for o in book.orders())
                    results.append(book.cancel(state.choice(ids)).order_id if ids else None)
                elif op < 0.95:
                    price = px(f"{(mid + state.randint(-6, 6)) / 100:.2f}")
                    results.append(summary(book.on_print(price, q(state.randint(1, 12)))))
                else:
                    limit = px(f"{(mid + state.randint(-4, 4)) / 100:.2f}")
                    results.append(summary(book.match(state.random() < 0.5, q(state.randint(1, 20)), limit)))
            mid += rng.randint(-1, 1)
            assert results[:1] == results[1:], seed
            if rng.random() < 0.1:
                assert _observed(eager) == _observed(lazy), seed
        assert _observed(eager) == _observed(lazy), seed


def test_a_ladder_may_reach_a_price_once_the_client_order_there_has_filled() -> None:
    for fill in ("taker", "print"):
        book = OrderBook("X")
        book.add("b", True, px("100"), q(5))
        book.set_external([], [(px("100"), q(10)), (px("100.01"), q(10))])
        assert book.best_ask() == (px("100.01"), q(10))  # it would lock the client bid: left out
        if fill == "taker":
            assert summary(book.match(False, q(5), px("100"))) == [("b", px("100"), q(5))]
        else:
            assert summary(book.on_print(px("99.99"), q(5))) == [("b", px("100"), q(5))]
        book.set_external([], [(px("100"), q(10)), (px("100.01"), q(10))])
        assert book.best_ask() == (px("100"), q(10)), fill
