"""The order journal's events as activity records (``core/activity.py``): the one translation surveillance,
execution quality and the CAT export all read through.

    OrderPending     NEW, then ROUTE to its venue (the engine sends an order the moment it accepts it)
    OrderReplaced    MODIFY: the new order, ``prior_order_id`` the one it replaced
    OrderFilled      FILL
    OrderCanceled    CANCEL (by the client, the kill switch, an IOC/FOK remainder or self-match prevention)
    OrderExpired     EXPIRE
    OrderRejected    REJECT (by the venue)

Acknowledgements, requests still in flight, refused cancels and replaces, restatements and desk events are
not activity: nothing traded, and nothing a regulator asks about changed.
"""

from __future__ import annotations

from tradingdesk.core.activity import Activity, OrderActivity
from tradingdesk.core.events import (
    JournalEvent,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPending,
    OrderRejected,
    OrderReplaced,
)

_KINDS: dict[type, Activity] = {
    OrderCanceled: Activity.CANCEL,
    OrderExpired: Activity.EXPIRE,
    OrderRejected: Activity.REJECT,
}


def _activity(
    kind: Activity,
    ev: OrderEvent,
    *,
    venue: str = "",
    prior_order_id: str = "",
    fill_qty: int = 0,
    fill_price: int = 0,
    fee: int = 0,
    liquidity: str = "",
    exec_id: str = "",
) -> OrderActivity:
    t = ev.terms
    return OrderActivity(  # positional: the fields in their order (much cheaper than 24 keywords)
        kind,
        ev.ts_ns,
        t.order_id,
        t.account,
        t.symbol,
        t.side,
        t.qty,
        t.price,
        ev.leaves_qty,
        ev.cum_qty,
        t.strategy,
        venue or ev.venue,
        t.order_type,
        t.tif,
        t.client_order_id,
        t.parent_order_id,
        prior_order_id,
        fill_qty,
        fill_price,
        fee,
        liquidity,
        exec_id,
    )


def activities_of(event: JournalEvent) -> tuple[OrderActivity, ...]:
    """What one journal event did, as activity records (none for most kinds)."""
    kind = type(event)
    if kind is OrderFilled:
        return (
            _activity(
                Activity.FILL,
                event,
                venue=event.fill_venue,
                fill_qty=event.last_qty,
                fill_price=event.last_price,
                fee=event.fee,
                liquidity=event.liquidity,
                exec_id=event.exec_id,
            ),
        )
    if kind is OrderPending:
        return _activity(Activity.NEW, event), _activity(Activity.ROUTE, event)
    if kind is OrderReplaced:
        return (_activity(Activity.MODIFY, event, prior_order_id=event.terms.replaces_order_id),)
    activity = _KINDS.get(kind)
    if activity is None:
        return ()
    return (_activity(activity, event),)
