"""Wash trades: one beneficial owner on both sides. A buy and a sell of the same symbol by accounts of the same
owner (the same account included), on any venues, within ``windowMs`` of each other and at prices at most
``priceBandBps`` apart, change no beneficial ownership: they only print volume and prices."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from tradingdesk.core.activity import Activity, MarketActivity, OrderActivity
from tradingdesk.core.fixed import format_fixed
from tradingdesk.spec.conduct import WashTradeSpec
from tradingdesk.surveillance.alerts import WASH_TRADE, Alert
from tradingdesk.surveillance.owners import Owners


@dataclass(slots=True)
class _Fill:
    event: OrderActivity
    remaining: int
    """Quantity not yet matched against the other side by an earlier alert."""


class WashTradeDetector:
    name = WASH_TRADE

    def __init__(self, spec: WashTradeSpec, owners: Owners) -> None:
        self.window_ns = spec.window_ms * 1_000_000
        self.band_bps = spec.price_band_bps
        self.owners = owners
        self._recent: dict[tuple[str, str, bool], deque[_Fill]] = defaultdict(deque)  # (owner, symbol, buy)

    def on_order(self, ev: OrderActivity) -> list[Alert]:
        if ev.kind is not Activity.FILL:
            return []
        owner = self.owners.of(ev.account)
        buy = ev.is_buy
        horizon = ev.ts_ns - self.window_ns
        # Fills are kept by side: a fill is only ever matched against the other side's.
        opposite = self._recent[owner, ev.symbol, not buy]
        while opposite and (opposite[0].event.ts_ns < horizon or opposite[0].remaining <= 0):
            opposite.popleft()
        fill = _Fill(ev, ev.fill_qty)
        matched: list[tuple[_Fill, int]] = []
        for other in opposite:
            if fill.remaining <= 0:
                break
            if other.remaining <= 0 or not self._close(other.event, ev):
                continue
            qty = min(other.remaining, fill.remaining)
            other.remaining -= qty
            fill.remaining -= qty
            matched.append((other, qty))
        own = self._recent[owner, ev.symbol, buy]
        while own and own[0].event.ts_ns < horizon:
            own.popleft()
        own.append(fill)
        if not matched:
            return []
        qty = sum(q for _, q in matched)
        others = [m.event for m, _ in matched]
        accounts = tuple(dict.fromkeys([*(o.account for o in others), ev.account]))
        venues = sorted({*(o.venue for o in others), ev.venue})
        gap_ms = (ev.ts_ns - others[0].ts_ns) // 1_000_000
        summary = (
            f"{owner} {'bought' if ev.is_buy else 'sold'} {format_fixed(qty)} {ev.symbol} at "
            f"{format_fixed(ev.fill_price)} {gap_ms} ms after {'selling' if ev.is_buy else 'buying'} it at "
            f"{format_fixed(others[0].fill_price)} (accounts {', '.join(accounts)}; venues {', '.join(venues)})"
        )
        return [
            Alert(
                WASH_TRADE,
                ev.ts_ns,
                owner,
                accounts,
                ev.symbol,
                tuple(dict.fromkeys([*(o.order_id for o in others), ev.order_id])),
                summary,
                (
                    ("matched_qty", format_fixed(qty)),
                    ("gap_ms", str(gap_ms)),
                    ("window_ms", str(self.window_ns // 1_000_000)),
                    ("price_band_bps", str(self.band_bps)),
                ),
            )
        ]

    def _close(self, a: OrderActivity, b: OrderActivity) -> bool:
        return abs(a.fill_price - b.fill_price) * 10_000 <= a.fill_price * self.band_bps

    def on_market(self, ev: MarketActivity) -> list[Alert]:
        return []

    def advance(self, now_ns: int) -> list[Alert]:
        return []
