"""What routing takes from a batch of market data: every trade and status, and of the quotes only those no later
quote of the same batch replaces.

A quote re-seeds every simulated venue's book for its symbol (``SimulatedVenue.on_quote``), and that was most of
routing's CPU at a busy open replayed at 100x: a batch of tens of events holds several quotes per symbol, each
rebuilding the same books. A quote followed in the batch by a usable quote of its symbol, with no trade of that
symbol between, sets the external ladder the later one sets again: the whole batch is applied at one instant, and
only prints fill client orders. One thing differs: a skipped quote with less size at a client order's price would
have capped that order's queue ahead at its size; the later quote's size caps it instead, so the order may stand
further back (a simulated queue position, never a lost or invented fill). A trade between them keeps the earlier
quote, so the print meets the book as it was. A symbol without a reference price yet keeps all its quotes (the
first one with a last price seeds it).
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from functools import lru_cache

from tradingdesk.core.fixed import parse_fixed
from tradingdesk.v1 import market_data_pb2


@lru_cache(maxsize=4096)
def parse_market_fixed(text: str) -> int:
    """``parse_fixed`` for the prices and sizes of market data, remembered: a symbol's quotes repeat a few prices
    and round-lot sizes, and parsing each field anew was a tenth of routing's market-data time at a 100x open.
    A malformed field raises as ``parse_fixed`` does (and is not remembered)."""
    return parse_fixed(text)


def usable(quote: market_data_pb2.Quote) -> bool:
    """A quote that may move the books: a stale one (a snapshot during an outage) must not make a dead reference
    look fresh, and a one-sided one seeds nothing."""
    return not quote.stale and bool(quote.bid_price) and bool(quote.ask_price)


def superseded_quotes(
    events: Sequence[market_data_pb2.MarketDataEvent], kinds: Sequence[str | None], *, priced: Container[str]
) -> set[int]:
    """Indexes in ``events`` (whose ``WhichOneof("event")`` are ``kinds``) of the quotes a later usable quote of the
    same symbol replaces, with no trade of that symbol between them; ``priced``: symbols with a reference price."""
    skip: set[int] = set()
    quoted: set[str] = set()
    for i in range(len(events) - 1, -1, -1):
        kind = kinds[i]
        if kind == "quote":
            quote = events[i].quote
            symbol = quote.symbol
            if symbol in quoted:
                skip.add(i)
            elif symbol in priced and usable(quote):
                quoted.add(symbol)
        elif kind == "trade":
            quoted.discard(events[i].trade.symbol)
    return skip
