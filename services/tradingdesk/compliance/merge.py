"""Two time-stamped streams into one time order: the journal's order activity and the market.

The detectors read events in time order, but the journal reaches compliance a few milliseconds after its
events happened (durability, batching) while market data comes at once. Each stream has a watermark: the
latest time it has delivered, or the clock minus ``lag`` when it is quiet (a stream with nothing to say
cannot hold the other back for longer than that). An event is released once both watermarks have passed
it, so everything comes out in time order as long as no stream is later than ``lag``; at one instant the
market comes first (an order placed then saw that quote).
"""

from __future__ import annotations

from collections import deque
from typing import Any

JOURNAL = 0
MARKET = 1


class TimeMerge:
    """Each stream arrives in its own time order (the journal in seq order, market data as it comes), so
    merging is comparing the two heads: constant time per event."""

    def __init__(self, lag_ns: int) -> None:
        self.lag_ns = lag_ns
        self._queues: tuple[deque[tuple[int, Any]], deque[tuple[int, Any]]] = (deque(), deque())
        self._marks = [0, 0]

    def push(self, stream: int, ts_ns: int, item: Any) -> None:
        self._queues[stream].append((ts_ns, item))
        if ts_ns > self._marks[stream]:
            self._marks[stream] = ts_ns

    def release(self, now_ns: int) -> list[tuple[int, Any]]:
        """``(stream, item)`` of every event both streams have passed, oldest first."""
        quiet = now_ns - self.lag_ns
        bound = min(max(self._marks[JOURNAL], quiet), max(self._marks[MARKET], quiet))
        journal, market = self._queues
        out: list[tuple[int, Any]] = []
        while True:
            j = journal[0][0] if journal else None
            m = market[0][0] if market else None
            if m is not None and m <= bound and (j is None or m <= j):  # the market of an instant comes first
                out.append((MARKET, market.popleft()[1]))
            elif j is not None and j <= bound:
                out.append((JOURNAL, journal.popleft()[1]))
            else:
                return out

    def __len__(self) -> int:
        return len(self._queues[0]) + len(self._queues[1])
