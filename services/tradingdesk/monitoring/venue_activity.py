"""How much each venue's reject and acknowledgement-timeout counts grew lately, from routing's status reads.

Routing's counts are cumulative since its process started (``GetRoutingStatus``); an alert asks how much they
grew over a window, as Prometheus' ``increase()`` does over the same counters. Each status refresh adds one
sample; a count lower than the sample before it means routing restarted, and its count since the restart is
the growth. Samples older than the longest window are dropped, so memory is bounded by refreshes per window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

from tradingdesk.v1 import orders_pb2

REJECTS_WINDOW_S = 60.0
"""VenueRejecting counts rejects within a minute (``increase(...[1m])`` in the Prometheus rule)."""
TIMEOUTS_WINDOW_S = 300.0
"""VenueNotAcknowledging looks back five minutes (``increase(...[5m])``)."""


@dataclass(frozen=True, slots=True)
class VenueGrowth:
    rejects: int
    ack_timeouts: int


class VenueActivity:
    """Samples of each venue's counts over time, and their growth over the alerts' windows."""

    def __init__(self, *, keep_s: float = TIMEOUTS_WINDOW_S) -> None:
        self.keep_s = keep_s
        self._samples: deque[tuple[float, dict[str, tuple[int, int]]]] = deque()

    def add(self, at_s: float, venues: Iterable[orders_pb2.VenueStatus]) -> None:
        self._samples.append((at_s, {v.venue: (v.rejects, v.ack_timeouts) for v in venues}))
        # keep one sample at or before the window's start: the growth in the window is measured from it
        while len(self._samples) > 1 and self._samples[1][0] <= at_s - self.keep_s:
            self._samples.popleft()

    def growth(self) -> dict[str, VenueGrowth]:
        """Per venue: rejects within ``REJECTS_WINDOW_S`` and timeouts within ``TIMEOUTS_WINDOW_S`` of the newest
        sample. The first sample only sets where counting starts: what routing counted before monitoring's first
        read is history, not news (Prometheus' ``increase()`` does not count a series' first value either)."""
        if not self._samples:
            return {}
        now_s = self._samples[-1][0]
        return {
            venue: VenueGrowth(
                rejects=self._grown(venue, 0, since_s=now_s - REJECTS_WINDOW_S),
                ack_timeouts=self._grown(venue, 1, since_s=now_s - TIMEOUTS_WINDOW_S),
            )
            for venue in self._samples[-1][1]
        }

    def _grown(self, venue: str, index: int, *, since_s: float) -> int:
        """The sum of the count's rises between consecutive samples, for every pair that ends inside the window. A
        fall is routing restarting: its count after the restart is all new."""
        total = 0
        for (_, before), (at_s, after) in pairwise(self._samples):
            if at_s < since_s:
                continue
            old = before.get(venue, (0, 0))[index]
            new = after.get(venue, (0, 0))[index]
            total += new - old if new >= old else new
        return total
