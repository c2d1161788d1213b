"""The order engine: the OMS between clients, the risk gate and venues, event-sourced.

Reading order: this module (the engine and client requests), ``book.py`` (the only code that changes an
order, by applying events), ``venue_events.py`` (what venues report), ``kill_switch.py`` (halting a scope),
``recovery.py`` (the journal back into the same handlers), ``idempotency.py`` (resubmitted ids),
``ack_timeout.py`` (a venue that does not acknowledge a new order in time).

Every change is an event emitted once on the ``EventBus``: the order book, the gate's exposure and the
positions apply it, the journal writer stores it. The engine runs on one thread (the event loop), so it holds
no locks; everything slow (disk, network) happens elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from sys import intern
from typing import Any

from tradingdesk.core.clock import Clock
from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.event_codec import StreamDecoder
from tradingdesk.core.events import (
    CancelRequested,
    DeskEvent,
    JournalEvent,
    OrderEvent,
    OrderPending,
    OrderTerms,
    ReplaceRequested,
)
from tradingdesk.core.fixed import format_fixed
from tradingdesk.core.ids import IdGenerator
from tradingdesk.core.instruments import Instrument
from tradingdesk.core.orders import Order
from tradingdesk.core.reject import invalid, not_found, refused, throttled, unavailable
from tradingdesk.oms.ack_timeout import DEFAULT_ACK_TIMEOUT_MS, AckTimeout
from tradingdesk.oms.book import OrderBook
from tradingdesk.oms.bus import EventBus, JournalAppend, JournalWriter
from tradingdesk.oms.idempotency import (
    duplicate_replace,
    duplicate_retired_replace,
    duplicate_retired_submit,
    duplicate_submit,
)
from tradingdesk.oms.kill_switch import KillSwitch
from tradingdesk.oms.positions import PositionBook
from tradingdesk.oms.recovery import Recovery
from tradingdesk.oms.requests import Ack, NewOrder, OrderRef, ReplaceRequest
from tradingdesk.oms.retired import NONE_RESOLVED, Lookup, Resolved, RetiredOrder, RetiredOrderNeeded
from tradingdesk.oms.router import Router
from tradingdesk.oms.self_match import SelfMatchPrevention
from tradingdesk.oms.snapshot import JournaledLatches
from tradingdesk.oms.venue_events import VenueEvents
from tradingdesk.oms.venue_silence import VenueSilence
from tradingdesk.risk.gate import RiskGate
from tradingdesk.venues.base import Scheduler, Venue, VenueOrder

EXPIRING = frozenset({TimeInForce.DAY, TimeInForce.GTD})
"""Times in force that expire: DAY at its session's close, GTD at its time."""

log = logging.getLogger(__name__)


def _no_answer_waiting(_order_id: str) -> bool:
    """An engine whose venues call it directly: no answer ever waits in between."""
    return False


