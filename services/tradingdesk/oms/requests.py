"""What a client can ask of the order engine, already validated: the engine only ever sees well-formed requests.

The wire adapter that builds these from protobuf messages lives beside the servicer (``routing/requests.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from tradingdesk.core.enums import OrderType, Side, TimeInForce


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

    def same_content(self, other: NewOrder) -> bool:
        return self == other


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
