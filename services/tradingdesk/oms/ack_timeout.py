"""The venue-silence timeout: a new order its venue has not acknowledged in time is taken out of the market.

A venue that stops answering leaves its orders PENDING_NEW: the desk cannot tell whether they rest there (and
may fill) or never arrived. The engine arms one timer per new order (``routing.venueAckTimeoutMs``, in the
scheduler's time, the time venue latencies are in). When it fires on an order still PENDING_NEW, the engine
journals ``VenueAckTimedOut`` (the order becomes PENDING_CANCEL; the client's execution report says which venue
and which timeout) and sends the venue a cancel. The order stays open and keeps counting against exposure and
credit until the venue answers, because only the venue knows whether it can still fill.

What a late answer does (nothing is lost, nothing counted twice):
- a late acknowledgement is journaled as ``OrderAccepted`` that keeps the order PENDING_CANCEL: the cancel sent
  at the timeout is already on its way, ahead of any new request, so nothing else needs sending;
- a late fill is booked like any fill (the order stays PENDING_CANCEL, or becomes FILLED);
- the cancel's answer ends it: CANCELED; a cancel rejected for an order the venue never acknowledged (it
  does not know the order) ends it CANCELED too, with the venue's reason; for an order it did acknowledge late,
  a rejected cancel restores its status as for any cancel, and the client decides.
Replaying the journal rebuilds the same state (``OrderBook.unacknowledged``); after a restart an order still
waiting for that cancel's answer is sent the cancel again, never re-submitted (``Recovery``).

An order whose venue did answer, but whose answer routing has not taken yet (held back while the journal works
through a backlog, ``routing/venue_pacing.py``; the engine's ``answer_waiting``), is not timed out: its timer is
armed again, and that answer takes it out of PENDING_NEW when it comes.

Not yet: cancels and replaces a silent venue leaves unanswered stay PENDING_CANCEL / PENDING_REPLACE until it
answers; only new orders have a timeout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradingdesk.core.enums import OrderStatus
from tradingdesk.core.events import OrderEvent, VenueAckTimedOut

if TYPE_CHECKING:
    from tradingdesk.core.orders import Order
    from tradingdesk.oms.engine import OrderEngine

DEFAULT_ACK_TIMEOUT_MS = 2_000


def timeout_text(venue: str, timeout_ms: int) -> str:
    """The reason the client reads on the order's execution report."""
    return f"venue {venue} did not acknowledge the order within {timeout_ms} ms (venue ack timeout); cancel sent"


class AckTimeout:
    """The venue-silence timeout part of ``OrderEngine``.

    Each timer is cancelled as soon as its order leaves PENDING_NEW (``_disarm_ack_timeout``, on the live
    fan-out), so an answered order costs the scheduler nothing more and a manual clock is not moved by it."""

    def _arm_ack_timeout(self: OrderEngine, order: Order) -> None:
        self.ack_timers[order.order_id] = self.scheduler.call_later(
            self.venue_ack_timeout_ms / 1000, self._ack_deadline, order.order_id
        )

    def _disarm_ack_timeout(self: OrderEngine, event: object) -> None:
        """The live fan-out's handler: the venue answered (or the order ended some other way)."""
        if self.ack_timers and isinstance(event, OrderEvent) and event.status != OrderStatus.PENDING_NEW:
            timer = self.ack_timers.pop(event.order_id, None)
            if timer is not None:
                timer.cancel()

    def _ack_deadline(self: OrderEngine, order_id: str) -> None:
        """The timer: an order still PENDING_NEW leaves the market; any other state means the venue answered."""
        self.ack_timers.pop(order_id, None)
        order = self.book.orders.get(order_id)
        if order is None or order.status != OrderStatus.PENDING_NEW:
            return
        if self.answer_waiting(order_id):
            self._arm_ack_timeout(order)  # the venue answered; its answer comes shortly (routing/venue_pacing.py)
            return
        text = timeout_text(order.venue, self.venue_ack_timeout_ms)
        now = self.clock.now_ns()
        self.emit(self.event(VenueAckTimedOut, order, now, status=OrderStatus.PENDING_CANCEL, text=text))
        self.silence.timed_out(order.venue, now)  # smart routing passes over it until it answers (venue_silence.py)
        self.venues[order.venue].cancel(order_id)
