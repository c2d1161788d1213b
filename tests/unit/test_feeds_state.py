"""The market state: last quote/trade with receive times, staleness, feed precedence, snapshots."""

from __future__ import annotations

from tradingdesk.feeds.events import QUOTE, TRADE, FeedMessage, MarketEvent
from tradingdesk.feeds.state import FeedInfo, MarketState

MS = 10**6
T0 = 1_700_000_000 * 10**9
PRIMARY = FeedInfo("vendor-a", 0, 5_000 * MS)
BACKUP = FeedInfo("vendor-b", 1, 5_000 * MS)


def quote(seq: int, bid: int = 100, symbol: str = "AAPL") -> FeedMessage:
    return FeedMessage("A", seq, T0 + seq, MarketEvent(seq, symbol, QUOTE, bid, 10, bid + 1, 20))


def trade(seq: int, price: int = 100, symbol: str = "AAPL") -> FeedMessage:
    return FeedMessage("A", seq, T0 + seq, MarketEvent(seq, symbol, TRADE, price=price, qty=5))


def test_keeps_the_last_quote_and_trade_with_receive_times() -> None:
    state = MarketState(["AAPL", "MSFT"])
    assert state.apply(PRIMARY, quote(1, 100), T0 + 10) is not None
    assert state.apply(PRIMARY, trade(2, 101), T0 + 20) is not None
    assert state.apply(PRIMARY, quote(3, 102), T0 + 30) is not None
    sym = state.get("AAPL")
    assert sym is not None and sym.quote is not None and sym.trade is not None
    assert (sym.quote.seq, sym.quote.event.bid_price, sym.quote_rx_ns) == (3, 102, T0 + 30)
    assert (sym.trade.seq, sym.trade.event.price, sym.trade_rx_ns) == (2, 101, T0 + 20)
    assert sym.updated_ns == T0 + 30 and sym.feed is PRIMARY


def test_unknown_symbols_are_ignored() -> None:
    state = MarketState(["AAPL"])
    assert state.apply(PRIMARY, quote(1, symbol="ZZZ"), T0) is None
    assert "ZZZ" not in state and state.get("ZZZ") is None


def test_staleness_uses_the_feed_bound_or_the_given_one() -> None:
    state = MarketState(["AAPL", "MSFT"])
    state.apply(PRIMARY, quote(1), T0)
    assert not state.is_stale("AAPL", T0 + 5_000 * MS)
    assert state.is_stale("AAPL", T0 + 5_000 * MS + 1)
    assert state.is_stale("AAPL", T0 + 2 * MS, max_age_ns=MS)
    assert state.is_stale("MSFT", T0)  # no data is never fresh
    assert state.is_stale("NOPE", T0)


def test_preferred_feed_wins_and_backup_takes_over_only_when_it_is_stale() -> None:
    state = MarketState(["AAPL"])
    assert state.apply(PRIMARY, quote(1, 100), T0) is not None
    assert state.apply(BACKUP, quote(1, 200), T0 + MS) is None  # primary is live
    assert state.apply(BACKUP, quote(2, 201), T0 + 5_001 * MS) is not None  # primary silent too long
    sym = state.get("AAPL")
    assert sym is not None and sym.quote is not None
    assert sym.feed is BACKUP and sym.quote.event.bid_price == 201
    assert state.apply(PRIMARY, quote(7, 103), T0 + 5_002 * MS) is not None  # primary back: it wins at once
    assert sym.feed is PRIMARY and sym.switches == 3
    assert state.apply(BACKUP, quote(3, 202), T0 + 5_003 * MS) is None


def test_a_late_recovered_quote_never_replaces_a_newer_one_but_a_late_trade_is_published() -> None:
    state = MarketState(["AAPL"])
    state.apply(PRIMARY, quote(5, 105), T0)
    state.apply(PRIMARY, trade(6, 106), T0)
    assert state.apply(PRIMARY, quote(4, 104), T0 + 1) is None
    assert state.apply(PRIMARY, trade(3, 103), T0 + 1) is not None  # the print happened: publish it ...
    sym = state.get("AAPL")
    assert sym is not None and sym.quote is not None and sym.trade is not None
    assert sym.quote.seq == 5 and sym.trade.seq == 6  # ... but the last trade stays the newest


def test_snapshot_copies_symbols_with_data_and_evaluates_staleness() -> None:
    state = MarketState(["AAPL", "MSFT", "KO"])
    state.apply(PRIMARY, quote(1, symbol="AAPL"), T0)
    state.apply(PRIMARY, trade(2, symbol="KO"), T0 + 6_000 * MS)
    views = state.snapshot(T0 + 6_000 * MS)
    assert [v.symbol for v in views] == ["AAPL", "KO"]
    aapl, ko = views
    assert aapl.stale and not ko.stale
    assert aapl.quote is not None and aapl.quote_feed == "vendor-a" and aapl.trade is None
    assert ko.quote is None and ko.quote_feed == ""
    assert [v.symbol for v in state.snapshot(T0, ["KO", "MSFT"])] == ["KO"]
    state.apply(PRIMARY, quote(9, 999, symbol="AAPL"), T0 + 7_000 * MS)
    assert aapl.quote.event.bid_price == 100  # a snapshot is a copy
