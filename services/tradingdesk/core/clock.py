"""Clocks. Everything in the domain takes time as integer nanoseconds since the Unix epoch."""

from __future__ import annotations

import time
from typing import Protocol

NS_PER_MS = 1_000_000
NS_PER_SECOND = 1_000_000_000


class Clock(Protocol):
    def now_ns(self) -> int: ...

    def seconds_until(self, ts_ns: int) -> float:
        """Seconds of real (scheduler) time until ``now_ns()`` reaches ``ts_ns``; 0 when it has. Timers that
        must fire at a clock time (an expiry) ask this, since a replay clock runs faster than the scheduler."""
        ...


class WallClock:
    """The real clock, for production and the embedded desk."""

    def now_ns(self) -> int:
        return time.time_ns()

    def seconds_until(self, ts_ns: int) -> float:
        return max(0, ts_ns - time.time_ns()) / NS_PER_SECOND


class ManualClock:
    """A clock tests move by hand, so time-dependent rules (expiry, throttles) are tested exactly."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def seconds_until(self, ts_ns: int) -> float:
        return max(0, ts_ns - self._now) / NS_PER_SECOND

    def advance(self, ns: int) -> None:
        self._now += ns

    def set(self, ns: int) -> None:
        """Jump to ``ns`` (forward only: a clock never runs back)."""
        if ns < self._now:
            raise ValueError("a clock never runs back")
        self._now = ns


class OffsetClock:
    """Another clock read ``offset_ns`` off: what a host whose NTP failed tells its processes.

    ``now_ns`` costs one attribute read and an addition over the inner clock, so wrapping the order path's clock
    adds nothing measurable; whoever injects the fault sets ``offset_ns`` (``edge/clock_skew.py`` does it from a
    file). A negative offset makes the clock run back, which a real clock step does too: code that judges ages
    by this clock must treat a negative age as unknown, never as fresh.
    """

    def __init__(self, inner: Clock, offset_ns: int = 0) -> None:
        self.inner = inner
        self.offset_ns = offset_ns

    def now_ns(self) -> int:
        return self.inner.now_ns() + self.offset_ns

    def seconds_until(self, ts_ns: int) -> float:
        return self.inner.seconds_until(ts_ns - self.offset_ns)
