"""The event-sourced order engine: the OMS state machine between clients, the risk gate and venues.

Every change of an order is an event appended to the journal; ``rebuild`` applies the journal in order to
reach the same state after a restart. The engine runs on one thread (the event loop), so it holds no
locks; everything slow (disk, network) happens elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tradingdesk.core.clock import Clock
from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce, side_sign
from tradingdesk.core.fixed import format_fixed, mul, parse_fixed
from tradingdesk.core.ids import IdGenerator
from tradingdesk.core.instruments import Instrument
from tradingdesk.core.orders import Fill, Order
from tradingdesk.core.reject import duplicate, invalid, not_found, refused, throttled
from tradingdesk.oms.events import order_from_payload, order_payload
from tradingdesk.oms.positions import PositionBook
from tradingdesk.oms.requests import NewOrder, OrderRef, ReplaceRequest
from tradingdesk.oms.router import Router
from tradingdesk.risk.gate import RiskGate
from tradingdesk.venues.base import Scheduler, Venue, VenueOrder

S = OrderStatus
JournalAppend = Callable[[str, str, dict[str, Any], int], int]


class JournalRecordLike(Protocol):
    seq: int
    ts_ns: int
    kind: str
    order_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ack:
    """The answer to a request: the order, its status when the request was handled, and the journal seq
    that must be durable before the client hears about it."""

    order: Order
    seq: int
    duplicate: bool = False
    status: OrderStatus = OrderStatus.PENDING_NEW

    @classmethod
    def of(cls, order: Order, seq: int, duplicate: bool = False) -> Ack:
        return cls(order, seq, duplicate, order.status)


@dataclass(frozen=True, slots=True)
class PendingReplace:
    new_order_id: str
    new_client_order_id: str
    qty: int
    price: int


class OrderEngine:
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
        ids: IdGenerator | None = None,
    ) -> None:
        self.instruments = instruments
        self.gate = gate
        self.router = router
        self.venues = venues
        self._append = journal_append
        self.clock = clock
        self.scheduler = scheduler
        self.max_open_orders = max_open_orders
        self.ids = ids or IdGenerator("O")
        self.orders: dict[str, Order] = {}
        self.by_client: dict[tuple[str, str], str] = {}
        self.submitted: dict[str, NewOrder] = {}  # order_id -> the request that created it (idempotency)
        self.replacing: dict[str, PendingReplace] = {}  # old order_id -> replace in flight
        self.replace_requests: dict[tuple[str, str], tuple[str, int | None, int | None]] = {}
        self.expiring: set[str] = set()
        self.created_seq: dict[str, int] = {}
        self.positions = PositionBook()
        self.marks: dict[str, int] = {}
        self.open_count = 0
        self.open_orders: dict[str, Order] = {}
        self.unseated: set[str] = set()  # recovered open orders not yet put back on a venue
        self.incidents: set[tuple[str, str, int]] = set()  # (account, strategy, state changed_ns) journaled
        gate.bind_instruments({symbol: inst.sector for symbol, inst in instruments.items()})

    # -- client requests --------------------------------------------------------------------------------
    def submit(self, req: NewOrder) -> Ack:
        existing_id = self.by_client.get((req.account, req.client_order_id))
        if existing_id is not None:
            return self._duplicate_submit(existing_id, req)
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
        venue = req.venue or self.router.choose(req.symbol, req.side)
        order = Order(
            order_id=self.ids.next(),
            client_order_id=req.client_order_id,
            account=req.account,
            strategy=req.strategy,
            symbol=req.symbol,
            side=req.side,
            order_type=req.order_type,
            qty=req.qty,
            price=req.price,
            tif=req.tif,
            expire_ns=req.expire_ns,
            created_ns=now,
            venue=venue,
            updated_ns=now,
        )
        self._index_new(order, req)
        self.gate.on_open(
            order.order_id, order.account, order.strategy, order.symbol, order.side, order.qty, order.price
        )
        seq = self._record("pending_new", order, now, requested_venue=req.venue)
        self.created_seq[order.order_id] = seq
        self.venues[venue].submit(self._venue_order(order, order.order_id, order.qty, order.price))
        if order.tif == TimeInForce.GTD:
            self._schedule_expiry(order)
        return Ack.of(order, seq)

    def cancel(self, ref: OrderRef) -> Ack:
        order = self.find(ref)
        self._require_workable(order, "cancel")
        now = self.clock.now_ns()
        self.gate.check_cancel(account=order.account, strategy=order.strategy, now_ns=now)
        order.transition(S.PENDING_CANCEL, now)
        seq = self._record("pending_cancel", order, now)
        self.venues[order.venue].cancel(order.order_id)
        return Ack.of(order, seq)

    def replace(self, rr: ReplaceRequest) -> Ack:
        key = (rr.ref.account, rr.new_client_order_id)
        order = self.find(rr.ref)
        if key in self.by_client or key in self.replace_requests:
            return self._duplicate_replace(key, order, rr)
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
        pending = PendingReplace(self.ids.next(), rr.new_client_order_id, qty, price)
        self.replacing[order.order_id] = pending
        self.replace_requests[key] = (order.order_id, rr.qty, rr.price)
        order.transition(S.PENDING_REPLACE, now)
        # Until the venue answers, both the working order and its replacement count against exposure.
        self.gate.on_open(
            pending.new_order_id, order.account, order.strategy, order.symbol, order.side, qty - order.cum_qty, price
        )
        seq = self._record(
            "pending_replace",
            order,
            now,
            new_order_id=pending.new_order_id,
            new_client_order_id=pending.new_client_order_id,
            new_qty=format_fixed(qty),
            new_price=format_fixed(price),
        )
        self.venues[order.venue].replace(
            order.order_id, self._venue_order(order, pending.new_order_id, qty - order.cum_qty, price)
        )
        return Ack.of(order, seq)

    def find(self, ref: OrderRef) -> Order:
        order_id = ref.order_id or self.by_client.get((ref.account, ref.client_order_id), "")
        order = self.orders.get(order_id)
        if order is None or order.account != ref.account:
            what = f"order_id {ref.order_id!r}" if ref.order_id else f"client_order_id {ref.client_order_id!r}"
            raise not_found(f"{what} is not an order of account {ref.account!r}")
        return order

    def list_orders(
        self, account: str = "", symbol: str = "", open_only: bool = False, limit: int = 1000
    ) -> list[Order]:
        out = []
        for order in reversed(self.orders.values()):
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

    # -- kill switch -----------------------------------------------------------------------------------------
    def halt_scope(
        self,
        account: str = "",
        strategy: str = "",
        *,
        actor: str = "",
        reason: str = "",
        changed_ns: int = 0,
        kill_id: str = "",
        flatten: bool = False,
    ) -> dict[str, Any]:
        """A scope went HALTED: cancel all its open orders on every venue at once, optionally flatten its
        positions, and journal an incident report (what was cancelled, positions and P&L at that moment, who
        and why). Returns the report. Empty account and strategy mean the whole desk.

        The orders leave the venues' books immediately (``mass_cancel``); each is confirmed CANCELED by the
        venue's acknowledgement. Orders recovered from the journal but not yet back on a venue are closed
        here directly. A second call for the same state change cancels again but journals no second report.
        """
        now = self.clock.now_ns()
        scoped = [
            o
            for o in self.open_orders.values()
            if (not account or o.account == account) and (not strategy or o.strategy == strategy)
        ]
        cancelled: list[str] = []
        by_venue: dict[str, list[Order]] = {}
        for order in scoped:
            if order.order_id in self.unseated or order.venue not in self.venues:
                order.text = "kill switch"
                order.transition(S.CANCELED, now)
                self._closed(order)
                self._record("canceled", order, now)
            else:
                by_venue.setdefault(order.venue, []).append(order)
            cancelled.append(order.order_id)
        for name, orders in by_venue.items():
            venue = self.venues[name]
            mass_cancel = getattr(venue, "mass_cancel", None)
            if mass_cancel is None:
                for order in orders:
                    if order.status not in (S.PENDING_CANCEL, S.PENDING_REPLACE, S.PENDING_NEW):
                        order.transition(S.PENDING_CANCEL, now)
                        self._record("pending_cancel", order, now)
                    venue.cancel(order.order_id)
            elif not account:
                mass_cancel(None)
            elif not strategy:
                mass_cancel(lambda vo, a=account: vo.account == a)
            else:
                ids = {o.order_id for o in orders}
                ids.update(p.new_order_id for oid, p in self.replacing.items() if oid in ids)
                mass_cancel(lambda vo, ids=ids: vo.order_id in ids)
        key = (account, strategy, changed_ns)
        handled = key in self.incidents  # this very state change was handled before (e.g. before a restart)
        tag = kill_id or str(changed_ns or now)
        flattened = self._flatten(account, strategy, tag, now) if flatten and not handled else []
        positions = [p for p in self.positions.all(account) if p.qty or p.realized_pnl]
        report: dict[str, Any] = {
            "account": account,
            "strategy": strategy,
            "symbol": "",
            "state": "HALTED",
            "actor": actor,
            "reason": reason,
            "state_changed_ns": changed_ns,
            "kill_id": kill_id,
            "open_orders": len(scoped),
            "cancelled": cancelled,
            "positions": [
                {
                    "account": p.account,
                    "symbol": p.symbol,
                    "qty": format_fixed(p.qty),
                    "avg_cost": format_fixed(p.avg_cost),
                    "mark": format_fixed(self.marks.get(p.symbol, 0)),
                    "realized_pnl": format_fixed(p.realized_pnl),
                    "unrealized_pnl": format_fixed(p.unrealized_pnl(self.marks.get(p.symbol, 0))),
                }
                for p in positions
            ],
            "realized_pnl": format_fixed(sum(p.realized_pnl for p in positions)),
            "unrealized_pnl": format_fixed(sum(p.unrealized_pnl(self.marks.get(p.symbol, 0)) for p in positions)),
            "flatten": flatten,
            "flatten_orders": flattened,
        }
        if not handled:
            self.incidents.add(key)
            self._append("incident", "", report, now)
        return report

    def _flatten(self, account: str, strategy: str, tag: str, now: int) -> list[str]:
        """Market IOC orders that close the scope's positions. They bypass the gate (the scope is halted) but
        are ordinary orders in every other way: journaled, routed, filled or cancelled by the venue."""
        if strategy:
            book = self.gate.books.get((account, strategy))
            holdings = [(account, sym, se.pos) for sym, se in book.syms.items()] if book is not None else []
        else:
            holdings = [(p.account, p.symbol, p.qty) for p in self.positions.all(account)]
        out = []
        for i, (acct, symbol, qty) in enumerate(holdings):
            if not qty or symbol not in self.instruments:
                continue
            req = NewOrder(
                client_order_id=f"flatten-{tag}-{i}",
                account=acct,
                strategy=strategy,
                symbol=symbol,
                side=Side.SELL if qty > 0 else Side.BUY,
                order_type=OrderType.MARKET,
                qty=abs(qty),
                price=0,
                tif=TimeInForce.IOC,
            )
            if (acct, req.client_order_id) in self.by_client:
                continue
            out.append(self._send_new(req, now).order.order_id)
        return out

    # -- market data -----------------------------------------------------------------------------------------
    def on_trade_print(self, symbol: str, price: int) -> None:
        self.marks[symbol] = price

    # -- venue callbacks (VenueListener) ---------------------------------------------------------------------
    def on_venue_accepted(self, venue: str, order_id: str) -> None:
        order = self.orders.get(order_id)
        if order is None or order.status != S.PENDING_NEW:
            return
        now = self.clock.now_ns()
        order.transition(S.NEW, now)
        self._record("new", order, now)

    def on_venue_rejected(self, venue: str, order_id: str, reason: str) -> None:
        order = self.orders.get(order_id)
        if order is None or not order.is_open:
            return
        now = self.clock.now_ns()
        order.text = reason
        order.transition(S.REJECTED, now)
        self._closed(order)
        self._record("rejected", order, now)

    def on_venue_fill(self, fill: Fill) -> None:
        order = self.orders.get(fill.order_id)
        if order is None:
            return
        now = self.clock.now_ns()
        latch = self.gate.on_fill(
            order.order_id, order.account, order.strategy, order.symbol, order.side, fill.qty, fill.price, now
        )
        order.cum_qty += fill.qty
        order.cum_notional += mul(fill.price, fill.qty)
        order.fees += fill.fee
        if order.status == S.PENDING_NEW:
            order.transition(S.NEW, now)
        if order.cum_qty >= order.qty:
            order.transition(S.FILLED, now)
            self._closed(order)
        elif order.status in (S.NEW, S.PARTIALLY_FILLED):
            order.transition(S.PARTIALLY_FILLED, now)
        else:
            order.updated_ns = now  # stays PENDING_CANCEL / PENDING_REPLACE: FIX status precedence
        self.positions.get(order.account, order.symbol).apply_fill(
            side_sign(order.side) * fill.qty, fill.price, fill.fee
        )
        self._record(
            "trade",
            order,
            now,
            exec_id=fill.exec_id,
            last_qty=format_fixed(fill.qty),
            last_price=format_fixed(fill.price),
            fee=format_fixed(fill.fee),
            liquidity=fill.liquidity,
            fill_venue=fill.venue,
        )
        if latch is not None:
            self._journal_latch(latch, order.symbol, now)

    def on_venue_canceled(self, venue: str, order_id: str, reason: str) -> None:
        order = self.orders.get(order_id)
        if order is None or not order.is_open:
            return
        now = self.clock.now_ns()
        if order_id in self.expiring:
            self.expiring.discard(order_id)
            order.text = "expired"
            order.transition(S.EXPIRED, now)
            self._closed(order)
            self._record("expired", order, now)
            return
        order.text = reason
        order.transition(S.CANCELED, now)
        self._closed(order)
        pending = self.replacing.pop(order_id, None)
        if pending is not None:
            self.gate.on_close(pending.new_order_id)
        self._record("canceled", order, now)

    def on_venue_cancel_rejected(self, venue: str, order_id: str, reason: str) -> None:
        order = self.orders.get(order_id)
        if order is None or order.status != S.PENDING_CANCEL:
            return
        now = self.clock.now_ns()
        order.transition(S.PARTIALLY_FILLED if order.cum_qty else S.NEW, now)
        self._record("cancel_rejected", order, now, reason=reason)

    def on_venue_replaced(self, venue: str, old_order_id: str, new_order_id: str) -> None:
        old = self.orders.get(old_order_id)
        pending = self.replacing.pop(old_order_id, None)
        if old is None or pending is None or old.status != S.PENDING_REPLACE:
            return
        now = self.clock.now_ns()
        new = Order(
            order_id=pending.new_order_id,
            client_order_id=pending.new_client_order_id,
            account=old.account,
            strategy=old.strategy,
            symbol=old.symbol,
            side=old.side,
            order_type=old.order_type,
            qty=pending.qty,
            price=pending.price,
            tif=old.tif,
            expire_ns=old.expire_ns,
            created_ns=now,
            status=S.PARTIALLY_FILLED if old.cum_qty else S.NEW,
            cum_qty=old.cum_qty,
            cum_notional=old.cum_notional,
            fees=old.fees,
            venue=old.venue,
            updated_ns=now,
            replaces_order_id=old.order_id,
            parent_order_id=old.parent_order_id,
        )
        self._finish_replace(old, new, now)
        self._record("replaced", new, now)

    def on_venue_replace_rejected(self, venue: str, old_order_id: str, reason: str) -> None:
        order = self.orders.get(old_order_id)
        pending = self.replacing.pop(old_order_id, None)
        if order is None or order.status != S.PENDING_REPLACE:
            return
        now = self.clock.now_ns()
        order.transition(S.PARTIALLY_FILLED if order.cum_qty else S.NEW, now)
        if pending is not None:
            self.replace_requests.pop((order.account, pending.new_client_order_id), None)
            self.gate.on_close(pending.new_order_id)
        self._record("replace_rejected", order, now, reason=reason)

    # -- recovery ----------------------------------------------------------------------------------------------
    def rebuild(self, records: Iterable[JournalRecordLike]) -> int:
        """Apply journal records in order; returns how many were applied."""
        count = 0
        for rec in records:
            self.apply_record(rec)
            count += 1
        return count

    def apply_record(self, rec: JournalRecordLike) -> None:
        p = rec.payload
        kind = rec.kind
        if kind == "pending_new":
            order = order_from_payload(rec.order_id, p, rec.ts_ns)
            self._index_new(order, _request_from_payload(order, p.get("requested_venue", "")))
            self.created_seq[order.order_id] = rec.seq
            if order.is_open:
                self.gate.on_open(
                    order.order_id, order.account, order.strategy, order.symbol, order.side, order.qty, order.price
                )
                self.unseated.add(order.order_id)
            return
        if kind == "incident":
            self.incidents.add((p.get("account", ""), p.get("strategy", ""), p.get("state_changed_ns", 0)))
            return
        if kind == "risk_latch":
            self.gate.latch((p["account"], p["strategy"]), p.get("tripped_ns", rec.ts_ns), p.get("reason", ""))
            return
        if kind == "replaced":
            new = order_from_payload(rec.order_id, p, rec.ts_ns)
            old = self.orders.get(new.replaces_order_id)
            self.replacing.pop(new.replaces_order_id, None)
            if old is not None:
                self._finish_replace(old, new, rec.ts_ns)
                if new.is_open:
                    self.unseated.add(new.order_id)
            return
        order = self.orders.get(rec.order_id)
        if order is None:
            return
        was_open = order.is_open
        if kind == "trade":
            self.gate.on_fill(
                order.order_id,
                order.account,
                order.strategy,
                order.symbol,
                order.side,
                parse_fixed(p["last_qty"]),
                parse_fixed(p["last_price"]),
                rec.ts_ns,
                False,
            )
        order.status = S[p["status"]]
        order.cum_qty = parse_fixed(p["cum_qty"])
        order.cum_notional = parse_fixed(p["cum_notional"], allow_negative=True)
        order.fees = parse_fixed(p["fees"], allow_negative=True)
        order.text = p.get("text", "")
        order.updated_ns = rec.ts_ns
        if kind == "trade":
            qty = parse_fixed(p["last_qty"])
            price = parse_fixed(p["last_price"])
            fee = parse_fixed(p["fee"], allow_negative=True)
            self.positions.get(order.account, order.symbol).apply_fill(side_sign(order.side) * qty, price, fee)
        elif kind == "pending_replace":
            new_qty, new_price = parse_fixed(p["new_qty"]), parse_fixed(p["new_price"])
            self.replacing[order.order_id] = PendingReplace(
                p["new_order_id"], p["new_client_order_id"], new_qty, new_price
            )
            self.replace_requests[(order.account, p["new_client_order_id"])] = (order.order_id, None, None)
            self.gate.on_open(
                p["new_order_id"],
                order.account,
                order.strategy,
                order.symbol,
                order.side,
                new_qty - order.cum_qty,
                new_price,
            )
        elif kind == "replace_rejected":
            pending = self.replacing.pop(order.order_id, None)
            if pending is not None:
                self.replace_requests.pop((order.account, pending.new_client_order_id), None)
                self.gate.on_close(pending.new_order_id)
        elif kind == "canceled":
            pending = self.replacing.pop(order.order_id, None)
            if pending is not None:
                self.gate.on_close(pending.new_order_id)
        if was_open and not order.is_open:
            self._closed(order)

    def reseat_open_orders(self) -> int:
        """After a rebuild, put open orders back on the (simulated) venues and restart GTD timers.

        A real venue keeps resting orders across our restart and we would reconcile with it instead; a
        simulated venue lives in our process, so its book is rebuilt from our journal.
        """
        count = 0
        self.unseated.clear()
        for order in list(self.open_orders.values()):
            if not order.is_open or order.venue not in self.venues:
                continue
            if order.status == S.PENDING_CANCEL:
                self.venues[order.venue].cancel(order.order_id)  # unknown there: answered by a cancel reject
            open_qty = order.qty - order.cum_qty
            self.venues[order.venue].submit(self._venue_order(order, order.order_id, open_qty, order.price))
            if order.tif == TimeInForce.GTD:
                self._schedule_expiry(order)
            count += 1
        return count

    # -- internals ---------------------------------------------------------------------------------------------
    def _index_new(self, order: Order, req: NewOrder) -> None:
        self.orders[order.order_id] = order
        self.by_client[(order.account, order.client_order_id)] = order.order_id
        self.submitted[order.order_id] = req
        if order.is_open:
            self.open_count += 1
            self.open_orders[order.order_id] = order

    def _finish_replace(self, old: Order, new: Order, now: int) -> None:
        old.replaced_by_order_id = new.order_id
        old.transition(S.REPLACED, now)
        self._closed(old)
        self.orders[new.order_id] = new
        self.by_client[(new.account, new.client_order_id)] = new.order_id
        self.replace_requests.pop((new.account, new.client_order_id), None)
        if new.is_open:
            self.open_count += 1
            self.open_orders[new.order_id] = new
            self.gate.on_open(
                new.order_id, new.account, new.strategy, new.symbol, new.side, new.qty - new.cum_qty, new.price
            )
        else:
            self.gate.on_close(new.order_id)

    def _closed(self, order: Order) -> None:
        self.open_count -= 1
        self.expiring.discard(order.order_id)
        self.open_orders.pop(order.order_id, None)
        self.unseated.discard(order.order_id)
        self.gate.on_close(order.order_id)

    def _journal_latch(self, latch: tuple[tuple[str, str], str], symbol: str, now: int) -> None:
        (account, strategy), why = latch
        payload = {
            "account": account,
            "strategy": strategy,
            "symbol": symbol,
            "control": "repeated_execution",
            "reason": why,
            "tripped_ns": now,
        }
        self._append("risk_latch", "", payload, now)

    def _record(self, kind: str, order: Order, now: int, **extra: Any) -> int:
        return self._append(kind, order.order_id, order_payload(order, **extra), now)

    def _venue_order(self, order: Order, order_id: str, qty: int, price: int) -> VenueOrder:
        return VenueOrder(order_id, order.symbol, order.side, order.order_type, qty, price, order.tif, order.account)

    def _require_workable(self, order: Order, action: str) -> None:
        if not order.is_open:
            raise refused(f"order {order.order_id} is {order.status.name}; nothing to {action}", "ORDER_NOT_OPEN")
        if order.status in (S.PENDING_CANCEL, S.PENDING_REPLACE):
            raise refused(
                f"order {order.order_id} is {order.status.name}; wait for the venue's answer", "REQUEST_PENDING"
            )
        if order.status == S.PENDING_NEW:
            raise refused(
                f"order {order.order_id} is not yet acknowledged by {order.venue}; retry in a moment", "PENDING_NEW"
            )

    def _duplicate_submit(self, order_id: str, req: NewOrder) -> Ack:
        original = self.submitted.get(order_id)
        order = self.orders[order_id]
        if original is None or not original.same_content(req):
            raise duplicate(
                f"client_order_id {req.client_order_id!r} was already used for a different order ({order_id})",
                "DUPLICATE_CLIENT_ORDER_ID",
            )
        return Ack.of(order, self.created_seq.get(order_id, 0), duplicate=True)

    def _duplicate_replace(self, key: tuple[str, str], order: Order, rr: ReplaceRequest) -> Ack:
        new_id = self.by_client.get(key)
        if new_id is not None:
            new = self.orders[new_id]
            same_target = new.replaces_order_id == order.order_id
            same_terms = (rr.qty is None or rr.qty == new.qty) and (rr.price is None or rr.price == new.price)
            if same_target and same_terms:
                return Ack.of(new, self.created_seq.get(new_id, 0), duplicate=True)
        else:
            target, qty, price = self.replace_requests[key]
            if target == order.order_id and (qty, price) in ((rr.qty, rr.price), (None, None)):
                return Ack.of(order, 0, duplicate=True)
        raise duplicate(
            f"new_client_order_id {rr.new_client_order_id!r} is already in use",
            "DUPLICATE_CLIENT_ORDER_ID",
        )

    def _schedule_expiry(self, order: Order) -> None:
        delay = max(0.0, (order.expire_ns - self.clock.now_ns()) / 1e9)
        self.scheduler.call_later(delay, self._expire, order.order_id)

    def _expire(self, order_id: str) -> None:
        order = self.orders.get(order_id)
        if order is None or not order.is_open or order.tif != TimeInForce.GTD:
            return
        self.expiring.add(order_id)
        self.venues[order.venue].cancel(order_id)


def _request_from_payload(order: Order, requested_venue: str) -> NewOrder:
    return NewOrder(
        client_order_id=order.client_order_id,
        account=order.account,
        strategy=order.strategy,
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        qty=order.qty,
        price=order.price,
        tif=order.tif,
        expire_ns=order.expire_ns,
        venue=requested_venue,
    )
