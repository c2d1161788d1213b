"""Orders, fills and the FIX 4.4 order state machine.

The state machine is the single authority on which status may follow which; the OMS never assigns
``status`` directly, so an illegal transition is an exception in tests instead of a silent corruption.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from tradingdesk.core.enums import TERMINAL_STATUSES, OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.events import OrderTerms
from tradingdesk.core.fixed import div

# FIX 4.4 transitions (Volume 4, "Order State Change Matrices"), restricted to the states we model.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_NEW: frozenset(
        {
            OrderStatus.NEW,
            OrderStatus.REJECTED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.EXPIRED,
            OrderStatus.CANCELED,
            OrderStatus.PENDING_CANCEL,  # the venue did not acknowledge in time (oms/ack_timeout.py)
        }
    ),
    OrderStatus.NEW: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.PENDING_CANCEL,
            OrderStatus.PENDING_REPLACE,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.PENDING_CANCEL,
            OrderStatus.PENDING_REPLACE,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        }
    ),
    # A fill may arrive while a cancel or replace is pending; a rejected cancel/replace restores the status.
    OrderStatus.PENDING_CANCEL: frozenset(
        {OrderStatus.CANCELED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.NEW, OrderStatus.EXPIRED}
    ),
    OrderStatus.PENDING_REPLACE: frozenset(
        {
            OrderStatus.REPLACED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.NEW,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.REPLACED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """An event tried to move an order along an edge FIX 4.4 does not have."""


@dataclass(slots=True)
class Order:
    order_id: str
    client_order_id: str
    account: str
    strategy: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: int
    price: int  # limit price; 0 for market orders
    tif: TimeInForce
    expire_ns: int
    created_ns: int
    status: OrderStatus = OrderStatus.PENDING_NEW
    cum_qty: int = 0
    cum_notional: int = 0
    fees: int = 0
    venue: str = ""
    updated_ns: int = 0
    replaces_order_id: str = ""
    replaced_by_order_id: str = ""
    parent_order_id: str = ""
    text: str = ""
    # The fields above that never change, as the one object every event of the order shares.
    terms: OrderTerms | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_terms(cls, terms: OrderTerms, *, status: OrderStatus, venue: str, ts_ns: int) -> Order:
        return cls(
            order_id=terms.order_id,
            client_order_id=terms.client_order_id,
            account=terms.account,
            strategy=terms.strategy,
            symbol=terms.symbol,
            side=terms.side,
            order_type=terms.order_type,
            qty=terms.qty,
            price=terms.price,
            tif=terms.tif,
            expire_ns=terms.expire_ns,
            created_ns=terms.created_ns,
            status=status,
            venue=venue,
            updated_ns=ts_ns,
            replaces_order_id=terms.replaces_order_id,
            parent_order_id=terms.parent_order_id,
            terms=terms,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (a journal snapshot) as its values in field order: about twice as fast as the default."""
        return (Order, _order_values(self))

    @property
    def leaves_qty(self) -> int:
        if self.status in TERMINAL_STATUSES:
            return 0
        return self.qty - self.cum_qty

    @property
    def avg_price(self) -> int:
        return div(self.cum_notional, self.cum_qty) if self.cum_qty else 0

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL_STATUSES

    def transition(self, to: OrderStatus, ts_ns: int) -> None:
        if to not in TRANSITIONS[self.status]:
            raise IllegalTransition(f"order {self.order_id}: {self.status.name} -> {to.name} is not allowed")
        self.status = to
        self.updated_ns = ts_ns


_order_values = attrgetter(*(f.name for f in fields(Order)))


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution at a venue. ``liquidity`` is "M" (maker, rested) or "T" (taker, crossed)."""

    exec_id: str
    order_id: str
    symbol: str
    side: Side
    qty: int
    price: int
    fee: int
    venue: str
    liquidity: str
    ts_ns: int
