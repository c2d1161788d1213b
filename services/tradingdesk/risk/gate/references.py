"""Reference prices: the last trade of each symbol (the collar's reference) and the mean the LULD bands are
drawn around.

A quote proves the feed is alive, so it keeps the last trade fresh without moving it. The LULD reference is
the mean of the trades in the window (five minutes in the Plan); the bands around it come from the symbol's
tier and price and double at the open and the close (``markets/luld.py``, ``gate/market.py``).
"""

from __future__ import annotations

from collections import deque

from tradingdesk.core.clock import NS_PER_SECOND

UNKNOWN_AGE_NS = -1
"""The stamp of a reference whose age cannot be told (the clock stepped back since it arrived)."""


class Reference:
    """Last trade of a symbol and the mean of the trades in the LULD window."""

    __slots__ = ("data_ns", "mean", "price", "ts_ns", "window_sum", "window_trades")

    def __init__(self, price: int, ts_ns: int) -> None:
        self.price = price
        self.ts_ns = ts_ns
        """What the gate ages the reference from: the market data's own time, never later than routing read it."""
        self.data_ns = 0
        """The desk's time of the market event it last took, as the feeds service stamped it (0: not stamped):
        journaled with each order the gate accepts (``reference_ns``), the evidence the simulation's verdict judges
        the reference's age by."""
        self.window_trades: deque[tuple[int, int]] = deque()  # (ts_ns, price) inside the LULD window
        self.window_sum = 0
        self.mean = price

    def record_trade(self, *, price: int, ts_ns: int, window_s: int) -> None:
        """A trade moves the reference and the LULD mean."""
        self.price = price
        self.ts_ns = ts_ns
        trades = self.window_trades
        trades.append((ts_ns, price))
        self.window_sum += price
        horizon = ts_ns - window_s * NS_PER_SECOND
        while len(trades) > 1 and trades[0][0] <= horizon:
            self.window_sum -= trades.popleft()[1]
        self.mean = self.window_sum // len(trades)
