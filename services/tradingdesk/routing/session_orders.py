"""The orders one ``OrderSession`` stream follows: those it sent, each until it is finished.

A session receives the execution reports of its own orders (and of their replacements). It used to keep the id of
every order it ever sent for the stream's life, so a session of millions of orders held millions of ids; an order
now leaves once the report that finishes it is forwarded. Nothing can follow a finished order: a replacement names
the order it replaces, and the ``replaced`` report moves the session from the old id to the new one.
"""

from __future__ import annotations

from tradingdesk.core.event_codec import record_event
from tradingdesk.core.events import OrderEvent
from tradingdesk.core.orders import Order
from tradingdesk.storage.journal import JournalRecord


class SessionOrders:
    """``accepts`` runs as committed records are published; ``forwarded`` later, once the session's forwarder
    task sent one (both on the event loop; several batches may be published before the forwarder runs). Until
    then a replacement's records are recognised by the old id, which leaves only when ``replaced`` is forwarded,
    as the new id joins."""

    __slots__ = ("_ids",)

    def __init__(self) -> None:
        self._ids: set[str] = set()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, order_id: str) -> bool:
        return order_id in self._ids

    def sent(self, order: Order, *, duplicate: bool) -> None:
        """The session was answered about ``order``: follow it, unless the answer was a duplicate's and the order
        is already finished (a repeated SubmitOrder of a filled order gets an ack and no report ever after). A new
        order can be finished when it is acknowledged (self-match prevention cancels it before it reaches a venue):
        its report is still to come, so it is followed until that report is forwarded."""
        if order.is_open or not duplicate:
            self._ids.add(order.order_id)

    def accepts(self, rec: JournalRecord) -> bool:
        """Whether ``rec`` is a report for this session. Its ack is its PENDING_NEW report: repeating that
        would double the traffic of a burst."""
        if rec.kind == "pending_new":
            return False
        if rec.order_id in self._ids:
            return True
        event = record_event(rec)
        return isinstance(event, OrderEvent) and event.terms.replaces_order_id in self._ids

    def forwarded(self, rec: JournalRecord) -> None:
        """``rec`` (accepted) was sent to the session: a replacement takes its original's place; a finished
        order is no longer followed."""
        event = record_event(rec)
        if not isinstance(event, OrderEvent):
            return
        if rec.kind == "replaced":
            self._ids.add(rec.order_id)
            self._ids.discard(event.terms.replaces_order_id)
        elif not event.is_open:
            self._ids.discard(rec.order_id)
