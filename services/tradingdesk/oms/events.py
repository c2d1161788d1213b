"""Journal event kinds and the payload every order event carries.

Each event stores the order's reportable state after the change, so an execution report can be built from
one journal record, and rebuilding the OMS after a crash is "apply every record in order". Decimal values
are strings so an auditor reading the journal sees "101.25", not a scaled integer.
"""

from __future__ import annotations

from typing import Any

from tradingdesk.core.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.core.orders import Order

# kind -> the FIX ExecType the event reports
KINDS: dict[str, ExecType] = {
    "pending_new": ExecType.PENDING_NEW,
    "new": ExecType.NEW,
    "trade": ExecType.TRADE,
    "pending_cancel": ExecType.PENDING_CANCEL,
    "canceled": ExecType.CANCELED,
    "pending_replace": ExecType.PENDING_REPLACE,
    "replaced": ExecType.REPLACED,
    "rejected": ExecType.REJECTED,
    "expired": ExecType.EXPIRED,
    "cancel_rejected": ExecType.CANCEL_REJECTED,
    "replace_rejected": ExecType.REPLACE_REJECTED,
}


def _static_payload(order: Order) -> dict[str, Any]:
    """The fields an order never changes, formatted once per order rather than once per event."""
    static: dict[str, Any] = {
        "client_order_id": order.client_order_id,
        "account": order.account,
        "strategy": order.strategy,
        "symbol": order.symbol,
        "side": order.side.name,
        "order_type": order.order_type.name,
        "qty": format_fixed(order.qty),
        "price": format_fixed(order.price),
        "tif": order.tif.name,
        "expire_ns": order.expire_ns,
        "created_ns": order.created_ns,
    }
    if order.replaces_order_id:
        static["replaces_order_id"] = order.replaces_order_id
    if order.parent_order_id:
        static["parent_order_id"] = order.parent_order_id
    return static


def order_payload(order: Order, **extra: Any) -> dict[str, Any]:
    static = order.static_payload
    if static is None:
        static = order.static_payload = _static_payload(order)
    payload = dict(static)
    payload["status"] = order.status.name
    if order.cum_qty:
        payload["cum_qty"] = format_fixed(order.cum_qty)
        payload["cum_notional"] = format_fixed(order.cum_notional)
        payload["leaves_qty"] = format_fixed(order.leaves_qty)
        payload["avg_price"] = format_fixed(order.avg_price)
    else:
        payload["cum_qty"] = payload["cum_notional"] = payload["avg_price"] = "0"
        payload["leaves_qty"] = static["qty"] if order.is_open else "0"
    payload["fees"] = format_fixed(order.fees) if order.fees else "0"
    payload["venue"] = order.venue
    if order.replaced_by_order_id:
        payload["replaced_by_order_id"] = order.replaced_by_order_id
    if order.text:
        payload["text"] = order.text
    if extra:
        payload.update(extra)
    return payload


def order_from_payload(order_id: str, p: dict[str, Any], ts_ns: int) -> Order:
    return Order(
        order_id=order_id,
        client_order_id=p["client_order_id"],
        account=p["account"],
        strategy=p["strategy"],
        symbol=p["symbol"],
        side=Side[p["side"]],
        order_type=OrderType[p["order_type"]],
        qty=parse_fixed(p["qty"]),
        price=parse_fixed(p["price"]),
        tif=TimeInForce[p["tif"]],
        expire_ns=p["expire_ns"],
        created_ns=p["created_ns"],
        status=OrderStatus[p["status"]],
        cum_qty=parse_fixed(p["cum_qty"]),
        cum_notional=parse_fixed(p["cum_notional"], allow_negative=True),
        fees=parse_fixed(p["fees"], allow_negative=True),
        venue=p["venue"],
        updated_ns=ts_ns,
        replaces_order_id=p.get("replaces_order_id", ""),
        replaced_by_order_id=p.get("replaced_by_order_id", ""),
        parent_order_id=p.get("parent_order_id", ""),
        text=p.get("text", ""),
    )
