"""Schedulers satisfying ``venues.base.Scheduler``: a manual one for tests, an asyncio one for production.

Venues never call their listener synchronously; they schedule the callback after their latency. Tests
drive time by hand with ``ManualScheduler`` so latency, ordering and races are exact and instant.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any

from tradingdesk.core.clock import ManualClock

_NS = 1_000_000_000


class TimerHandle:
    """What ``ManualScheduler.call_later`` returns; ``cancel()`` keeps the callback from running."""

    __slots__ = ("args", "callback", "cancelled", "due_ns")

    def __init__(self, due_ns: int, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.due_ns = due_ns
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualScheduler:
    """A queue of (due time, sequence, callback) run by ``run_until`` / ``run_all``.

    Time is kept in integer nanoseconds so repeated delays do not drift; callbacks due at the same time
    run in the order they were scheduled. If a ``ManualClock`` is given it is moved along with the
    scheduler, so timestamps taken inside callbacks match the scheduled time.
    """

    def __init__(self, clock: ManualClock | None = None) -> None:
        self._now_ns = 0
        self._heap: list[tuple[int, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._clock = clock

    @property
    def now(self) -> float:
        """Seconds since the scheduler was created."""
        return self._now_ns / _NS

    @property
    def now_ns(self) -> int:
        return self._now_ns

    def __len__(self) -> int:
        """Callbacks still queued (including cancelled ones not yet discarded)."""
        return len(self._heap)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        if delay < 0:
            delay = 0.0
        handle = TimerHandle(self._now_ns + round(delay * _NS), callback, args)
        heapq.heappush(self._heap, (handle.due_ns, next(self._seq), handle))
        return handle

    def run_until(self, t: float) -> int:
        """Run every callback due at or before ``t`` seconds (including ones they schedule); returns the
        number run. Time ends at ``t`` even if nothing was due."""
        return self._run(round(t * _NS))

    def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds``, running what falls due."""
        return self._run(self._now_ns + round(seconds * _NS))

    def run_all(self, limit: int = 1_000_000) -> int:
        """Run until the queue is empty (``limit`` guards against callbacks that reschedule forever)."""
        ran = 0
        heap = self._heap
        while heap:
            if ran >= limit:
                raise RuntimeError(f"ManualScheduler.run_all: more than {limit} callbacks")
            _, _, handle = heapq.heappop(heap)
            if handle.cancelled:
                continue
            self._set_time(handle.due_ns)
            handle.callback(*handle.args)
            ran += 1
        return ran

    def _run(self, until_ns: int) -> int:
        ran = 0
        heap = self._heap
        while heap and heap[0][0] <= until_ns:
            _, _, handle = heapq.heappop(heap)
            if handle.cancelled:
                continue
            self._set_time(handle.due_ns)
            handle.callback(*handle.args)
            ran += 1
        self._set_time(until_ns)
        return ran

    def _set_time(self, ns: int) -> None:
        if ns > self._now_ns:
            if self._clock is not None:
                self._clock.advance(ns - self._now_ns)
            self._now_ns = ns


class LoopScheduler:
    """``Scheduler`` over an asyncio event loop (production). Must be used from the loop's thread.

    Without an explicit loop it binds to the running loop on first use, so it can be built before the
    loop starts.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop.call_later(delay, callback, *args)
