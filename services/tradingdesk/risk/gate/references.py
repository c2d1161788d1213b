"""Reference prices: the last trade of each symbol (the collar's reference) and its limit-up/limit-down band.

A quote proves the feed is alive, so it keeps the last trade fresh without moving it. The LULD band is the
mean of the trades in the window plus and minus the configured share, wider below $3 as the plan says.
"""

from __future__ import annotations

from collections import deque

from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.core.fixed import SCALE, bps_of

THREE_DOLLARS = 3 * SCALE


class Reference:
    """Last trade of a symbol and its limit-up/limit-down band."""

    __slots__ = ("luld_high", "luld_low", "price", "ts_ns", "window_sum", "window_trades")

    def __init__(self, price: int, ts_ns: int) -> None:
        self.price = price
        self.ts_ns = ts_ns
        self.window_trades: deque[tuple[int, int]] = deque()  # (ts_ns, price) inside the LULD window
        self.window_sum = 0
        self.luld_low = 0
        self.luld_high = 0

    def record_trade(self, *, price: int, ts_ns: int, window_s: int, band_bps: int, low_price_band_bps: int) -> None:
        """A trade moves the reference and the LULD band (the mean of the window's trades +/- the band)."""
        self.price = price
        self.ts_ns = ts_ns
        trades = self.window_trades
        trades.append((ts_ns, price))
        self.window_sum += price
        horizon = ts_ns - window_s * NS_PER_SECOND
        while len(trades) > 1 and trades[0][0] <= horizon:
            self.window_sum -= trades.popleft()[1]
        mean = self.window_sum // len(trades)
        band = bps_of(mean, band_bps if mean > THREE_DOLLARS else low_price_band_bps)
        self.luld_low = mean - band
        self.luld_high = mean + band
