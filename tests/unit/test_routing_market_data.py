"""Which quotes of a market-data batch routing applies to its simulated venues (``routing/market_data.py``)."""

from __future__ import annotations

import pytest

from tradingdesk.core.fixed import DecimalFormatError, parse_fixed
from tradingdesk.routing.market_data import parse_market_fixed, superseded_quotes, usable
from tradingdesk.v1 import market_data_pb2 as md


def quote(symbol: str, bid: str = "100.00", ask: str = "100.05", *, stale: bool = False) -> md.MarketDataEvent:
    return md.MarketDataEvent(quote=md.Quote(symbol=symbol, bid_price=bid, ask_price=ask, stale=stale))


def trade(symbol: str) -> md.MarketDataEvent:
    return md.MarketDataEvent(trade=md.Trade(symbol=symbol, price="100.01", quantity="100"))


def status(symbol: str) -> md.MarketDataEvent:
    return md.MarketDataEvent(status=md.TradingStatus(symbol=symbol, status=md.SYMBOL_STATUS_HALTED))


def skipped(events: list[md.MarketDataEvent], priced: set[str] = frozenset({"AAPL", "MSFT"})) -> set[int]:
    return superseded_quotes(events, [e.WhichOneof("event") for e in events], priced=priced)


def test_a_quote_replaced_by_a_later_one_of_its_symbol_is_skipped() -> None:
    events = [quote("AAPL"), quote("MSFT"), quote("AAPL", "100.01"), status("AAPL"), quote("AAPL", "100.02")]
    assert skipped(events) == {0, 2}  # MSFT's only quote and AAPL's last stay; a status is no barrier


def test_a_trade_between_keeps_the_quote_before_it() -> None:
    events = [quote("AAPL"), quote("AAPL"), trade("AAPL"), quote("AAPL"), trade("MSFT"), quote("AAPL")]
    assert skipped(events) == {0, 3}  # the print meets the book the quote before it set; MSFT's print is no barrier


def test_an_unusable_later_quote_replaces_nothing() -> None:
    """A stale or one-sided quote is not applied, so the usable one before it must be."""
    events = [quote("AAPL"), quote("AAPL", stale=True), quote("MSFT"), quote("MSFT", bid="")]
    assert skipped(events) == set()
    assert not usable(events[1].quote) and not usable(events[3].quote) and usable(events[0].quote)


def test_a_symbol_without_a_reference_price_keeps_every_quote() -> None:
    """Its first quote with a last price seeds the gate's reference: none may be skipped before that."""
    assert skipped([quote("AAPL"), quote("AAPL")], priced={"MSFT"}) == set()


def test_remembered_parsing_gives_what_parse_fixed_gives_and_refuses_what_it_refuses() -> None:
    for text in ("189.52", "189.52", "100", "0.000000001"):
        assert parse_market_fixed(text) == parse_fixed(text)
    for bad in ("1e3", "-1", " 1", "1.2.3"):
        for _ in range(2):  # a refusal is not remembered as a value
            with pytest.raises(DecimalFormatError):
                parse_market_fixed(bad)
