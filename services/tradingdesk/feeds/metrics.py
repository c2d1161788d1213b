"""The feeds service's metrics: line and feed health, lag, gaps, failovers and stale symbols.

All of them are observed when /metrics is scraped, read off the handlers' own counters and state; nothing is
added to the per-message path. Labels are the feed and line names of the spec (bounded by it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from tradingdesk.feeds.feed import FeedHandler
from tradingdesk.feeds.monitor import DISABLED, DOWN, LAGGING, LIVE, SILENT

if TYPE_CHECKING:
    from tradingdesk.feeds.service import MarketDataService

LINE_STATES = (LIVE, LAGGING, SILENT, DOWN, DISABLED)
NS = 1e9

_LINE_COUNTERS: dict[str, tuple[str, str]] = {
    # metric name: (LineHealth attribute, description)
    "tradingdesk_feed_line_messages_received": ("received", "Messages a line delivered (before arbitration)."),
    "tradingdesk_feed_line_heartbeats": ("heartbeats", "Heartbeats a line delivered."),
    "tradingdesk_feed_line_malformed": ("malformed", "Inputs a line sent that could not be decoded (dropped)."),
    "tradingdesk_feed_line_out_of_order": ("out_of_order", "Messages whose number went backwards on a line."),
    "tradingdesk_feed_line_duplicates": ("duplicates", "Messages a line repeated."),
    "tradingdesk_feed_line_disconnects": ("disconnects", "Times a line's connection was lost."),
}
_FEED_COUNTERS: dict[str, tuple[Callable[[FeedHandler], int], str]] = {
    "tradingdesk_feed_messages_published": (lambda h: h.published, "Messages a feed published to the desk."),
    "tradingdesk_feed_gaps": (lambda h: h.arbitrator.gaps, "Sequence gaps opened (a number missing on every line)."),
    "tradingdesk_feed_messages_missing": (lambda h: h.arbitrator.missing, "Messages found missing in gaps."),
    "tradingdesk_feed_messages_recovered": (
        lambda h: h.arbitrator.recovered,
        "Missing messages another line (or a late copy) filled in.",
    ),
    "tradingdesk_feed_messages_lost": (
        lambda h: h.arbitrator.lost,
        "Missing messages no line filled within the failover bound (repaired from a snapshot).",
    ),
    "tradingdesk_feed_failovers": (
        lambda h: h.monitor.failovers,
        "Switches away from a failed active line.",
    ),
    "tradingdesk_feed_failbacks": (lambda h: h.monitor.failbacks, "Returns of the active line to the preferred one."),
    "tradingdesk_feed_outliers_held": (lambda h: h.outliers.held, "Prices held back as outliers."),
    "tradingdesk_feed_snapshot_recoveries": (lambda h: h.snapshot_recoveries, "State repairs from a snapshot."),
}


class FeedMetrics:
    """Registers the observable instruments of one ``MarketDataService``."""

    def __init__(self, service: MarketDataService, meter: metrics.Meter | None = None) -> None:
        self.service = service
        meter = meter or metrics.get_meter("tradingdesk.feeds")
        gauge = meter.create_observable_gauge
        gauge(
            "tradingdesk_feed_up", [self._feed_up], description="1 while a feed has a live line, 0 when all are down."
        )
        gauge("tradingdesk_feed_line_up", [self._line_up], description="1 while a line is live.")
        gauge(
            "tradingdesk_feed_line_state",
            [self._line_state],
            description="The state of each line, one series per state (1 for the current one).",
        )
        gauge("tradingdesk_feed_line_active", [self._line_active], description="1 for the line the feed relies on.")
        gauge(
            "tradingdesk_feed_line_lag",
            [self._line_lag],
            unit="s",
            description="How far a line trails the first copy of the feed's messages.",
        )
        gauge(
            "tradingdesk_feed_line_silence",
            [self._line_silence],
            unit="s",
            description="Time since a line's last message or heartbeat.",
        )
        gauge(
            "tradingdesk_feed_gap_age",
            [self._gap_age],
            unit="s",
            description="How long the oldest open gap of a feed has waited (0 when complete).",
        )
        gauge(
            "tradingdesk_feed_stale_symbols",
            [self._feed_stale],
            description="Symbols a feed has not updated within its staleAfterMs.",
        )
        gauge(
            "tradingdesk_market_stale_symbols",
            [self._market_stale],
            description="Symbols with no fresh data from any feed: orders in them are refused.",
        )
        for name, (attr, text) in _LINE_COUNTERS.items():
            meter.create_observable_counter(name, [self._line_counter(attr)], description=text)
        for name, (read, text) in _FEED_COUNTERS.items():
            meter.create_observable_counter(name, [self._feed_counter(read)], description=text)

    def _handlers(self) -> Iterable[tuple[str, FeedHandler]]:
        return list(self.service.handlers.items())

    def _now(self) -> int:
        return self.service.clock.now_ns()

    def _feed_up(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(int(h.health != DOWN), {"feed": name}) for name, h in self._handlers()]

    def _lines(self) -> Iterable[tuple[str, FeedHandler, str, object]]:
        for feed, handler in self._handlers():
            for line, health in list(handler.lines.items()):
                yield feed, handler, line, health

    def _line_up(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(int(h.state == LIVE), {"feed": f, "line": ln}) for f, _, ln, h in self._lines()]

    def _line_state(self, _: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(int(h.state == state), {"feed": f, "line": ln, "state": state.lower()})
            for f, _, ln, h in self._lines()
            for state in LINE_STATES
        ]

    def _line_active(self, _: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(int(handler.monitor.active == ln), {"feed": f, "line": ln})
            for f, handler, ln, _ in self._lines()
        ]

    def _line_lag(self, _: CallbackOptions) -> Iterable[Observation]:
        now = self._now()
        return [
            Observation(handler.lag_ns(h, now) / NS if h.connected else 0.0, {"feed": f, "line": ln})
            for f, handler, ln, h in self._lines()
        ]

    def _line_silence(self, _: CallbackOptions) -> Iterable[Observation]:
        now = self._now()
        return [
            Observation((now - h.last_rx_ns) / NS if h.last_rx_ns else 0.0, {"feed": f, "line": ln})
            for f, _, ln, h in self._lines()
        ]

    def _gap_age(self, _: CallbackOptions) -> Iterable[Observation]:
        now = self._now()
        return [Observation(h.arbitrator.gap_age_ns(now) / NS, {"feed": name}) for name, h in self._handlers()]

    def _feed_stale(self, _: CallbackOptions) -> Iterable[Observation]:
        now = self._now()
        return [Observation(len(h.stale_symbols(now)), {"feed": name}) for name, h in self._handlers()]

    def _market_stale(self, _: CallbackOptions) -> Iterable[Observation]:
        state, now = self.service.state, self._now()
        return [Observation(sum(1 for s in state.symbols if state.is_stale(s, now)))]

    def _line_counter(self, attr: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_: CallbackOptions) -> Iterable[Observation]:
            return [Observation(getattr(h, attr), {"feed": f, "line": ln}) for f, _, ln, h in self._lines()]

        return observe

    def _feed_counter(self, read: Callable[[FeedHandler], int]) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_: CallbackOptions) -> Iterable[Observation]:
            return [Observation(read(h), {"feed": name}) for name, h in self._handlers()]

        return observe
