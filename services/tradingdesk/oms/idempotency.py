"""Client order ids are idempotency keys: the same request again returns the original answer, a different
request under the same key is refused. Works the same after a restart, since the order book it reads is
rebuilt from the journal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradingdesk.core.orders import Order
from tradingdesk.core.reject import duplicate
from tradingdesk.oms.requests import Ack, NewOrder, ReplaceRequest
from tradingdesk.oms.retired import RetiredOrder

if TYPE_CHECKING:
    from tradingdesk.oms.engine import OrderEngine


def duplicate_submit(engine: OrderEngine, order_id: str, req: NewOrder) -> Ack:
    """A submit whose (account, client_order_id) is taken: the original ack if it asked for the same order."""
    order = engine.book.orders[order_id]
    venue = engine.book.requested_venue.get(order_id)
    if order.terms is None or venue is None or not req.asks_for(order.terms, venue):
        raise duplicate(
            f"client_order_id {req.client_order_id!r} was already used for a different order ({order_id})",
            "DUPLICATE_CLIENT_ORDER_ID",
        )
    return Ack.of(order, engine.created_seq.get(order_id, 0), duplicate=True)


def duplicate_retired_submit(found: RetiredOrder, req: NewOrder) -> Ack:
    """``duplicate_submit`` for an order retired from memory, read back from the journal."""
    order = found.order
    if order.terms is None or found.requested_venue is None or not req.asks_for(order.terms, found.requested_venue):
        raise duplicate(
            f"client_order_id {req.client_order_id!r} was already used for a different order ({order.order_id})",
            "DUPLICATE_CLIENT_ORDER_ID",
        )
    return Ack.of(order, found.created_seq, duplicate=True)


def duplicate_retired_replace(found: RetiredOrder, order: Order, rr: ReplaceRequest) -> Ack:
    """``duplicate_replace`` when the new client order id is a retired order's: the original ack if that order is
    this replace's replacement, asked for again."""
    new = found.order
    if new.replaces_order_id == order.order_id and _same_terms(rr, new.qty, new.price):
        return Ack.of(new, found.created_seq, duplicate=True)
    raise duplicate(f"new_client_order_id {rr.new_client_order_id!r} is already in use", "DUPLICATE_CLIENT_ORDER_ID")


def duplicate_replace(engine: OrderEngine, key: tuple[str, str], order: Order, rr: ReplaceRequest) -> Ack:
    """A replace whose new client order id is taken: the original ack if it asked for the same change of the
    same order (the replacement if the venue already confirmed it, else the order being replaced)."""
    book = engine.book
    new_id = book.by_client.get(key)
    if new_id is not None:
        new = book.orders[new_id]
        if new.replaces_order_id == order.order_id and _same_terms(rr, new.qty, new.price):
            return Ack.of(new, engine.created_seq.get(new_id, 0), duplicate=True)
    else:
        pending = book.replace_requests[key]
        if pending.order_id == order.order_id and _same_terms(rr, pending.new_qty, pending.new_price):
            return Ack.of(order, 0, duplicate=True)
    raise duplicate(f"new_client_order_id {rr.new_client_order_id!r} is already in use", "DUPLICATE_CLIENT_ORDER_ID")


def _same_terms(rr: ReplaceRequest, qty: int, price: int) -> bool:
    return (rr.qty is None or rr.qty == qty) and (rr.price is None or rr.price == price)
