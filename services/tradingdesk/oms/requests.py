"""What a client can ask of the order engine, already validated (the engine only ever sees well-formed requests),
and the engine's answer.

The wire adapter that builds these from protobuf messages lives beside the servicer (``routing/requests.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.events import OrderTerms
from tradingdesk.core.orders import Order


@dataclass(frozen=True, slots=True, kw_only=True)
class NewOrder:
    client_order_id: str
    account: str
    strategy: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: int
    price: int  # 0 for market orders
    tif: TimeInForce
    expire_ns: int = 0
    venue: str = ""  # empty: the router chooses

    def asks_for(self, terms: OrderTerms, venue: str) -> bool:
        """Whether this request asks for the order with these terms, sent where it asked (idempotency)."""
        return (
            self.client_order_id == terms.client_order_id
            and self.account == terms.account
            and self.strategy == terms.strategy
            and self.symbol == terms.symbol
            and self.side == terms.side
            and self.order_type == terms.order_type
            and self.qty == terms.qty
            and self.price == terms.price
            and self.tif == terms.tif
            and self.expire_ns == (terms.expire_ns if self.tif == TimeInForce.GTD else 0)
            and self.venue == venue
        )


@dataclass(frozen=True, slots=True)
class OrderRef:
    """One order of an account, by the desk's order id or the client's (exactly one is set)."""

    account: str
    order_id: str
    client_order_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceRequest:
    ref: OrderRef
    new_client_order_id: str
    qty: int | None  # None: unchanged
    price: int | None  # None: unchanged


@dataclass(frozen=True, slots=True)
class Ack:
    """The answer to a request: the order, its status when the request was handled, and the journal seq
    that must be durable before the client hears about it."""

    order: Order
    seq: int
    duplicate: bool = False
    status: OrderStatus = OrderStatus.PENDING_NEW

    @classmethod
    def of(cls, order: Order, seq: int, duplicate: bool = False) -> Ack:
        return cls(order, seq, duplicate, order.status)
