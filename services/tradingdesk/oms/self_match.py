"""Self-match prevention across venues: a new order that would trade with one of the desk's own working orders
resting on another venue gets the same treatment a venue gives two orders of one group in its book.

Within one venue the venue itself applies the mode at match time (``venues/simulated.py``); this part of the
engine covers what no single venue can see (``risk/gate/self_match.py`` finds the orders). The resting
orders give way through the venue (``Venue.reduce``: cancelled at 0, decremented otherwise), so their
reports come from the venue as for any venue-side self-match prevention; the new order is cancelled or
restated here, before it is sent.
"""

from __future__ import annotations

from dataclasses import replace as dc_replace
from typing import TYPE_CHECKING

from tradingdesk.core.enums import OrderStatus, SelfMatchMode
from tradingdesk.core.events import OrderCanceled, OrderRestated
from tradingdesk.core.orders import Order
from tradingdesk.core.reject import refused
from tradingdesk.risk.gate.self_match import WorkingOrder

if TYPE_CHECKING:
    from tradingdesk.oms.engine import OrderEngine

SMP_REASON = "self-match prevention"


class SelfMatchPrevention:
    """The cross-venue self-match part of ``OrderEngine``."""

    def _crossing(self: OrderEngine, order: Order, *, price: int, venue: str, exclude: str = "") -> list[WorkingOrder]:
        book = self.gate.self_match
        if book is None:
            return []
        return book.crossing(
            account=order.account, symbol=order.symbol, side=order.side, price=price, venue=venue, exclude=exclude
        )

    def _prevent_self_match(self: OrderEngine, order: Order, crossing: list[WorkingOrder], now: int) -> int:
        """Apply the desk's mode to a new order (journaled, not yet sent) and the working orders of its group it
        would trade with on other venues. Returns the quantity to send (0: the new order was cancelled)."""
        assert self.gate.self_match is not None
        mode = self.gate.self_match.policy.mode
        others = ", ".join(f"{w.order_id} on {w.venue}" for w in crossing)
        qty = order.qty
        if mode in (SelfMatchMode.CANCEL_OLDEST, SelfMatchMode.CANCEL_BOTH):
            for w in crossing:
                self.venues[w.venue].reduce(w.order_id, 0, SMP_REASON)
            if mode == SelfMatchMode.CANCEL_OLDEST:
                return qty
        elif mode == SelfMatchMode.DECREMENT_AND_CANCEL:
            for w in crossing:
                if not qty:
                    break
                overlap = min(w.open_qty, qty)
                self.venues[w.venue].reduce(w.order_id, w.open_qty - overlap, SMP_REASON)
                qty -= overlap
            if qty:
                terms = dc_replace(order.terms, qty=qty, encoded=None)
                self.emit(
                    OrderRestated(
                        ts_ns=now,
                        terms=terms,
                        status=order.status,
                        venue=order.venue,
                        text=f"{SMP_REASON}: decremented by the quantity of {others}",
                    )
                )
                return qty
        self.emit(
            self.event(
                OrderCanceled, order, now, status=OrderStatus.CANCELED, text=f"{SMP_REASON}: would trade with {others}"
            )
        )
        return 0

    def _refuse_crossing_replace(self: OrderEngine, order: Order, *, price: int) -> None:
        """A replace must not make a working order trade with another of its group on another venue."""
        crossing = self._crossing(order, price=price, venue=order.venue, exclude=order.order_id)
        if crossing:
            others = ", ".join(f"{w.order_id} on {w.venue}" for w in crossing)
            raise refused(f"{SMP_REASON}: at that price the order would trade with {others}", "SELF_MATCH")
