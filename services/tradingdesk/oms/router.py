"""Smart order routing: send each order where it is likely to fill best."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from tradingdesk.core.enums import Side
from tradingdesk.venues.base import Venue


class Router:
    """Best displayed price wins; the lower taker fee breaks ties; the default venue when nobody shows one.

    Splitting across venues and algorithms build on this per-order choice.
    """

    def __init__(
        self,
        venues: Mapping[str, Venue],
        *,
        symbols_by_venue: Mapping[str, frozenset[str]],
        taker_fees: Mapping[str, int],
        default_venue: str,
        smart: bool = True,
    ) -> None:
        self.venues = venues
        self.symbols_by_venue = symbols_by_venue
        self.taker_fees = taker_fees
        self.default_venue = default_venue
        self.smart = smart

    def trades(self, venue: str, symbol: str) -> bool:
        """The venue lists the symbol and is connected (a venue ``AWAY`` takes nothing new)."""
        symbols = self.symbols_by_venue.get(venue)
        return (
            symbols is not None
            and (not symbols or symbol in symbols)
            and getattr(self.venues.get(venue), "connected", True)
        )

    def choose(self, symbol: str, side: Side, *, avoid: Collection[str] = ()) -> str:
        """The venue for a new order. ``avoid``: venues not to choose while another trades the symbol (silent
        ones, ``oms/venue_silence.py``); when only they do, the choice is the one made without ``avoid``."""
        if avoid:
            chosen = self._choose(symbol, side, avoid=avoid)
            if chosen not in avoid and self.trades(chosen, symbol):
                return chosen
        return self._choose(symbol, side, avoid=())

    def _choose(self, symbol: str, side: Side, *, avoid: Collection[str]) -> str:
        if not self.smart:
            return self.default_venue
        best_name = ""
        best_key: tuple[int, int] | None = None
        for name, venue in self.venues.items():
            if name in avoid or not self.trades(name, symbol):
                continue
            top = venue.top_of_book(symbol)
            if side == Side.BUY:
                if top.ask_price <= 0:
                    continue
                key = (top.ask_price, self.taker_fees.get(name, 0))
            else:
                if top.bid_price <= 0:
                    continue
                key = (-top.bid_price, self.taker_fees.get(name, 0))
            if best_key is None or key < best_key:
                best_key, best_name = key, name
        if best_name:
            return best_name
        if self.default_venue not in avoid and self.trades(self.default_venue, symbol):
            return self.default_venue
        return next((n for n in self.venues if n not in avoid and self.trades(n, symbol)), self.default_venue)
