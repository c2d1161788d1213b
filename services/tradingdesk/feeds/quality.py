"""The outlier filter: a price far outside the symbol's recent prices is held, counted and reported.

A fat-fingered vendor print (a trade at 10x, a quote with a missing digit) would move venue books, the
risk gate's collar and every subscriber's view of the market. The filter compares each update's price
(a trade's price, a quote's mid) with the symbol's reference, the last price it let through, and holds
anything further than ``band_bps`` from it: held updates are never published, only counted and listed.

A real jump (news, a halt reopening far away) must not freeze a symbol forever: when ``confirm``
consecutive updates all sit outside the band on the same new level (each within the band of the first),
the filter re-anchors there and lets the last one through. The first update of a symbol sets its
reference. Everything is in fixed-point ints; no floats.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from tradingdesk.feeds.events import QUOTE, STATUS, FeedMessage

DEFAULT_BAND_BPS = 1_000
DEFAULT_CONFIRM = 3


@dataclass(frozen=True, slots=True)
class HeldPrint:
    """An update the filter held back, as reported in the feed status."""

    symbol: str
    kind: str
    price: int
    reference: int
    seq: int
    vendor_ts_ns: int


def price_of(msg: FeedMessage) -> int:
    """The price an update is judged by: a trade's price, a quote's mid (rounded down)."""
    e = msg.event
    return (e.bid_price + e.ask_price) // 2 if e.kind == QUOTE else e.price


class OutlierFilter:
    """Per-symbol reference prices and the held updates of one feed."""

    def __init__(self, band_bps: int = DEFAULT_BAND_BPS, confirm: int = DEFAULT_CONFIRM, history: int = 50) -> None:
        if band_bps < 1 or confirm < 1:
            raise ValueError("the outlier band and the confirmation count must be at least 1")
        self.band_bps = band_bps
        self.confirm = confirm
        self.held = 0
        """Updates held back so far."""
        self.reanchors = 0
        """Times a symbol's reference moved to a confirmed new level."""
        self.recent: deque[HeldPrint] = deque(maxlen=history)
        self._reference: dict[str, int] = {}
        self._streak: dict[str, list[int]] = {}

    def admit(self, msg: FeedMessage) -> bool:
        """True to publish ``msg``; False if it is an outlier (held, counted, reported)."""
        if msg.event.kind == STATUS:
            return True  # a halt or resumption carries no price to judge
        symbol = msg.event.symbol
        price = price_of(msg)
        ref = self._reference.get(symbol)
        if ref is None or abs(price - ref) * 10_000 <= ref * self.band_bps:
            self._reference[symbol] = price
            if self._streak:
                self._streak.pop(symbol, None)
            return True
        streak = self._streak.setdefault(symbol, [])
        if streak and abs(price - streak[0]) * 10_000 > streak[0] * self.band_bps:
            streak.clear()  # not the same new level: start again from this one
        streak.append(price)
        if len(streak) >= self.confirm:
            self.reanchors += 1
            self._reference[symbol] = price
            del self._streak[symbol]
            return True
        self.held += 1
        self.recent.append(HeldPrint(symbol, msg.event.kind, price, ref, msg.seq, msg.vendor_ts_ns))
        return False

    def reference(self, symbol: str) -> int | None:
        return self._reference.get(symbol)
