"""Halting a scope: every open order of it leaves every venue at once, optionally its positions are closed,
and one incident report is journaled for the state change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.events import CancelRequested, Incident, OrderCanceled, PositionReport
from tradingdesk.core.orders import Order
from tradingdesk.oms.requests import NewOrder

if TYPE_CHECKING:
    from tradingdesk.oms.engine import OrderEngine


class KillSwitch:
    """The kill switch part of ``OrderEngine``."""

    def halt_scope(
        self: OrderEngine,
        account: str = "",
        strategy: str = "",
        *,
        actor: str = "",
        reason: str = "",
        changed_ns: int = 0,
        kill_id: str = "",
        flatten: bool = False,
    ) -> Incident:
        """A scope went HALTED: cancel all its open orders on every venue at once, optionally flatten its
        positions, and journal an incident report (what was cancelled, positions and P&L at that moment, who
        and why). Returns the report. Empty account and strategy mean the whole desk.

        The orders leave the venues' books immediately (``mass_cancel``); each is confirmed CANCELED by the
        venue's acknowledgement. Orders recovered from the journal but not yet back on a venue are closed
        here directly. Orders at a venue that is away stay open until it is back (``cancel_halted_at``). A
        second call for the same state change cancels again but journals no second report.
        """
        now = self.clock.now_ns()
        scoped = [
            o
            for o in self.book.open_orders.values()
            if (not account or o.account == account) and (not strategy or o.strategy == strategy)
        ]
        cancelled: list[str] = []
        by_venue: dict[str, list[Order]] = {}
        for order in scoped:
            if order.order_id in self.unseated or order.venue not in self.venues:
                self.unseated.discard(order.order_id)
                self.emit(self.event(OrderCanceled, order, now, status=OrderStatus.CANCELED, text="kill switch"))
            else:
                by_venue.setdefault(order.venue, []).append(order)
            cancelled.append(order.order_id)
        for name, orders in by_venue.items():
            self._cancel_at_venue(name, orders, account=account, strategy=strategy, now=now)
        key = (account, strategy, changed_ns)
        handled = key in self.book.incidents  # this very state change was handled before (e.g. before a restart)
        tag = kill_id or str(changed_ns or now)
        flattened = self._flatten(account, strategy, tag, now) if flatten and not handled else []
        marks = self.marks
        positions = tuple(
            PositionReport(
                account=p.account,
                symbol=p.symbol,
                qty=p.qty,
                avg_cost=p.avg_cost,
                mark=marks.get(p.symbol, 0),
                realized_pnl=p.realized_pnl,
                unrealized_pnl=p.unrealized_pnl(marks.get(p.symbol, 0)),
            )
            for p in self.positions.all(account)
            if p.qty or p.realized_pnl
        )
        report = Incident(
            ts_ns=now,
            account=account,
            strategy=strategy,
            actor=actor,
            reason=reason,
            state_changed_ns=changed_ns,
            kill_id=kill_id,
            open_orders=len(scoped),
            cancelled=tuple(cancelled),
            positions=positions,
            realized_pnl=sum(p.realized_pnl for p in positions),
            unrealized_pnl=sum(p.unrealized_pnl for p in positions),
            flatten=flatten,
            flatten_orders=tuple(flattened),
        )
        if not handled:
            self.emit(report)
        return report

    def cancel_halted_at(self: OrderEngine, name: str, halted: Iterable[tuple[str, str]]) -> int:
        """A venue is back after being away (disconnected) while scopes were halted: the halts' cancels never
        reached it, so the orders of those scopes still open there leave it now. Returns how many; the incident
        reports were journaled at the halts and are not repeated."""
        now = self.clock.now_ns()
        count = 0
        for account, strategy in halted:
            orders = [
                o
                for o in self.book.open_orders.values()
                if o.venue == name
                and (not account or o.account == account)
                and (not strategy or o.strategy == strategy)
            ]
            if orders:
                self._cancel_at_venue(name, orders, account=account, strategy=strategy, now=now)
                count += len(orders)
        return count

    def _cancel_at_venue(
        self: OrderEngine, name: str, orders: list[Order], *, account: str, strategy: str, now: int
    ) -> None:
        venue = self.venues[name]
        mass_cancel = getattr(venue, "mass_cancel", None)
        if mass_cancel is None:
            for order in orders:
                if order.status not in (
                    OrderStatus.PENDING_CANCEL,
                    OrderStatus.PENDING_REPLACE,
                    OrderStatus.PENDING_NEW,
                ):
                    self.emit(self.event(CancelRequested, order, now, status=OrderStatus.PENDING_CANCEL))
                venue.cancel(order.order_id)
        elif not account:
            mass_cancel(None)
        elif not strategy:
            mass_cancel(lambda vo, a=account: vo.account == a)
        else:
            ids = {o.order_id for o in orders}
            ids.update(p.new_order_id for oid, p in self.book.replacing.items() if oid in ids)
            mass_cancel(lambda vo, ids=ids: vo.order_id in ids)

    def _flatten(self: OrderEngine, account: str, strategy: str, tag: str, now: int) -> list[str]:
        """Market IOC orders that close the scope's positions. They bypass the gate (the scope is halted) but
        are ordinary orders in every other way: journaled, routed, filled or cancelled by the venue."""
        if strategy:
            holdings = [(account, symbol, qty) for symbol, qty in self.gate.positions_of((account, strategy)).items()]
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
            if self.book.reserved((acct, req.client_order_id)):  # this kill's flatten order, sent before
                continue
            out.append(self._send_new(req, now).order.order_id)
        return out