class OrderEngine(VenueEvents, KillSwitch, Recovery, SelfMatchPrevention, AckTimeout):
    """Client requests here; venue callbacks, the kill switch and recovery in the parts it is made of."""

    def __init__(
        self,
        *,
        instruments: Mapping[str, Instrument],
        gate: RiskGate,
        router: Router,
        venues: Mapping[str, Venue],
        journal_append: JournalAppend,
        clock: Clock,
        scheduler: Scheduler,
        max_open_orders: int = 100_000,
        venue_ack_timeout_ms: int = DEFAULT_ACK_TIMEOUT_MS,
        ids: IdGenerator | None = None,
        finished_orders_kept: int | None = None,
    ) -> None:
        self.instruments = instruments
        self.gate = gate
        self.router = router
        self.venues = venues
        self.clock = clock
        self.scheduler = scheduler
        self.max_open_orders = max_open_orders
        self.venue_ack_timeout_ms = venue_ack_timeout_ms
        self.ack_timers: dict[str, Any] = {}  # order id -> its venue ack timer, while PENDING_NEW (ack_timeout.py)
        self.silence = VenueSilence(ack_timeout_ms=venue_ack_timeout_ms)
        """Venues found silent by the ack timeout, which smart routing avoids (``venue_silence.py``)."""
        self.answer_waiting: Callable[[str], bool] = _no_answer_waiting
        """Whether a venue's answer about an order waits to be taken (set by routing's venue pacer): the ack
        timeout leaves such an order alone."""
        self._expiring_at: dict[int, list[str]] = {}  # expiry time -> ids of the orders its one timer expires
        self.ids = ids or IdGenerator("O")
        self.book = OrderBook(finished_kept=finished_orders_kept)
        self.positions = PositionBook()
        self.marks: dict[str, int] = {}
        self.unseated: set[str] = set()  # recovered open orders not yet put back on a venue
        # rebuild's, kept so a standby's later calls continue its stream; the book holds every open order's terms
        self.replay_decoder = StreamDecoder(keep_resting=True)
        self.journal = JournalWriter(journal_append)
        self.journaled_latches = JournaledLatches()  # what a snapshot carries of the gate's latches
        self.bus = EventBus()
        self.bus.subscribe(self.book.apply)
        self.bus.subscribe(gate.on_order_event)
        self.bus.subscribe(self.positions.on_event)
        self.bus.subscribe(self.journaled_latches)
        self.bus.subscribe(self.journal, replayed=False)
        self.bus.subscribe(self._disarm_ack_timeout, replayed=False)
        gate.bind_instruments({symbol: inst.sector for symbol, inst in instruments.items()})

    # -- views ---------------------------------------------------------------------------------------------------
    @property
    def orders(self) -> dict[str, Order]:
        return self.book.orders

    @property
    def open_orders(self) -> dict[str, Order]:
        return self.book.open_orders

    @property
    def open_count(self) -> int:
        return len(self.book.open_orders)

    @property
    def by_client(self) -> dict[tuple[str, str], str]:
        return self.book.by_client

    @property
    def incidents(self) -> set[tuple[str, str, int]]:
        return self.book.incidents

    @property
    def created_seq(self) -> dict[str, int]:
        """order_id -> seq of the record that created it (idempotent acks), for the orders in memory."""
        return self.book.created_seq

    def find(self, ref: OrderRef, *, retired: Resolved = NONE_RESOLVED) -> Order:
        """The order ``ref`` names, of its account. An order retired from memory is taken from ``retired`` (what
        the caller read back from the journal), or asked for with ``RetiredOrderNeeded``."""
        order_id = ref.order_id or self.book.by_client.get((ref.account, ref.client_order_id), "")
        order = self.book.orders.get(order_id)
        if order is None:
            found = self._retired_order(ref, retired)
            order = found.order if found is not None else None
        if order is None or order.account != ref.account:
            what = f"order_id {ref.order_id!r}" if ref.order_id else f"client_order_id {ref.client_order_id!r}"
            raise not_found(f"{what} is not an order of account {ref.account!r}")
        return order

    def _retired_order(self, ref: OrderRef, retired: Resolved) -> RetiredOrder | None:
        """The retired order ``ref`` names, if there is one; raises ``RetiredOrderNeeded`` until it was read."""
        if ref.order_id:
            if self.book.finished_kept is None:  # nothing is ever retired
                return None
            lookup: Lookup = ("order_id", ref.order_id)
        else:
            seq = self.book.retired.seq_of((ref.account, ref.client_order_id))
            if seq is None:
                return None
            lookup = ("seq", seq)
        if lookup not in retired:
            raise RetiredOrderNeeded(lookup)
        found = retired[lookup]
        if found is None or found.order.account != ref.account:
            return None
        if not ref.order_id and found.order.client_order_id != ref.client_order_id:  # a key collision
            return None
        return found

    def list_orders(
        self, account: str = "", symbol: str = "", *, open_only: bool = False, limit: int = 1000
    ) -> list[Order]:
        out = []
        for order in reversed(self.book.orders.values()):
            if account and order.account != account:
                continue
            if symbol and order.symbol != symbol:
                continue
            if open_only and not order.is_open:
                continue
            out.append(order)
            if len(out) >= limit:
                break
        return out

    def record(self, event: DeskEvent) -> int:
        """Journal a desk event that changes no order (a refused request, a feed's line switch, an access
        decision) through the one fan-out, so recovery sees it like any other; its journal seq."""
        self.bus.emit(event)
        return self.journal.last_seq

    # -- client requests ------------------------------------------------------------------------------------------
    def submit(self, req: NewOrder, *, retired: Resolved = NONE_RESOLVED) -> Ack:
        existing_id = self.book.by_client.get((req.account, req.client_order_id))
        if existing_id is not None:
            return duplicate_submit(self, existing_id, req)
        if self.book.retired.seq_of((req.account, req.client_order_id)) is not None:
            found = self._retired_order(OrderRef(req.account, "", req.client_order_id), retired)
            if found is not None:
                return duplicate_retired_submit(found, req)
        if self.open_count >= self.max_open_orders:
            raise throttled(f"the desk has {self.open_count} open orders, the maximum", "MAX_OPEN_ORDERS")
        now = self.clock.now_ns()
        self.gate.check(
            account=req.account,
            strategy=req.strategy,
            symbol=req.symbol,
            side=req.side,
            order_type=req.order_type,
            qty=req.qty,
            price=req.price,
            now_ns=now,
        )
        return self._send_new(req, now)

    def _send_new(self, req: NewOrder, now: int) -> Ack:
        """The order goes out: journaled as PENDING_NEW, sent to its venue, its expiry timer set (a DAY order
        expires at its session's close, when the desk knows the market's calendar; a GTD order at its time)."""
        expire_ns = req.expire_ns
        if req.tif == TimeInForce.DAY and self.gate.market is not None:
            expire_ns = self.gate.market.day_order_expiry(req.symbol, now)
        terms = OrderTerms(
            order_id=self.ids.next(),
            client_order_id=req.client_order_id,
            # one string object per account and symbol however many orders hold them
            account=intern(req.account),
            strategy=intern(req.strategy),
            symbol=intern(req.symbol),
            side=req.side,
            order_type=req.order_type,
            qty=req.qty,
            price=req.price,
            tif=req.tif,
            expire_ns=expire_ns,
            created_ns=now,
        )
        venue = req.venue or self._route(req.symbol, req.side, now)
        if not getattr(self.venues[venue], "connected", True):  # the router found no other venue for it
            raise unavailable(
                f"venue {venue} is away (disconnected) and no other venue takes {req.symbol}", "VENUE_AWAY"
            )
        # the market data the gate checked the order's reference price against, as the feeds service stamped it
        ref = self.gate.references.get(req.symbol)
        seq = self.emit(
            OrderPending(
                ts_ns=now,
                terms=terms,
                status=OrderStatus.PENDING_NEW,
                venue=venue,
                requested_venue=req.venue,
                reference_ns=ref.data_ns if ref is not None else 0,
            )
        )
        self.created_seq[terms.order_id] = seq
        order = self.book.orders[terms.order_id]
        qty = order.qty
        crossing = self._crossing(order, price=order.price, venue=venue)
        if crossing:
            qty = self._prevent_self_match(order, crossing, now)
            if not qty:
                return Ack.of(order, self.journal.last_seq)
        self.venues[venue].submit(self._venue_order(order, order.order_id, qty, order.price))
        self._arm_ack_timeout(order)
        if order.expire_ns:
            self._schedule_expiry(order)
        return Ack.of(order, seq)

    def _route(self, symbol: str, side: Side, now: int) -> str:
        """Smart routing's venue for a new order, passing over silent venues (``venue_silence.py``)."""
        venue = self.router.choose(symbol, side, avoid=self.silence.avoided(now))
        self.silence.sent(venue, now)
        return venue

    def cancel(self, ref: OrderRef, *, retired: Resolved = NONE_RESOLVED) -> Ack:
        order = self.find(ref, retired=retired)
        self._require_workable(order, "cancel")
        now = self.clock.now_ns()
        self.gate.check_cancel(account=order.account, strategy=order.strategy, now_ns=now)
        seq = self.emit(self.event(CancelRequested, order, now, status=OrderStatus.PENDING_CANCEL))
        self.venues[order.venue].cancel(order.order_id)
        return Ack.of(order, seq)

    def replace(self, rr: ReplaceRequest, *, retired: Resolved = NONE_RESOLVED) -> Ack:
        key = (rr.ref.account, rr.new_client_order_id)
        order = self.find(rr.ref, retired=retired)
        if key in self.book.by_client or key in self.book.replace_requests:
            return duplicate_replace(self, key, order, rr)
        if self.book.retired.seq_of(key) is not None:
            found = self._retired_order(OrderRef(rr.ref.account, "", rr.new_client_order_id), retired)
            if found is not None:
                return duplicate_retired_replace(found, order, rr)
        self._require_workable(order, "replace")
        if order.order_type != OrderType.LIMIT:
            raise refused("only limit orders can be replaced", "NOT_REPLACEABLE")
        inst = self.instruments[order.symbol]
        qty = order.qty if rr.qty is None else rr.qty
        price = order.price if rr.price is None else rr.price
        if rr.qty is not None and (problem := inst.check_qty(qty)):
            raise invalid("quantity", problem)
        if rr.price is not None and (problem := inst.check_price(price)):
            raise invalid("limit_price", problem)
        if qty <= order.cum_qty:
            raise refused(
                f"quantity {format_fixed(qty)} must exceed the {format_fixed(order.cum_qty)} already filled",
                "REPLACE_QTY_TOO_LOW",
            )
        if qty == order.qty and price == order.price:
            raise invalid("quantity", "the replace changes nothing")
        if price != order.price:
            self._refuse_crossing_replace(order, price=price)
        now = self.clock.now_ns()
        self.gate.check_replace(
            account=order.account,
            strategy=order.strategy,
            symbol=order.symbol,
            side=order.side,
            qty=qty - order.cum_qty,
            price=price,
            old_qty=order.qty - order.cum_qty,
            now_ns=now,
        )
        new_order_id = self.ids.next()
        seq = self.emit(
            self.event(
                ReplaceRequested,
                order,
                now,
                status=OrderStatus.PENDING_REPLACE,
                new_order_id=new_order_id,
                new_client_order_id=rr.new_client_order_id,
                new_qty=qty,
                new_price=price,
            )
        )
        self.venues[order.venue].replace(
            order.order_id, self._venue_order(order, new_order_id, qty - order.cum_qty, price)
        )
        return Ack.of(order, seq)

    # -- market data ----------------------------------------------------------------------------------------------
    def on_trade_print(self, symbol: str, price: int) -> None:
        self.marks[symbol] = price

    # -- shared by the parts ----------------------------------------------------------------------------------------
    def emit(self, event: JournalEvent) -> int:
        """Apply ``event`` everywhere and journal it; returns its journal seq."""
        self.bus.emit(event)
        return self.journal.last_seq

    @staticmethod
    def event(event_type: type[OrderEvent], order: Order, now: int, *, status: OrderStatus, **extra) -> OrderEvent:
        """An event of ``order`` moving to ``status``, its other state as it is now (``extra`` overrides)."""
        if not extra:
            return event_type(
                ts_ns=now,
                terms=order.terms,
                status=status,
                cum_qty=order.cum_qty,
                cum_notional=order.cum_notional,
                fees=order.fees,
                venue=order.venue,
                text=order.text,
                replaced_by_order_id=order.replaced_by_order_id,
            )
        state = {
            "cum_qty": order.cum_qty,
            "cum_notional": order.cum_notional,
            "fees": order.fees,
            "venue": order.venue,
            "text": order.text,
            "replaced_by_order_id": order.replaced_by_order_id,
        }
        state.update(extra)
        return event_type(ts_ns=now, terms=order.terms, status=status, **state)

    def _venue_order(self, order: Order, order_id: str, qty: int, price: int) -> VenueOrder:
        smp = self.gate.self_match
        if smp is None:
            return VenueOrder(
                order_id, order.symbol, order.side, order.order_type, qty, price, order.tif, order.account
            )
        return VenueOrder(
            order_id,
            order.symbol,
            order.side,
            order.order_type,
            qty,
            price,
            order.tif,
            order.account,
            smp_id=smp.policy.group_of(order.account),
            smp_mode=smp.policy.mode,
        )

    @staticmethod
    def _require_workable(order: Order, action: str) -> None:
        if not order.is_open:
            raise refused(f"order {order.order_id} is {order.status.name}; nothing to {action}", "ORDER_NOT_OPEN")
        if order.status in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE):
            raise refused(
                f"order {order.order_id} is {order.status.name}; wait for the venue's answer", "REQUEST_PENDING"
            )
        if order.status == OrderStatus.PENDING_NEW:
            raise refused(
                f"order {order.order_id} is not yet acknowledged by {order.venue}; retry in a moment", "PENDING_NEW"
            )

    def _schedule_expiry(self, order: Order) -> None:
        """A DAY or GTD order's timer: the clock says how long until its expiry (a replay clock runs faster
        than the scheduler's time). One timer per expiry time, not per order: every DAY order of a session
        expires at its close, and a timer each cost about 400 bytes per resting order."""
        waiting = self._expiring_at.get(order.expire_ns)
        if waiting is None:
            waiting = self._expiring_at[order.expire_ns] = []
            self.scheduler.call_later(self.clock.seconds_until(order.expire_ns), self._expire_all, order.expire_ns)
        waiting.append(order.order_id)

    def _expire_all(self, expire_ns: int) -> None:
        for order_id in self._expiring_at.pop(expire_ns, ()):
            try:
                self._expire(order_id)
            except Exception:  # one order's venue failing its cancel leaves the others to expire
                log.exception("expiring order %s failed", order_id)

    def _expire(self, order_id: str) -> None:
        order = self.book.orders.get(order_id)
        if order is None or not order.is_open or order.tif not in EXPIRING or not order.expire_ns:
            return
        if self.clock.now_ns() < order.expire_ns:  # the timer ran early for the clock: wait for it
            self._schedule_expiry(order)
            return
        if order_id in self.book.expiring:
            return
        self.book.expiring.add(order_id)
        self.venues[order.venue].cancel(order_id)
