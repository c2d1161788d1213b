"""The contract between the OMS and a venue.

Venues are asynchronous, like real exchanges: every request is answered later through the listener, after
the venue's latency. The OMS never assumes a request succeeded until the venue says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tradingdesk.core.enums import OrderType, SelfMatchMode, Side, TimeInForce
from tradingdesk.core.orders import Fill


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """What the OMS sends to a venue: one child order (a parent may have many)."""

    order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: int  # open quantity to work at the venue (total minus already filled)
    price: int  # 0 for market orders
    tif: TimeInForce
    account: str = ""
    smp_id: str = ""
    """Self-match prevention group (the account, or the desk): two orders with the same non-empty id never
    trade with each other (FIX SelfMatchPreventionID); empty: the venue does not check."""
    smp_mode: SelfMatchMode = SelfMatchMode.CANCEL_NEWEST
    """What the venue does when this order, incoming, would trade with a resting order of its group."""


class VenueListener(Protocol):
    """Callbacks a venue makes into the OMS. Called on the scheduler's thread (the event loop)."""

    def on_venue_accepted(self, venue: str, order_id: str) -> None: ...

    def on_venue_rejected(self, venue: str, order_id: str, reason: str) -> None: ...

    def on_venue_fill(self, fill: Fill) -> None: ...

    def on_venue_canceled(self, venue: str, order_id: str, reason: str) -> None:
        """Order is gone from the venue: on request, or unfilled IOC/FOK remainder ("IOC", "FOK")."""
        ...

    def on_venue_cancel_rejected(self, venue: str, order_id: str, reason: str) -> None: ...

    def on_venue_replaced(self, venue: str, old_order_id: str, new_order_id: str) -> None: ...

    def on_venue_replace_rejected(self, venue: str, old_order_id: str, reason: str) -> None: ...

    def on_venue_restated(self, venue: str, order_id: str, open_qty: int, reason: str) -> None:
        """The venue reduced the order on its own: ``open_qty`` is what it works from now on (> 0)."""
        ...


class Scheduler(Protocol):
    """Runs a callback after a delay; asyncio's loop.call_later in production, a manual queue in tests."""

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class TopOfBook:
    """Best bid/ask at a venue, used by the smart order router. Prices 0 mean "no side"."""

    venue: str
    symbol: str
    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int


class Venue(Protocol):
    name: str

    def submit(self, order: VenueOrder) -> None: ...

    def cancel(self, order_id: str) -> None: ...

    def replace(self, old_order_id: str, new: VenueOrder) -> None: ...

    def reduce(self, order_id: str, open_qty: int, reason: str) -> None:
        """Reduce a resting order to ``open_qty`` keeping its priority (answered by ``on_venue_restated``, or by
        ``on_venue_canceled`` when nothing is left); an order no longer resting is left alone."""
        ...

    def top_of_book(self, symbol: str) -> TopOfBook: ...

    def on_quote(self, symbol: str, bid_price: int, bid_qty: int, ask_price: int, ask_qty: int, ts_ns: int) -> None:
        """Market data from the feed: re-seeds the venue's external liquidity."""
        ...

    def on_trade(self, symbol: str, price: int, qty: int, ts_ns: int) -> None:
        """A print on the tape: advances queue positions of resting orders and may fill them."""
        ...
