"""The neutral shape of what happened, for analysis after the fact: surveillance, execution quality and the
CAT export read these records, never the order path's internals.

``OrderActivity`` is one thing that happened to one of the desk's orders; ``MarketQuote`` and ``MarketPrint``
are the market around it (the best bid and offer, and trades on the tape). Whatever produces them (the
journal, a recorded day, a test) converts once; every consumer then works on the same small frozen records.
Times are ns since the Unix epoch; prices and quantities are fixed-point ints.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from tradingdesk.core.enums import OrderType, Side, TimeInForce


class Activity(Enum):
    NEW = "new"
    """The desk accepted the order."""
    ROUTE = "route"
    """The order was sent to a venue."""
    MODIFY = "modify"
    """The order was replaced (cancel/replace): ``order_id`` is the new order, ``prior_order_id`` the old."""
    CANCEL = "cancel"
    FILL = "fill"
    EXPIRE = "expire"
    REJECT = "reject"


MESSAGES = frozenset({Activity.NEW, Activity.MODIFY, Activity.CANCEL})
"""Activities that are messages an account sends (what order-to-trade ratios count)."""


class OrderActivity(NamedTuple):
    """A named tuple rather than a frozen dataclass: as immutable, and built several times faster (a busy
    desk's surveillance makes one for every order event)."""

    kind: Activity
    ts_ns: int
    order_id: str
    account: str
    symbol: str
    side: Side
    qty: int
    """The order's quantity (after a modify, its new quantity)."""
    price: int
    """Limit price; 0 for a market order."""
    leaves_qty: int = 0
    """Quantity still open after this event."""
    cum_qty: int = 0
    """Quantity filled so far, this event included (a cancel cancels ``qty - cum_qty``)."""
    strategy: str = ""
    venue: str = ""
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.DAY
    client_order_id: str = ""
    parent_order_id: str = ""
    """The parent order a child was split from (algorithms), for lineage."""
    prior_order_id: str = ""
    """The order a modify replaced."""
    fill_qty: int = 0
    fill_price: int = 0
    fee: int = 0
    liquidity: str = ""
    """``M`` (rested, maker) or ``T`` (crossed, taker) for a fill."""
    exec_id: str = ""

    @property
    def is_buy(self) -> bool:
        return self.side == Side.BUY


@dataclass(frozen=True, slots=True)
class MarketQuote:
    """The best bid and offer of a symbol from ``ts_ns`` on."""

    ts_ns: int
    symbol: str
    bid: int
    ask: int
    bid_qty: int = 0
    ask_qty: int = 0

    @property
    def mid(self) -> int:
        return (self.bid + self.ask) // 2


@dataclass(frozen=True, slots=True)
class MarketPrint:
    """A trade on the tape."""

    ts_ns: int
    symbol: str
    price: int
    qty: int


MarketActivity = MarketQuote | MarketPrint
