"""Replaying a session as one feed line: sequence numbers, vendor timestamps and pacing.

A line turns session events (offsets from the session start) into ``FeedMessage``s at ``speed`` times real
time. Pacing is scheduled against one monotonic start instant (``due = t0 + offset / speed``), never by
summing sleeps, so sleep overshoot and slow consumers never accumulate into drift: a line that fell
behind emits back-to-back until it is on schedule again. Two lines built from the same source and
``start_ns`` are an A/B pair: same sequence numbers, same vendor timestamps for the same events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from decimal import Decimal

from tradingdesk.feeds.events import FeedMessage, MarketEvent

NS = 1_000_000_000
MAX_SPEED = 100

EventSource = Callable[[], Iterable[MarketEvent]]
"""Returns a fresh pass over the session's events in time order (called again for each loop)."""

# Events due within this much of now are sent at once rather than after a sub-millisecond sleep: the
# event loop's timers are not finer than that anyway, and the next due time is still taken from t0.
EARLY_S = 0.0005


class ReplayLine:
    """One feed line replaying a session; iterate it (``async for msg in line``) once.

    ``speed`` is 1..100 times real time, or 0 for as fast as possible. With ``loop`` the session starts
    again when it ends: sequence numbers keep counting and vendor timestamps keep moving forward by
    ``period_ns`` per pass (at least the last event's offset + 1 ns, so time never goes back). ``drop``
    is fault injection for tests and drills: messages whose sequence number it accepts are lost on this
    line (their numbers are used up, as in a real gap). ``on_close`` runs when the iteration ends, however
    it ends (a ``SharedSource`` reader releases its share there).
    """

    def __init__(
        self,
        name: str,
        source: EventSource,
        *,
        start_ns: int | None = None,
        speed: float | Decimal = 1,
        loop: bool = False,
        period_ns: int = 0,
        drop: Callable[[int], bool] | None = None,
        yield_every: int = 32,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        speed = float(speed)
        if not 0 <= speed <= MAX_SPEED:
            raise ValueError(f"replay speed must be 0 (as fast as possible) or 1..{MAX_SPEED}, not {speed}")
        self.name = name
        self.start_ns = start_ns
        self.speed = speed
        self.loop = loop
        self.period_ns = period_ns
        self._source = source
        self._drop = drop
        self._yield_every = max(1, yield_every)
        self._on_close = on_close
        self.seq = 0
        """Sequence number of the last message produced (sent or dropped)."""
        self.passes = 0
        """Completed passes over the session."""

    async def __aiter__(self) -> AsyncIterator[FeedMessage]:
        loop = asyncio.get_running_loop()
        now = loop.time
        t0 = now()
        start_ns = time.time_ns() if self.start_ns is None else self.start_ns
        self.start_ns = start_ns
        wall_s_per_ns = 1.0 / (self.speed * NS) if self.speed else 0.0
        name, drop, yield_every = self.name, self._drop, self._yield_every
        base = 0
        burst = 0
        try:
            while True:
                last_ts = -1
                for event in self._source():
                    offset = base + event.ts_ns
                    if wall_s_per_ns:
                        delay = t0 + offset * wall_s_per_ns - now()
                        if delay > EARLY_S:
                            await asyncio.sleep(delay)
                            burst = 0
                    if burst >= yield_every:
                        await asyncio.sleep(0)  # behind schedule or speed 0: let the rest of the loop run
                        burst = 0
                    burst += 1
                    last_ts = event.ts_ns
                    self.seq = seq = self.seq + 1
                    if drop is not None and drop(seq):
                        continue
                    yield FeedMessage(name, seq, start_ns + offset, event)
                self.passes += 1
                if not self.loop or last_ts < 0:
                    return
                base += max(self.period_ns, last_ts + 1)
        finally:
            if self._on_close is not None:
                self._on_close()
