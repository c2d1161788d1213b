"""Clocks. Everything in the domain takes time as integer nanoseconds since the Unix epoch."""

from __future__ import annotations

import time
from typing import Protocol

NS_PER_MS = 1_000_000
NS_PER_SECOND = 1_000_000_000


class Clock(Protocol):
    def now_ns(self) -> int: ...


class WallClock:
    """The real clock, for production and the embedded desk."""

    def now_ns(self) -> int:
        return time.time_ns()


class ManualClock:
    """A clock tests move by hand, so time-dependent rules (expiry, throttles) are tested exactly."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance(self, ns: int) -> None:
        self._now += ns
