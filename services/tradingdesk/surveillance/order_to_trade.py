"""Excessive order-to-trade ratio: an account sending many more messages (new orders, modifies, cancels) than
it gets trades (fills), over tumbling windows of ``windowS``. A window closes with an alert when the account
sent at least ``minMessages`` messages in it and more than ``maxRatio`` per trade (every message counts
against zero trades). The risk gate refuses orders past its own hard limit; this detector reports the
pattern after the fact, typically at a lower threshold."""

from __future__ import annotations

from dataclasses import dataclass

from tradingdesk.core.activity import MESSAGES, Activity, MarketActivity, OrderActivity
from tradingdesk.spec.conduct import OrderToTradeSpec
from tradingdesk.surveillance.alerts import ORDER_TO_TRADE, Alert
from tradingdesk.surveillance.owners import Owners

_NEVER = 1 << 63


@dataclass(slots=True)
class _Window:
    start_ns: int
    messages: int = 0
    trades: int = 0


class OrderToTradeDetector:
    name = ORDER_TO_TRADE

    def __init__(self, spec: OrderToTradeSpec, owners: Owners) -> None:
        self.spec = spec
        self.owners = owners
        self.window_ns = spec.window_s * 1_000_000_000
        self._windows: dict[str, _Window] = {}
        self._next_end = _NEVER  # the earliest end of an open window: nothing to judge before it

    def on_order(self, ev: OrderActivity) -> list[Alert]:
        if ev.kind not in MESSAGES and ev.kind is not Activity.FILL:
            return []
        alerts = self.advance(ev.ts_ns)
        start = ev.ts_ns - ev.ts_ns % self.window_ns
        window = self._windows.get(ev.account)
        if window is None:
            window = self._windows[ev.account] = _Window(start)
            self._next_end = min(self._next_end, start + self.window_ns)
        if ev.kind is Activity.FILL:
            window.trades += 1
        else:
            window.messages += 1
        return alerts

    def on_market(self, ev: MarketActivity) -> list[Alert]:
        return []

    def advance(self, now_ns: int) -> list[Alert]:
        if now_ns < self._next_end:
            return []
        alerts = self._judge(now_ns)
        self._next_end = min((w.start_ns + self.window_ns for w in self._windows.values()), default=_NEVER)
        return alerts

    def _judge(self, now_ns: int) -> list[Alert]:
        alerts = []
        for account, window in list(self._windows.items()):
            end = window.start_ns + self.window_ns
            if now_ns < end:
                continue
            del self._windows[account]
            spec = self.spec
            if window.messages >= spec.min_messages and window.messages > spec.max_ratio * max(window.trades, 1):
                ratio = window.messages / max(window.trades, 1)
                alerts.append(
                    Alert(
                        ORDER_TO_TRADE,
                        end,
                        self.owners.of(account),
                        (account,),
                        "",
                        (),
                        f"{account} sent {window.messages} messages for {window.trades} trades in the "
                        f"{spec.window_s} s window (ratio {ratio:.1f}, limit {spec.max_ratio})",
                        (
                            ("messages", str(window.messages)),
                            ("trades", str(window.trades)),
                            ("max_ratio", str(spec.max_ratio)),
                            ("window_start_ns", str(window.start_ns)),
                        ),
                    )
                )
        return alerts
