"""Two time-stamped streams into one time order: the journal's order activity and the market.

The detectors read events in time order, but the journal reaches compliance a few milliseconds after its
events happened (durability, batching) while market data comes at once. Each stream has a watermark: the
latest time it has delivered, or the clock minus ``lag`` when it is quiet (a stream with nothing to say
cannot hold the other back for longer than that). An event is released once both watermarks have passed
it, so everything comes out in time order as long as no stream is later than ``lag``.
"""

from __future__ import annotations

import heapq
from itertools import count
from typing import Any

JOURNAL = 0
MARKET = 1


class TimeMerge:
    def __init__(self, lag_ns: int) -> None:
        self.lag_ns = lag_ns
        self._heap: list[tuple[int, int, int, Any]] = []
        self._marks = [0, 0]
        self._n = count()

    def push(self, stream: int, ts_ns: int, item: Any) -> None:
        heapq.heappush(self._heap, (ts_ns, next(self._n), stream, item))
        if ts_ns > self._marks[stream]:
            self._marks[stream] = ts_ns

    def release(self, now_ns: int) -> list[tuple[int, Any]]:
        """``(stream, item)`` of every event both streams have passed, oldest first."""
        quiet = now_ns - self.lag_ns
        bound = min(max(self._marks[JOURNAL], quiet), max(self._marks[MARKET], quiet))
        heap = self._heap
        out = []
        while heap and heap[0][0] <= bound:
            _, _, stream, item = heapq.heappop(heap)
            out.append((stream, item))
        return out

    def __len__(self) -> int:
        return len(self._heap)
