"""What venues report, turned into order events (the engine is the venues' ``VenueListener``).

Venues answer asynchronously, after their latency, so each callback first checks that the order is still in
the state the answer is for; a late or repeated answer changes nothing. Any answer at all first tells the engine's
``silence`` that the venue answers (a venue found silent is back in smart routing: ``venue_silence.py``).
"""

from __future__ import annotations

from dataclasses import replace as dc_replace
from typing import TYPE_CHECKING

from tradingdesk.core.enums import OrderStatus, TimeInForce
from tradingdesk.core.events import (
    CancelRejected,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderRestated,
    OrderTerms,
    ReplaceRejected,
    RiskLatched,
)
from tradingdesk.core.fixed import mul
from tradingdesk.core.orders import Fill

if TYPE_CHECKING:
    from tradingdesk.oms.engine import OrderEngine


class VenueEvents:
    """The ``VenueListener`` part of ``OrderEngine``."""

    def on_venue_accepted(self: OrderEngine, venue: str, order_id: str) -> None:
        self.silence.answered(venue)
        order = self.book.orders.get(order_id)
        if order is None:
            return
        if order_id in self.book.unacknowledged and order.status == OrderStatus.PENDING_CANCEL:
            # After the ack timeout (oms/ack_timeout.py): the cancel sent then is on its way; say the venue has it.
            text = f"venue {venue} acknowledged the order after the ack timeout; the cancel sent then is pending"
            now = self.clock.now_ns()
            self.emit(self.event(OrderAccepted, order, now, status=OrderStatus.PENDING_CANCEL, text=text))
            return
        if order.status != OrderStatus.PENDING_NEW:
            return
        self.emit(self.event(OrderAccepted, order, self.clock.now_ns(), status=OrderStatus.NEW))

    def on_venue_rejected(self: OrderEngine, venue: str, order_id: str, reason: str) -> None:
        """A new order refused. An order the venue had acknowledged before cannot become REJECTED (FIX): a
        simulated venue refuses one that routing puts back on it after a restart while the venue is faulted;
        the order is then not working there any more, so it ends CANCELED with the venue's reason."""
        self.silence.answered(venue)
        order = self.book.orders.get(order_id)
        if order is None or not order.is_open:
            return
        now = self.clock.now_ns()
        if order.status == OrderStatus.PENDING_NEW:
            self.emit(self.event(OrderRejected, order, now, status=OrderStatus.REJECTED, text=reason))
        else:
            text = f"{reason} (the venue no longer holds the order)"
            self.emit(self.event(OrderCanceled, order, now, status=OrderStatus.CANCELED, text=text))

    def on_venue_fill(self: OrderEngine, fill: Fill) -> None:
        self.silence.answered(fill.venue)
        order = self.book.orders.get(fill.order_id)
        if order is None:
            return
        now = self.clock.now_ns()
        cum_qty = order.cum_qty + fill.qty
        if cum_qty >= order.qty:
            status = OrderStatus.FILLED
        elif order.status in (OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            status = OrderStatus.PARTIALLY_FILLED
        else:
            status = order.status  # stays PENDING_CANCEL / PENDING_REPLACE: FIX status precedence
        self.emit(
            self.event(
                OrderFilled,
                order,
                now,
                status=status,
                cum_qty=cum_qty,
                cum_notional=order.cum_notional + mul(fill.price, fill.qty),
                fees=order.fees + fill.fee,
                exec_id=fill.exec_id,
                last_qty=fill.qty,
                last_price=fill.price,
                fee=fill.fee,
                liquidity=fill.liquidity,
                fill_venue=fill.venue,
            )
        )
        latch = self.gate.count_execution(
            order_id=order.order_id, account=order.account, strategy=order.strategy, symbol=order.symbol, now_ns=now
        )
        if latch is not None:
            (account, strategy), why = latch
            self.emit(
                RiskLatched(
                    ts_ns=now, account=account, strategy=strategy, symbol=order.symbol, reason=why, tripped_ns=now
                )
            )

    def on_venue_canceled(self: OrderEngine, venue: str, order_id: str, reason: str) -> None:
        self.silence.answered(venue)
        order = self.book.orders.get(order_id)
        if order is None or not order.is_open:
            return
        now = self.clock.now_ns()
        if order_id in self.book.expiring:
            why = "DAY order expired at the close" if order.tif == TimeInForce.DAY else "GTD order expired"
            self.emit(self.event(OrderExpired, order, now, status=OrderStatus.EXPIRED, text=why))
        else:
            self.emit(self.event(OrderCanceled, order, now, status=OrderStatus.CANCELED, text=reason))

    def on_venue_cancel_rejected(self: OrderEngine, venue: str, order_id: str, reason: str) -> None:
        self.silence.answered(venue)
        order = self.book.orders.get(order_id)
        if order is None or order.status != OrderStatus.PENDING_CANCEL:
            return
        if order_id in self.book.unacknowledged:  # timed out and never acknowledged: the venue does not have it
            text = f"venue {venue} never acknowledged the order and refused its cancel ({reason}): not at the venue"
            self.emit(self.event(OrderCanceled, order, self.clock.now_ns(), status=OrderStatus.CANCELED, text=text))
            return
        status = OrderStatus.PARTIALLY_FILLED if order.cum_qty else OrderStatus.NEW
        self.emit(self.event(CancelRejected, order, self.clock.now_ns(), status=status, reason=reason))

    def on_venue_replaced(self: OrderEngine, venue: str, old_order_id: str, new_order_id: str) -> None:
        self.silence.answered(venue)
        old = self.book.orders.get(old_order_id)
        pending = self.book.replacing.get(old_order_id)
        if old is None or pending is None or old.status != OrderStatus.PENDING_REPLACE:
            return
        now = self.clock.now_ns()
        terms = OrderTerms(
            order_id=pending.new_order_id,
            client_order_id=pending.new_client_order_id,
            account=old.account,
            strategy=old.strategy,
            symbol=old.symbol,
            side=old.side,
            order_type=old.order_type,
            qty=pending.new_qty,
            price=pending.new_price,
            tif=old.tif,
            expire_ns=old.expire_ns,
            created_ns=now,
            replaces_order_id=old.order_id,
            parent_order_id=old.parent_order_id,
        )
        seq = self.emit(
            OrderReplaced(
                ts_ns=now,
                terms=terms,
                status=OrderStatus.PARTIALLY_FILLED if old.cum_qty else OrderStatus.NEW,
                cum_qty=old.cum_qty,
                cum_notional=old.cum_notional,
                fees=old.fees,
                venue=old.venue,
            )
        )
        self.created_seq[terms.order_id] = seq

    def on_venue_replace_rejected(self: OrderEngine, venue: str, old_order_id: str, reason: str) -> None:
        self.silence.answered(venue)
        order = self.book.orders.get(old_order_id)
        if order is None or order.status != OrderStatus.PENDING_REPLACE:
            return
        status = OrderStatus.PARTIALLY_FILLED if order.cum_qty else OrderStatus.NEW
        self.emit(self.event(ReplaceRejected, order, self.clock.now_ns(), status=status, reason=reason))

    def on_venue_restated(self: OrderEngine, venue: str, order_id: str, open_qty: int, reason: str) -> None:
        """The venue reduced the order (self-match prevention): its quantity is now what it has filled plus
        ``open_qty``."""
        self.silence.answered(venue)
        order = self.book.orders.get(order_id)
        if order is None or not order.is_open or open_qty <= 0:
            return
        qty = order.cum_qty + open_qty
        if qty >= order.qty:
            return
        terms = dc_replace(order.terms, qty=qty, encoded=None)
        self.emit(
            OrderRestated(
                ts_ns=self.clock.now_ns(),
                terms=terms,
                status=order.status,
                cum_qty=order.cum_qty,
                cum_notional=order.cum_notional,
                fees=order.fees,
                venue=order.venue,
                text=reason,
                replaced_by_order_id=order.replaced_by_order_id,
            )
        )
