"""A simulated venue: a real book per symbol seeded from the feed, with latency, fees, queue position,
partial fills and square-root market impact.

Timing model: the matching engine acts as soon as it is called (request, quote or print); everything it
says back (acks, rejects, fills, cancels) reaches the listener ``latency_us`` later through the scheduler.
Replies travel through one FIFO outbox, so they arrive in the order the engine produced them even if the
scheduler breaks ties between equal due times arbitrarily (asyncio does).

Impact applies to external (synthetic market-maker) liquidity only: taking ``q`` of a level holding ``L``
moves the taker's price against it by ``price * bps/10_000 * sqrt(q / L)``, rounded to the tick against
the taker and never past a limit order's limit. Client orders trading with each other do so at the maker's
price without impact.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace as dc_replace
from functools import lru_cache
from math import isqrt
from typing import Any

from tradingdesk.core.clock import Clock
from tradingdesk.core.enums import OrderType, SelfMatchMode, Side, TimeInForce
from tradingdesk.core.fixed import mul
from tradingdesk.core.instruments import Instrument
from tradingdesk.core.orders import Fill
from tradingdesk.venues.base import Scheduler, TopOfBook, VenueListener, VenueOrder
from tradingdesk.venues.book import Execution, OrderBook, Resting
from tradingdesk.venues.faults import VenueFaultMode, fault_reason

log = logging.getLogger(__name__)

_Event = tuple[Callable[..., None], tuple[Any, ...]]

_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_IOC = TimeInForce.IOC
_FOK = TimeInForce.FOK
_BUY = Side.BUY
_CANCEL_OLDEST = SelfMatchMode.CANCEL_OLDEST
_CANCEL_BOTH = SelfMatchMode.CANCEL_BOTH
_DECREMENT = SelfMatchMode.DECREMENT_AND_CANCEL
SMP_REASON = "self-match prevention"


@lru_cache(maxsize=64)
def _ladder(top: int, step: int, qty: int, n: int) -> tuple[tuple[int, int], ...]:
    """``n`` levels from ``top``, ``step`` apart, size growing linearly; none at a price below one tick. Routing gives
    each quote to every venue of its symbol: the venues after the first take the same ladder from the cache."""
    return tuple([(top + i * step, qty * (i + 1)) for i in range(n) if top + i * step > 0])


class SimulatedVenue:
    """An exchange simulator implementing ``venues.base.Venue``.

    Fees are fixed-point money per unit of quantity (negative = rebate); a fill pays
    ``mul(fee_per_unit, qty)``. Exec ids are ``{id_prefix}{n}``; the default prefix carries the start time
    so ids stay unique across restarts of the same venue.
    """

    def __init__(
        self,
        name: str,
        *,
        instruments: dict[str, Instrument],
        listener: VenueListener,
        scheduler: Scheduler,
        clock: Clock,
        latency_us: int = 50,
        maker_fee_per_unit: int = 0,
        taker_fee_per_unit: int = 0,
        impact_coefficient_bps: int = 0,
        depth_levels: int = 4,
        id_prefix: str | None = None,
    ) -> None:
        if latency_us < 0 or impact_coefficient_bps < 0 or depth_levels < 0:
            raise ValueError("latency_us, impact_coefficient_bps and depth_levels must be >= 0")
        self.name = name
        self._instruments = dict(instruments)
        self._books = {symbol: OrderBook(symbol) for symbol in instruments}
        self._listener = listener
        self._scheduler = scheduler
        self._clock = clock
        self._delay = latency_us / 1_000_000
        self._maker_fee = maker_fee_per_unit
        self._taker_fee = taker_fee_per_unit
        self._impact_bps = impact_coefficient_bps
        self._depth_levels = depth_levels
        if id_prefix is None:
            id_prefix = f"{name}-{time.time_ns() // 1_000_000:x}-X"
        self._exec_prefix = id_prefix
        self._exec_seq = 0
        self._where: dict[str, OrderBook] = {}  # resting client order id -> its book
        self._outbox: deque[list[_Event]] = deque()
        self._held: list[list[_Event]] = []  # answers kept back while the venue is silent (TIMEOUT)
        self._fault = VenueFaultMode.NONE

    @property
    def fault(self) -> VenueFaultMode:
        """A fault switched on by an operator (``venues/faults.py``); ``NONE`` on the normal path."""
        return self._fault

    @fault.setter
    def fault(self, mode: VenueFaultMode) -> None:
        """Leaving ``TIMEOUT`` releases every answer held back meanwhile, in the order the engine produced them."""
        self._fault = mode
        if mode is not VenueFaultMode.TIMEOUT and self._held:
            held, self._held = self._held, []
            # counted in the log: what a release costs the desk depends on its size (docs/simulation.md)
            log.info(
                "venue %s: answering again; %d answers held back (%d batches) go out at once",
                self.name,
                sum(len(events) for events in held),
                len(held),
            )
            for events in held:
                self._post(events)

    @property
    def silent(self) -> bool:
        """True while the venue takes messages and answers none (``TIMEOUT``)."""
        return self._fault is VenueFaultMode.TIMEOUT

    @property
    def connected(self) -> bool:
        """False while the venue is ``AWAY``: the router sends nothing new here."""
        return self.fault is not VenueFaultMode.AWAY

    # ---- requests (Venue protocol) -------------------------------------------------------------------

    def submit(self, order: VenueOrder) -> None:
        if self.fault is VenueFaultMode.REJECT_ALL or self.fault is VenueFaultMode.AWAY:
            self._post(
                [(self._listener.on_venue_rejected, (self.name, order.order_id, fault_reason(self.name, self.fault)))]
            )
            return
        out: list[_Event] = []
        self._submit(order, out)
        self._post(out)

    def cancel(self, order_id: str) -> None:
        lst = self._listener
        if self.fault is VenueFaultMode.AWAY:
            self._post([(lst.on_venue_cancel_rejected, (self.name, order_id, fault_reason(self.name, self.fault)))])
            return
        book = self._where.pop(order_id, None)
        if book is None:
            event = (lst.on_venue_cancel_rejected, (self.name, order_id, "unknown order"))
        else:
            book.cancel(order_id)
            event = (lst.on_venue_canceled, (self.name, order_id, "canceled"))
        self._post([event])

    def replace(self, old_order_id: str, new: VenueOrder) -> None:
        if self.fault is VenueFaultMode.REJECT_ALL or self.fault is VenueFaultMode.AWAY:
            reason = fault_reason(self.name, self.fault)
            self._post([(self._listener.on_venue_replace_rejected, (self.name, old_order_id, reason))])
            return
        out: list[_Event] = []
        self._replace(old_order_id, new, out)
        self._post(out)

    def reduce(self, order_id: str, open_qty: int, reason: str) -> None:
        """Reduce a resting order in place (it keeps its priority): answered by ``on_venue_restated``, or by
        ``on_venue_canceled`` when ``open_qty`` is 0. An order no longer resting (filled, cancelled) or already
        as small is left alone: its own reports say what became of it."""
        book = self._where.get(order_id)
        resting = book.get(order_id) if book is not None else None
        if book is None or resting is None or open_qty >= resting.qty or not self.connected:
            return
        out: list[_Event] = []
        if open_qty <= 0:
            self._drop_resting(book, resting, out, reason)
        else:
            book.reduce(order_id, open_qty)
            out.append((self._listener.on_venue_restated, (self.name, order_id, open_qty, reason)))
        self._post(out)

    def mass_cancel(self, predicate: Callable[[VenueOrder], bool] | None = None) -> int:
        """Cancel every resting client order (or those ``predicate`` selects) at once; returns how many.

        The orders leave the book immediately (a kill switch must not wait for acks); each is acknowledged
        by ``on_venue_canceled(..., "mass cancel")`` after the latency. ``predicate`` sees the order as last
        submitted or replaced (``qty`` is not reduced by partial fills).

        While the venue is ``AWAY`` the request never arrives: nothing leaves the book and nothing is answered
        (the OMS keeps those orders open, as they are, and cancels them when the venue is back).
        """
        if not self.connected:
            return 0
        on_canceled = self._listener.on_venue_canceled
        name = self.name
        out: list[_Event] = []
        for book in self._books.values():
            if not len(book):
                continue
            removed = book.remove_where(None if predicate is None else lambda r: predicate(r.ref))
            out.extend((on_canceled, (name, r.order_id, "mass cancel")) for r in removed)
            if predicate is not None:
                for r in removed:
                    del self._where[r.order_id]
        if predicate is None:
            self._where.clear()
        if out:
            self._post(out)
        return len(out)

    # ---- views ---------------------------------------------------------------------------------------

    def top_of_book(self, symbol: str) -> TopOfBook:
        """Best bid/ask combining external and client liquidity; zeros for an unknown symbol or empty side."""
        book = self._books.get(symbol)
        if book is None:
            return TopOfBook(self.name, symbol, 0, 0, 0, 0)
        bid = book.best_bid() or (0, 0)
        ask = book.best_ask() or (0, 0)
        return TopOfBook(self.name, symbol, bid[0], bid[1], ask[0], ask[1])

    def open_orders(self) -> list[VenueOrder]:
        """Resting client orders, each with its current open quantity."""
        out: list[VenueOrder] = []
        for book in self._books.values():
            for r in book.orders():
                ref: VenueOrder = r.ref
                out.append(ref if ref.qty == r.qty else dc_replace(ref, qty=r.qty))
        return out

    def book(self, symbol: str) -> OrderBook:
        """The symbol's book (read-only use: depth, queue position)."""
        return self._books[symbol]

    # ---- market data ---------------------------------------------------------------------------------

    def on_quote(
        self,
        symbol: str,
        bid_price: int,
        bid_qty: int,
        ask_price: int,
        ask_qty: int,
        ts_ns: int,
    ) -> None:
        """Re-seed external liquidity: the quoted size at the touch, then ``depth_levels`` levels one tick
        further out each, size growing linearly. Consumed external liquidity comes back here. A crossed or
        locked quote is bad data and is ignored."""
        book = self._books.get(symbol)
        if book is None:
            return
        has_bid = bid_price > 0 and bid_qty > 0
        has_ask = ask_price > 0 and ask_qty > 0
        if has_bid and has_ask and bid_price >= ask_price:
            return
        tick = self._instruments[symbol].tick_size
        n = self._depth_levels + 1
        bids = _ladder(bid_price - bid_price % tick, -tick, bid_qty, n) if has_bid else ()
        asks = _ladder(-(-ask_price // tick) * tick, tick, ask_qty, n) if has_ask else ()
        book.set_external(bids, asks)

    def on_trade(self, symbol: str, price: int, qty: int, ts_ns: int) -> None:
        """A print advances the queue at its price and fills client orders it reaches or trades through;
        the fills reach the listener after the latency."""
        book = self._books.get(symbol)
        if book is None or qty <= 0:
            return
        execs = book.on_print(price, qty)
        if execs:
            out: list[_Event] = []
            now = self._clock.now_ns()
            for ex in execs:
                if ex.maker is not None:  # prints only ever fill client orders
                    self._maker_fill(ex.maker, ex, symbol, now, out)
            self._post(out)

    # ---- engine --------------------------------------------------------------------------------------

    def _submit(self, o: VenueOrder, out: list[_Event]) -> None:
        book = self._books.get(o.symbol)
        reason = self._check_new(o) if book is not None else f"unknown symbol {o.symbol}"
        if book is None or reason is not None:
            out.append((self._listener.on_venue_rejected, (self.name, o.order_id, reason)))
            return
        out.append((self._listener.on_venue_accepted, (self.name, o.order_id)))
        self._work(book, o, o.qty, out)

    def _check_new(self, o: VenueOrder) -> str | None:
        """Why a new order for a known symbol is refused, or None."""
        inst = self._instruments[o.symbol]
        if err := inst.check_qty(o.qty):
            return f"qty {err}"
        if o.order_type == _LIMIT:
            if err := inst.check_price(o.price):
                return f"price {err}"
        elif o.order_type != _MARKET:
            return f"unsupported order type {o.order_type!r}"
        if o.order_id in self._where:
            return f"duplicate order id {o.order_id}"
        return None

    def _replace(self, old_id: str, new: VenueOrder, out: list[_Event]) -> None:
        lst = self._listener
        book = self._where.get(old_id)
        resting = book.get(old_id) if book is not None else None
        if book is None or resting is None:
            out.append((lst.on_venue_replace_rejected, (self.name, old_id, "unknown order")))
            return
        old: VenueOrder = resting.ref
        inst = self._instruments[old.symbol]
        reason = None
        if new.symbol != old.symbol:
            reason = "symbol cannot change"
        elif new.side != old.side:
            reason = "side cannot change"
        elif new.order_type != _LIMIT:
            reason = "only limit orders can be replaced into"
        elif err := inst.check_qty(new.qty):
            reason = f"qty {err}"
        elif err := inst.check_price(new.price):
            reason = f"price {err}"
        elif new.order_id != old_id and new.order_id in self._where:
            reason = f"duplicate order id {new.order_id}"
        if reason is not None:
            out.append((lst.on_venue_replace_rejected, (self.name, old_id, reason)))
            return
        keeps_priority = new.price == resting.price and new.qty <= resting.qty and new.tif not in (_IOC, _FOK)
        if keeps_priority:
            book.reduce(old_id, new.qty, new.order_id, new)
            del self._where[old_id]
            self._where[new.order_id] = book
            out.append((lst.on_venue_replaced, (self.name, old_id, new.order_id)))
            return
        book.cancel(old_id)
        del self._where[old_id]
        out.append((lst.on_venue_replaced, (self.name, old_id, new.order_id)))
        self._work(book, new, new.qty, out)

    def _work(self, book: OrderBook, o: VenueOrder, qty: int, out: list[_Event]) -> None:
        """Match an accepted (or re-priced) order, then rest or cancel what is left per its type and TIF.

        An order with a self-match group stops in front of a resting order of the same group; its mode
        decides what gives way (``_prevent_self_match``), then matching goes on with what is left."""
        buy = o.side == _BUY
        limit = o.price if o.order_type == _LIMIT else None
        tif = o.tif
        smp = o.smp_id
        if tif == _FOK and book.available(buy, qty, limit, smp) < qty:
            out.append((self._listener.on_venue_canceled, (self.name, o.order_id, "FOK")))
            return
        while qty:
            execs, blocker = book.match_until_self(buy, qty, limit, smp)
            if execs:
                qty = self._taker_fills(o, execs, qty, buy=buy, limit=limit, out=out)
            if blocker is None:
                break
            qty = self._prevent_self_match(book, o, blocker, qty, out)
            if qty < 0:
                return  # the incoming order was cancelled
        if not qty:
            return
        if limit is None or tif in (_IOC, _FOK):
            reason = "no liquidity" if limit is None else tif.name
            out.append((self._listener.on_venue_canceled, (self.name, o.order_id, reason)))
        else:
            # DAY/GTC/GTD rest; VenueOrder carries no expiry, so the OMS expires DAY/GTD by cancelling.
            book.add(o.order_id, buy, o.price, qty, o, smp)
            self._where[o.order_id] = book

    def _taker_fills(
        self, o: VenueOrder, execs: list[Execution], qty: int, *, buy: bool, limit: int | None, out: list[_Event]
    ) -> int:
        """The fills of an incoming order (and of the resting orders it met); returns what is left of ``qty``."""
        now = self._clock.now_ns()
        on_fill = self._listener.on_venue_fill
        taker_fee = self._taker_fee
        symbol = o.symbol
        for ex in execs:
            if ex.maker is None:
                price = self._impact_price(ex, buy, limit, symbol)
            else:
                price = ex.price
                self._maker_fill(ex.maker, ex, symbol, now, out)
            qty -= ex.qty
            self._exec_seq += 1
            fill = Fill(
                exec_id=f"{self._exec_prefix}{self._exec_seq}",
                order_id=o.order_id,
                symbol=symbol,
                side=o.side,
                qty=ex.qty,
                price=price,
                fee=mul(taker_fee, ex.qty),
                venue=self.name,
                liquidity="T",
                ts_ns=now,
            )
            out.append((on_fill, (fill,)))
        return qty

    def _prevent_self_match(self, book: OrderBook, o: VenueOrder, resting: Resting, qty: int, out: list[_Event]) -> int:
        """The incoming order ``o`` (``qty`` open) would trade with ``resting`` of its own group: apply ``o``'s
        mode. Returns the incoming order's open quantity to go on matching, or -1 once it is cancelled."""
        mode = o.smp_mode
        on_canceled = self._listener.on_venue_canceled
        if mode in (_CANCEL_OLDEST, _CANCEL_BOTH):
            self._drop_resting(book, resting, out, SMP_REASON)
            if mode == _CANCEL_OLDEST:
                return qty
        elif mode == _DECREMENT:
            overlap = min(resting.qty, qty)
            left = resting.qty - overlap
            if not left:
                self._drop_resting(book, resting, out, SMP_REASON)
            else:
                book.reduce(resting.order_id, left)
                out.append((self._listener.on_venue_restated, (self.name, resting.order_id, left, SMP_REASON)))
            qty -= overlap
            if qty:
                out.append((self._listener.on_venue_restated, (self.name, o.order_id, qty, SMP_REASON)))
                return qty
        out.append((on_canceled, (self.name, o.order_id, SMP_REASON)))
        return -1

    def _drop_resting(self, book: OrderBook, resting: Resting, out: list[_Event], reason: str) -> None:
        book.cancel(resting.order_id)
        del self._where[resting.order_id]
        out.append((self._listener.on_venue_canceled, (self.name, resting.order_id, reason)))

    def _maker_fill(self, maker: Resting, ex: Execution, symbol: str, now: int, out: list[_Event]) -> None:
        order: VenueOrder = maker.ref
        if not maker.qty:
            del self._where[maker.order_id]
        self._exec_seq += 1
        fill = Fill(
            exec_id=f"{self._exec_prefix}{self._exec_seq}",
            order_id=maker.order_id,
            symbol=symbol,
            side=order.side,
            qty=ex.qty,
            price=ex.price,
            fee=mul(self._maker_fee, ex.qty),
            venue=self.name,
            liquidity="M",
            ts_ns=now,
        )
        out.append((self._listener.on_venue_fill, (fill,)))

    def _impact_price(self, ex: Execution, buy: bool, limit: int | None, symbol: str) -> int:
        """Level price moved against the taker by square-root impact, on the tick grid, capped at the limit.

        impact = P * c / 10^4 * sqrt(q / L) = sqrt(P^2 c^2 q / (10^8 L)), rounded up exactly with isqrt.
        """
        c = self._impact_bps
        price = ex.price
        if not c:
            return price
        num = price * price * c * c * ex.qty
        den = 100_000_000 * ex.level_qty
        impact = isqrt(num // den)
        if impact * impact * den < num:
            impact += 1
        inst = self._instruments[symbol]
        if buy:
            price = inst.round_to_tick(price + impact, up=True)
            return limit if limit is not None and price > limit else price
        price = inst.round_to_tick(price - impact, up=False)
        return limit if limit is not None and price < limit else price

    # ---- delivery ------------------------------------------------------------------------------------

    def _post(self, events: list[_Event]) -> None:
        """Queue one batch of replies for delivery after the latency (held back while the venue is silent)."""
        if self._fault is VenueFaultMode.TIMEOUT:
            self._held.append(events)
            return
        self._outbox.append(events)
        self._scheduler.call_later(self._delay, self._deliver)

    def _deliver(self) -> None:
        # Each timer delivers the oldest batch, not "its own": with a constant delay the oldest batch is
        # always due, and FIFO order survives schedulers that do not keep ties in order.
        for fn, args in self._outbox.popleft():
            fn(*args)
