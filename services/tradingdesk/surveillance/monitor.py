"""All detectors behind one door: feed it the desk's order activity and the market in time order; it moves
every detector's clock forward first (closing windows that have ended) and collects the alerts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from tradingdesk.core.activity import MarketActivity, OrderActivity
from tradingdesk.markets.calendar import ExchangeCalendar
from tradingdesk.spec.conduct import SurveillanceSpec
from tradingdesk.surveillance.alerts import Alert
from tradingdesk.surveillance.marking_close import MarkingCloseDetector
from tradingdesk.surveillance.order_to_trade import OrderToTradeDetector
from tradingdesk.surveillance.owners import Owners
from tradingdesk.surveillance.spoofing import SpoofingDetector
from tradingdesk.surveillance.wash import WashTradeDetector


class Detector(Protocol):
    name: str

    def on_order(self, ev: OrderActivity) -> list[Alert]: ...

    def on_market(self, ev: MarketActivity) -> list[Alert]: ...

    def advance(self, now_ns: int) -> list[Alert]:
        """Close what has ended by ``now_ns`` (time windows with no event to close them)."""
        ...


def detectors_for(spec: SurveillanceSpec, calendars: Mapping[str, ExchangeCalendar]) -> list[Detector]:
    """The four detectors with the desk's thresholds and beneficial owners."""
    owners = Owners(spec.beneficial_owners)
    return [
        WashTradeDetector(spec.wash_trades, owners),
        SpoofingDetector(spec.spoofing, owners),
        OrderToTradeDetector(spec.order_to_trade, owners),
        MarkingCloseDetector(spec.marking_close, owners, calendars),
    ]


ADVANCE_EVERY_NS = 100_000_000
"""How often, in event time, the monitor asks every detector to close what ended (100 ms)."""


class SurveillanceMonitor:
    def __init__(self, detectors: Iterable[Detector]) -> None:
        self.detectors = list(detectors)
        self.alerts: list[Alert] = []
        self.events = 0
        self._now = 0

    def on_order(self, ev: OrderActivity) -> list[Alert]:
        out = self._advance(ev.ts_ns) if ev.ts_ns >= self._now + ADVANCE_EVERY_NS else []
        for d in self.detectors:
            out += d.on_order(ev)
        self.events += 1
        if out:
            self.alerts += out
        return out

    def on_market(self, ev: MarketActivity) -> list[Alert]:
        out = self._advance(ev.ts_ns) if ev.ts_ns >= self._now + ADVANCE_EVERY_NS else []
        for d in self.detectors:
            out += d.on_market(ev)
        self.events += 1
        if out:
            self.alerts += out
        return out

    def advance(self, now_ns: int) -> list[Alert]:
        """Close every window that has ended by ``now_ns`` (a timer calls this when no event comes)."""
        return self._keep(self._advance(now_ns, force=True))

    def _advance(self, now_ns: int, *, force: bool = False) -> list[Alert]:
        """Events move time on; the detectors' windows are looked at every ``ADVANCE_EVERY_NS`` of it (a window
        that ended is then closed with the alert it makes, a little later at most: the alert is the same)."""
        if now_ns <= self._now or (not force and now_ns < self._now + ADVANCE_EVERY_NS):
            return []
        self._now = now_ns
        out: list[Alert] = []
        for d in self.detectors:
            out += d.advance(now_ns)
        return out

    def _keep(self, alerts: list[Alert]) -> list[Alert]:
        self.alerts += alerts
        return alerts
