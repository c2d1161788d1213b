"""Line health and the active line: which line of a feed is silent, lagging or down, and failover.

Arbitration always merges every line (first copy wins), so data never waits for a failover. What the
monitor decides is which line is *active*: the one the desk relies on and reports, the first asked for
recovery, the one whose loss pages someone. Rules, evaluated on every tick of the feed's timer:

* a line is ``DISABLED`` (an operator took it out), ``DOWN`` (not connected), ``SILENT`` (no message nor
  heartbeat for ``silent_ns``), ``LAGGING`` (the first number it has not delivered yet reached the feed
  more than ``lag_ns`` ago) or ``LIVE``;
* when the active line is not live, the first live line in spec order becomes active (a *failover*);
* when the preferred line (first in the spec) has been live again for ``failback_ns``, it becomes active
  again (a *failback*); the hold-down stops a flapping line from bouncing the feed;
* the feed is ``LIVE`` when every line is live, ``DEGRADED`` when at least one is, ``DOWN`` when none is.

Thresholds are fractions of the spec's ``failoverAfterMs`` chosen so that detection plus one timer tick
stays inside the bound (see ``thresholds``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

LIVE = "LIVE"
LAGGING = "LAGGING"
SILENT = "SILENT"
DOWN = "DOWN"
DISABLED = "DISABLED"
DEGRADED = "DEGRADED"

# Detection thresholds as fractions of the failover bound; the timer ticks every TICK_FRACTION of it, so a
# failure is acted on within DETECT_FRACTION + TICK_FRACTION < 1 of the bound after it happened.
DETECT_FRACTION = 0.8
TICK_FRACTION = 0.1
MIN_TICK_NS = 2_000_000


@dataclass(frozen=True, slots=True)
class Thresholds:
    silent_ns: int
    lag_ns: int
    failback_ns: int
    tick_ns: int
    reconnect_ns: int
    """A connected line silent this long is reconnected (a stalled connection never closes by itself)."""


def thresholds(failover_after_ms: int) -> Thresholds:
    bound = failover_after_ms * 1_000_000
    detect = int(bound * DETECT_FRACTION)
    return Thresholds(
        silent_ns=detect,
        lag_ns=detect,
        failback_ns=bound,
        tick_ns=max(MIN_TICK_NS, int(bound * TICK_FRACTION)),
        reconnect_ns=max(4 * bound, 1_000_000_000),
    )


class LineHealth:
    """Counters and liveness of one line; written by the feed handler, read by status and the monitor."""

    __slots__ = (
        "connected",
        "connected_ns",
        "detail",
        "disconnects",
        "duplicates",
        "enabled",
        "heartbeats",
        "last_malformed",
        "last_rx_ns",
        "last_seq",
        "live_since_ns",
        "malformed",
        "name",
        "out_of_order",
        "received",
        "state",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.enabled = True
        self.connected = False
        self.connected_ns = 0
        self.last_rx_ns = 0
        """Receive time of the last message or heartbeat."""
        self.last_seq = 0
        """Highest sequence number this line delivered or announced since it (re)connected."""
        self.received = 0
        self.heartbeats = 0
        self.malformed = 0
        """Inputs that could not be decoded (dropped)."""
        self.last_malformed = ""
        """Why the last malformed input was refused."""
        self.out_of_order = 0
        """Messages whose number went backwards on this line (dropped)."""
        self.duplicates = 0
        """Messages this line repeated (dropped); copies of the other line's messages are not counted here."""
        self.disconnects = 0
        self.state = DOWN
        self.live_since_ns = 0
        self.detail = "connecting"
        """Why the line is not live (the last error), for people."""

    def opened(self, from_seq: int, now_ns: int) -> None:
        """The line (re)connected and will deliver from ``from_seq``."""
        self.connected = True
        self.connected_ns = now_ns
        self.last_rx_ns = now_ns
        self.last_seq = from_seq - 1
        self.detail = ""

    def closed(self, why: str) -> None:
        if self.connected:
            self.disconnects += 1
        self.connected = False
        self.detail = why


@dataclass(frozen=True, slots=True)
class Switch:
    """The active line changed."""

    at_ns: int
    from_line: str
    to_line: str
    reason: str
    failback: bool
    took_ns: int
    """Failover: from the old line's last sign of life to the switch. Failback: 0."""


class LineMonitor:
    """Evaluates line states and moves the active line; pure (callers pass the time and the lags)."""

    def __init__(self, lines: Sequence[str], limits: Thresholds, *, history: int = 100) -> None:
        if not lines:
            raise ValueError("a feed needs at least one line")
        self.limits = limits
        self.lines = {name: LineHealth(name) for name in lines}
        self.preferred = lines[0]
        self.active = lines[0]
        self.health = DOWN
        self.failovers = 0
        self.failbacks = 0
        self.switches: deque[Switch] = deque(maxlen=history)

    def evaluate(self, now_ns: int, lag_ns: dict[str, int]) -> Switch | None:
        """Update every line's state and the feed's health; returns the switch of active line, if any."""
        limits = self.limits
        for h in self.lines.values():
            if not h.enabled:
                state = DISABLED
            elif not h.connected:
                state = DOWN
            elif now_ns - h.last_rx_ns > limits.silent_ns:
                state = SILENT
                h.detail = f"nothing received for {(now_ns - h.last_rx_ns) // 1_000_000} ms"
            elif lag_ns.get(h.name, 0) > limits.lag_ns:
                state = LAGGING
                h.detail = f"{lag_ns[h.name] // 1_000_000} ms behind the other line"
            else:
                state = LIVE
                h.detail = ""
            if state == LIVE and h.state != LIVE:
                h.live_since_ns = now_ns
            h.state = state
        live = [n for n, h in self.lines.items() if h.state == LIVE]
        self.health = LIVE if len(live) == len(self.lines) else DEGRADED if live else DOWN
        return self._choose(now_ns, live)

    def _choose(self, now_ns: int, live: list[str]) -> Switch | None:
        current = self.lines[self.active]
        preferred = self.lines[self.preferred]
        if (
            self.active != self.preferred
            and preferred.state == LIVE
            and now_ns - preferred.live_since_ns >= self.limits.failback_ns
        ):
            return self._switch(now_ns, self.preferred, "the preferred line is live again", failback=True)
        if current.state == LIVE or not live:
            return None
        reason = f"line {current.name} is {current.state.lower()}" + (f": {current.detail}" if current.detail else "")
        return self._switch(now_ns, live[0], reason, failback=False)

    def _switch(self, now_ns: int, to: str, reason: str, *, failback: bool) -> Switch:
        old = self.lines[self.active]
        took = 0 if failback else max(0, now_ns - old.last_rx_ns)
        switch = Switch(now_ns, old.name, to, reason, failback, took)
        self.active = to
        if failback:
            self.failbacks += 1
        else:
            self.failovers += 1
        self.switches.append(switch)
        return switch
