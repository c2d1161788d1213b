"""After a restart: the journal back into the engine through the very handlers the live path uses.

``rebuild`` decodes each record with the one codec and replays the event on the ``EventBus`` (the order book,
the gate's exposure and latches, the positions; not the journal writer, since the journal already holds it).
``reseat_open_orders`` then puts the open orders back on the simulated venues.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from tradingdesk.core.enums import OrderStatus, TimeInForce
from tradingdesk.core.events import OrderPending, OrderReplaced

if TYPE_CHECKING:
    from tradingdesk.oms.engine import OrderEngine


class RecordLike(Protocol):
    """A journal record (``storage.journal.JournalRecord``)."""

    seq: int
    ts_ns: int
    kind: str
    order_id: str
    payload: Mapping[str, Any]


class Recovery:
    """The recovery part of ``OrderEngine``."""

    def rebuild(self: OrderEngine, records: Iterable[RecordLike]) -> int:
        """Replay journal records in seq order; returns how many were applied. The open orders found are
        ``unseated`` until ``reseat_open_orders`` puts them back on their venues.

        Called again with the records committed since (a standby following the active replica's journal), it
        goes on where it stopped."""
        decoder = self.replay_decoder
        count = 0
        for rec in records:
            event = decoder.decode(rec.kind, rec.order_id, rec.ts_ns, rec.payload)
            self.bus.replay(event)
            if type(event) is OrderPending or type(event) is OrderReplaced:
                self.created_seq[event.order_id] = rec.seq
            count += 1
        self.unseated = set(self.book.open_orders)
        return count

    def reseat_open_orders(self: OrderEngine) -> int:
        """After a rebuild, put open orders back on the (simulated) venues and restart DAY and GTD timers.

        A real venue keeps resting orders across our restart and we would reconcile with it instead; a
        simulated venue lives in our process, so its book is rebuilt from our journal.
        """
        count = 0
        self.unseated.clear()
        for order in list(self.book.open_orders.values()):
            if order.venue not in self.venues:
                continue
            if order.status == OrderStatus.PENDING_CANCEL:
                self.venues[order.venue].cancel(order.order_id)  # unknown there: answered by a cancel reject
                if order.order_id in self.book.unacknowledged:  # never known to be there: the reject ends it
                    count += 1
                    continue
            open_qty = order.qty - order.cum_qty
            self.venues[order.venue].submit(self._venue_order(order, order.order_id, open_qty, order.price))
            if order.status == OrderStatus.PENDING_NEW:
                self._arm_ack_timeout(order)
            if order.expire_ns and order.tif in (TimeInForce.DAY, TimeInForce.GTD):
                self._schedule_expiry(order)
            count += 1
        return count
