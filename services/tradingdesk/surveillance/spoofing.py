"""Spoofing and layering: large orders placed near the touch on one side, cancelled once a small order of the
same owner has executed on the other side. The large orders were never meant to trade: they moved the book
so the small order could execute at a better price.

An execution of the owner on one side opens a case. An order of the same owner and symbol on the other side
is part of it when it was placed at most ``lookbackMs`` before the execution, near the touch (its price at
most ``nearTouchBps`` from the best price on its side when it was placed: joining or improving the touch
counts; with no quote yet nothing is near), at least ``sizeRatio`` times the executed quantity, and cancelled
at most ``cancelWithinMs`` after the execution. When the case's window closes, one alert covers the
execution and every such order: layering when they stood at ``layeringLevels`` or more distinct prices,
spoofing otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from tradingdesk.core.activity import Activity, MarketActivity, MarketQuote, OrderActivity
from tradingdesk.core.fixed import format_fixed
from tradingdesk.spec.conduct import SpoofingSpec
from tradingdesk.surveillance.alerts import LAYERING, SPOOFING, Alert
from tradingdesk.surveillance.owners import Owners


@dataclass(slots=True)
class _Case:
    execution: OrderActivity
    cancelled: list[tuple[OrderActivity, int]] = field(default_factory=list)
    """Orders of the other side that qualify, with their cancel time."""


class SpoofingDetector:
    name = SPOOFING

    def __init__(self, spec: SpoofingSpec, owners: Owners) -> None:
        self.spec = spec
        self.owners = owners
        self.lookback_ns = spec.lookback_ms * 1_000_000
        self.cancel_ns = spec.cancel_within_ms * 1_000_000
        self._quotes: dict[str, MarketQuote] = {}
        self._open: dict[str, OrderActivity] = {}
        """Open orders placed near the touch (no other order can be part of a case), by order id."""
        self._cases: dict[tuple[str, str], list[_Case]] = defaultdict(list)

    def on_market(self, ev: MarketActivity) -> list[Alert]:
        if isinstance(ev, MarketQuote):
            self._quotes[ev.symbol] = ev
        return []

    def on_order(self, ev: OrderActivity) -> list[Alert]:
        kind = ev.kind
        key = (self.owners.of(ev.account), ev.symbol)
        if kind is Activity.NEW or kind is Activity.MODIFY:
            self._open.pop(ev.prior_order_id, None)
            if self._near_touch(ev):  # only an order placed near the touch can be part of a case
                self._open[ev.order_id] = ev
        elif kind is Activity.FILL:
            self._cases[key].append(_Case(ev))
            if ev.leaves_qty == 0:
                self._open.pop(ev.order_id, None)
        elif kind is Activity.CANCEL:
            placed = self._open.pop(ev.order_id, None)
            if placed is not None:
                self._attach(key, placed, ev.ts_ns)
        elif kind is Activity.EXPIRE or kind is Activity.REJECT:
            self._open.pop(ev.order_id, None)
        return []

    def _near_touch(self, ev: OrderActivity) -> bool:
        quote = self._quotes.get(ev.symbol)
        if quote is None or not ev.price:
            return False
        bps = self.spec.near_touch_bps
        if ev.is_buy:
            return quote.bid > 0 and (quote.bid - ev.price) * 10_000 <= quote.bid * bps
        return quote.ask > 0 and (ev.price - quote.ask) * 10_000 <= quote.ask * bps

    def _attach(self, key: tuple[str, str], order: OrderActivity, cancel_ns: int) -> None:
        for case in self._cases[key]:
            ex = case.execution
            if (
                ex.is_buy != order.is_buy
                and order.ts_ns <= ex.ts_ns <= order.ts_ns + self.lookback_ns
                and cancel_ns - ex.ts_ns <= self.cancel_ns
                and order.qty >= self.spec.size_ratio * ex.fill_qty
            ):
                case.cancelled.append((order, cancel_ns))
                return  # one case per order: the earliest execution it qualifies for

    def advance(self, now_ns: int) -> list[Alert]:
        alerts: list[Alert] = []
        for key, cases in list(self._cases.items()):
            while cases and cases[0].execution.ts_ns + self.cancel_ns < now_ns:
                case = cases.pop(0)
                if case.cancelled:
                    alerts.append(self._alert(key[0], case))
            if not cases:
                del self._cases[key]
        return alerts

    def _alert(self, owner: str, case: _Case) -> Alert:
        ex = case.execution
        orders = [order for order, _ in case.cancelled]
        prices = sorted({o.price for o in orders})
        layering = len(prices) >= self.spec.layering_levels
        total = sum(o.qty for o in orders)
        last_cancel_ms = (max(c for _, c in case.cancelled) - ex.ts_ns) // 1_000_000
        side = "buy" if orders[0].is_buy else "sell"
        summary = (
            f"{owner} placed {len(orders)} large {side} order(s) of {format_fixed(total)} {ex.symbol} near the touch "
            f"at {', '.join(format_fixed(p) for p in prices)}, {'bought' if ex.is_buy else 'sold'} "
            f"{format_fixed(ex.fill_qty)} at {format_fixed(ex.fill_price)} on the other side, and cancelled them "
            f"within {last_cancel_ms} ms"
        )
        return Alert(
            LAYERING if layering else SPOOFING,
            ex.ts_ns,
            owner,
            tuple(dict.fromkeys([ex.account, *(o.account for o in orders)])),
            ex.symbol,
            (ex.order_id, *(o.order_id for o in orders)),
            summary,
            (
                ("executed_qty", format_fixed(ex.fill_qty)),
                ("cancelled_qty", format_fixed(total)),
                ("price_levels", str(len(prices))),
                ("cancelled_within_ms", str(last_cancel_ms)),
                ("size_ratio", str(self.spec.size_ratio)),
            ),
        )
