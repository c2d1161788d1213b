"""The engine's orders, changed only by applying events: one handler for the live path and for recovery.

The engine decides what happens (validation, the risk gate, the FIX transition) and emits the event; ``apply``
is the only code that moves an order's state. Replaying the journal after a restart calls the same ``apply``
with the same events, so the state rebuilt is the state that was live.
"""

from __future__ import annotations

from collections import deque

from tradingdesk.core.enums import OrderStatus
from tradingdesk.core.events import (
    Incident,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderPending,
    OrderReplaced,
    OrderRestated,
    ReplaceRejected,
    ReplaceRequested,
    VenueAckTimedOut,
)
from tradingdesk.core.orders import Order
from tradingdesk.oms.retired import ClientKey, RetiredIndex


class OrderBook:
    def __init__(self, *, finished_kept: int | None = None) -> None:
        self.finished_kept = finished_kept
        """Finished orders kept in memory, the newest; older ones are retired (``oms/retired.py``). None: all."""
        self.orders: dict[str, Order] = {}  # the open orders and the finished ones not retired
        self.open_orders: dict[str, Order] = {}
        self.by_client: dict[ClientKey, str] = {}
        self.requested_venue: dict[str, str] = {}  # order_id -> the venue its request named ("": the router's)
        self.replacing: dict[str, ReplaceRequested] = {}  # old order_id -> the replace in flight
        self.replace_requests: dict[ClientKey, ReplaceRequested] = {}  # new client id -> the replace in flight
        self.incidents: set[tuple[str, str, int]] = set()  # (account, strategy, state changed_ns) reported
        self.expiring: set[str] = set()  # GTD orders whose expiry cancel is at the venue
        self.unacknowledged: set[str] = set()
        """Orders whose venue did not acknowledge them in time (``oms/ack_timeout.py``) and has not since."""
        self.created_seq: dict[str, int] = {}  # order_id -> seq of the record that created it (idempotent acks)
        self.finished: deque[str] = deque()  # ids of the finished orders in memory, oldest first
        self.retired = RetiredIndex()

    def apply(self, event: object) -> None:
        """The fan-out's handler (``EventBus``): every change of an order goes through here."""
        kind = type(event)
        if kind is OrderPending:
            self._created(event)
        elif kind is OrderReplaced:
            self._replaced(event)
        elif isinstance(event, OrderEvent):
            self._changed(event)
        elif kind is Incident:
            self.incidents.add((event.account, event.strategy, event.state_changed_ns))

    def _created(self, ev: OrderPending) -> None:
        terms = ev.terms
        order = Order.from_terms(terms, status=ev.status, venue=ev.venue, ts_ns=ev.ts_ns)
        self._update(order, ev)
        self.orders[order.order_id] = order
        self.by_client[(order.account, order.client_order_id)] = order.order_id
        self.requested_venue[order.order_id] = ev.requested_venue
        if order.is_open:
            self.open_orders[order.order_id] = order
        else:
            self._closed(order)

    def _replaced(self, ev: OrderReplaced) -> None:
        terms = ev.terms
        old = self.orders.get(terms.replaces_order_id)
        self.replacing.pop(terms.replaces_order_id, None)
        self.replace_requests.pop((terms.account, terms.client_order_id), None)
        if old is not None:
            old.replaced_by_order_id = terms.order_id
            old.transition(OrderStatus.REPLACED, ev.ts_ns)
            self._closed(old)
        new = Order.from_terms(terms, status=ev.status, venue=ev.venue, ts_ns=ev.ts_ns)
        self._update(new, ev)
        self.orders[new.order_id] = new
        self.by_client[(new.account, new.client_order_id)] = new.order_id
        if new.is_open:
            self.open_orders[new.order_id] = new
        else:
            self._closed(new)

    def _changed(self, ev: OrderEvent) -> None:
        order = self.orders.get(ev.order_id)
        if order is None:
            return
        was_open = order.is_open
        if ev.status != order.status:
            order.transition(ev.status, ev.ts_ns)
        self._update(order, ev)
        kind = type(ev)
        if kind is ReplaceRequested:
            self.replacing[order.order_id] = ev
            self.replace_requests[(order.account, ev.new_client_order_id)] = ev
        elif kind is ReplaceRejected or kind is OrderCanceled:
            pending = self.replacing.pop(order.order_id, None)
            if pending is not None:
                self.replace_requests.pop((order.account, pending.new_client_order_id), None)
        elif kind is OrderExpired:
            self.expiring.discard(order.order_id)
        elif kind is OrderRestated:
            order.qty = ev.terms.qty
            order.terms = ev.terms
        if kind is VenueAckTimedOut:
            self.unacknowledged.add(order.order_id)
        elif (kind is OrderAccepted or ev.cum_qty) and self.unacknowledged:  # a late ack or a fill: the venue has it
            self.unacknowledged.discard(order.order_id)
        if was_open and not order.is_open:
            self._closed(order)

    @staticmethod
    def _update(order: Order, ev: OrderEvent) -> None:
        order.cum_qty = ev.cum_qty
        order.cum_notional = ev.cum_notional
        order.fees = ev.fees
        order.venue = ev.venue
        order.text = ev.text
        order.updated_ns = ev.ts_ns
        if ev.replaced_by_order_id:
            order.replaced_by_order_id = ev.replaced_by_order_id

    def _closed(self, order: Order) -> None:
        self.open_orders.pop(order.order_id, None)
        self.expiring.discard(order.order_id)
        self.unacknowledged.discard(order.order_id)
        if self.finished_kept is not None:
            self.finished.append(order.order_id)
            while len(self.finished) > self.finished_kept:
                self._retire(self.finished.popleft())

    def _retire(self, order_id: str) -> None:
        """The order leaves memory; its client key stays reserved in ``retired``, pointing at its journal records.
        An order whose creating seq is unknown (never the case for a journaled order) is kept instead."""
        order = self.orders.get(order_id)
        seq = self.created_seq.get(order_id, 0)
        if order is None or order.is_open or not seq:
            return
        del self.orders[order_id]
        del self.created_seq[order_id]
        self.requested_venue.pop(order_id, None)
        key = (order.account, order.client_order_id)
        if self.by_client.get(key) == order_id:
            del self.by_client[key]
        self.retired.add(key, seq)

    def reserved(self, key: ClientKey) -> bool:
        """Whether a client key is taken by an order in memory, or perhaps by a retired one: the retired index
        keeps a 64-bit hash of each key, so a match there is confirmed from the journal before it is used."""
        return key in self.by_client or self.retired.seq_of(key) is not None
