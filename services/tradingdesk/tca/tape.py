"""The market around the desk's orders, indexed for the questions TCA asks: the quote in force at an instant,
and the volume-weighted average price of the prints between two instants (prefix sums: O(log n) each)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable

from tradingdesk.core.activity import MarketActivity, MarketPrint, MarketQuote
from tradingdesk.core.fixed import div, mul


class _Prints:
    __slots__ = ("notional", "qty", "ts")

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.notional: list[int] = [0]
        self.qty: list[int] = [0]


class MarketTape:
    def __init__(self, events: Iterable[MarketActivity] = ()) -> None:
        self._quote_ts: dict[str, list[int]] = defaultdict(list)
        self._quotes: dict[str, list[MarketQuote]] = defaultdict(list)
        self._prints: dict[str, _Prints] = defaultdict(_Prints)
        for ev in events:
            self.add(ev)

    def add(self, ev: MarketActivity) -> None:
        """Record one event; events of a symbol must come in time order (raises ValueError otherwise)."""
        if isinstance(ev, MarketQuote):
            times = self._quote_ts[ev.symbol]
            if times and ev.ts_ns < times[-1]:
                raise ValueError(f"{ev.symbol}: quote at {ev.ts_ns} is older than the last one ({times[-1]})")
            times.append(ev.ts_ns)
            self._quotes[ev.symbol].append(ev)
        elif isinstance(ev, MarketPrint):
            p = self._prints[ev.symbol]
            if p.ts and ev.ts_ns < p.ts[-1]:
                raise ValueError(f"{ev.symbol}: print at {ev.ts_ns} is older than the last one ({p.ts[-1]})")
            p.ts.append(ev.ts_ns)
            p.notional.append(p.notional[-1] + mul(ev.price, ev.qty))
            p.qty.append(p.qty[-1] + ev.qty)

    def quote_at(self, symbol: str, ts_ns: int) -> MarketQuote | None:
        """The last quote at or before ``ts_ns`` (None before the first)."""
        i = bisect_right(self._quote_ts.get(symbol, ()), ts_ns)
        return self._quotes[symbol][i - 1] if i else None

    def vwap(self, symbol: str, start_ns: int, end_ns: int) -> int:
        """VWAP of the prints in ``[start_ns, end_ns]``; 0 when there were none."""
        p = self._prints.get(symbol)
        if p is None:
            return 0
        i, j = bisect_left(p.ts, start_ns), bisect_right(p.ts, end_ns)
        qty = p.qty[j] - p.qty[i]
        return div(p.notional[j] - p.notional[i], qty) if qty else 0
