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


def _activity(kind: Activity, ev: OrderEvent, *, venue: str = "", **extra) -> OrderActivity:
    t = ev.terms
    return OrderActivity(
        kind=kind,
        ts_ns=ev.ts_ns,
        order_id=t.order_id,
        account=t.account,
        symbol=t.symbol,
        side=t.side,
        qty=t.qty,
        price=t.price,
        leaves_qty=ev.leaves_qty,
        cum_qty=ev.cum_qty,
        strategy=t.strategy,
        venue=venue or ev.venue,
        order_type=t.order_type,
        tif=t.tif,
        client_order_id=t.client_order_id,
        parent_order_id=t.parent_order_id,
        **extra,
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
