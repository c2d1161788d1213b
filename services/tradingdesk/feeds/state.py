"""The desk's current view of the market: the last quote, trade and trading status of each symbol, and how
fresh they are.

Several feeds may carry a symbol. The state keeps one *winning* feed per symbol: a feed with a better
(lower) rank takes over as soon as it delivers, a worse one only once the winner has been silent for the
winner's ``stale_after_ns``. Updates from other feeds are refused, so everything downstream sees one
consistent stream per symbol. The state stores the ``FeedMessage`` objects themselves (no copies): one
update is a few attribute writes on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tradingdesk.feeds.events import QUOTE, STATUS, TRADE, FeedMessage


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What the state needs to know about a feed: its name, precedence and staleness bound."""

    name: str
    rank: int
    """Lower is preferred (the spec's ``priority``, ties broken by order in the spec)."""
    stale_after_ns: int


class SymbolState:
    """Live, mutable state of one symbol; owned by ``MarketState`` (read it, never write it)."""

    __slots__ = (
        "desk_updated_ns",
        "feed",
        "quote",
        "quote_feed",
        "quote_rx_ns",
        "seq",
        "status",
        "switches",
        "symbol",
        "trade",
        "trade_rx_ns",
        "updated_ns",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.feed: FeedInfo | None = None
        """The feed currently winning this symbol."""
        self.quote: FeedMessage | None = None
        self.quote_feed: FeedInfo | None = None
        self.quote_rx_ns = 0
        self.trade: FeedMessage | None = None
        self.trade_rx_ns = 0
        self.status: FeedMessage | None = None
        """The last trading status change (halt, pause, resumption); None until a feed sends one."""
        self.updated_ns = 0
        """Receive time of the last accepted update of either kind."""
        self.desk_updated_ns = 0
        """The same receipt on the desk's clock (the service sets it: ``apply`` is given real time only)."""
        self.seq = 0
        """Highest sequence number accepted from the winning feed."""
        self.switches = 0
        """Times the winning feed changed."""


@dataclass(frozen=True, slots=True)
class SymbolSnapshot:
    """An immutable copy of one symbol's state at one instant, with staleness evaluated at that instant."""

    symbol: str
    feed: str
    quote: FeedMessage | None
    quote_feed: str
    quote_rx_ns: int
    trade: FeedMessage | None
    trade_rx_ns: int
    updated_ns: int
    stale: bool
    status: FeedMessage | None = None
    desk_updated_ns: int = 0
    """``updated_ns`` on the desk's clock (0: not known)."""


class MarketState:
    """Last quote/trade per symbol of a fixed universe, with receive times and feed precedence."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self._symbols = {s: SymbolState(s) for s in symbols}

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._symbols

    def get(self, symbol: str) -> SymbolState | None:
        """The live state of ``symbol`` (None if it is not in the universe)."""
        return self._symbols.get(symbol)

    def apply(self, feed: FeedInfo, msg: FeedMessage, rx_ns: int) -> SymbolState | None:
        """Record an arbitrated message received at ``rx_ns``; returns the symbol's state if it is to be
        published, None if it is refused (unknown symbol, a preferred feed is live, or a superseded quote or
        status).

        A late copy (recovered gap) older than what the winning feed already delivered is still published
        when it is a trade (the print happened) but never replaces the newer last trade, quote or status.
        """
        event = msg.event
        sym = self._symbols.get(event.symbol)
        if sym is None:
            return None
        current = sym.feed
        if current is not feed:
            age = rx_ns - sym.updated_ns
            if current is not None and feed.rank > current.rank and age <= current.stale_after_ns:
                return None
            sym.feed = feed
            sym.seq = 0
            sym.switches += 1
        elif msg.seq < sym.seq:
            return sym if event.kind == TRADE else None
        sym.seq = msg.seq
        sym.updated_ns = rx_ns
        kind = event.kind
        if kind == QUOTE:
            sym.quote = msg
            sym.quote_feed = feed
            sym.quote_rx_ns = rx_ns
        elif kind == STATUS:
            sym.status = msg
        else:
            sym.trade = msg
            sym.trade_rx_ns = rx_ns
        return sym

    def is_stale(self, symbol: str, now_ns: int, max_age_ns: int | None = None) -> bool:
        """Whether ``symbol`` has had no update for more than ``max_age_ns`` (default: its feed's bound).

        A symbol without any data, or outside the universe, is stale: no data is never fresh data.
        """
        sym = self._symbols.get(symbol)
        if sym is None or sym.feed is None:
            return True
        bound = sym.feed.stale_after_ns if max_age_ns is None else max_age_ns
        return now_ns - sym.updated_ns > bound

    def view(self, symbol: str, now_ns: int) -> SymbolSnapshot | None:
        """An immutable copy of ``symbol``'s state, or None if it has no data yet."""
        sym = self._symbols.get(symbol)
        if sym is None or sym.feed is None:
            return None
        return SymbolSnapshot(
            symbol=sym.symbol,
            feed=sym.feed.name,
            quote=sym.quote,
            quote_feed=sym.quote_feed.name if sym.quote_feed else "",
            quote_rx_ns=sym.quote_rx_ns,
            trade=sym.trade,
            trade_rx_ns=sym.trade_rx_ns,
            updated_ns=sym.updated_ns,
            stale=now_ns - sym.updated_ns > sym.feed.stale_after_ns,
            status=sym.status,
            desk_updated_ns=sym.desk_updated_ns,
        )

    def snapshot(self, now_ns: int, symbols: Iterable[str] | None = None) -> list[SymbolSnapshot]:
        """Copies of the requested symbols' states (all when None), skipping symbols with no data yet."""
        views = (self.view(s, now_ns) for s in (self._symbols if symbols is None else symbols))
        return [v for v in views if v is not None]
