"""Limits per caller: a token bucket of calls per identity and a cap on its open streams.

Pure bookkeeping with the time passed in, so tests drive it with a manual clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float
    """Tokens added per second."""
    burst: float
    """Most tokens held."""
    tokens: float
    stamp: float

    def take(self, now: float, n: float = 1.0) -> float:
        """Take ``n`` tokens: 0.0 when allowed, else the seconds until they would be there."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate


class CallerLimits:
    """One bucket and one stream count per identity name, for one service process."""

    def __init__(self, *, rate: int, burst: int, max_streams: int) -> None:
        self.rate = rate
        self.burst = burst
        self.max_streams = max_streams
        self._buckets: dict[str, TokenBucket] = {}
        self._streams: dict[str, int] = {}

    def admit(self, name: str, now: float, *, rate: int = 0) -> float:
        """0.0 when the call may go ahead, else the delay after which it would."""
        bucket = self._buckets.get(name)
        if bucket is None:  # an identity with its own rate may burst one second's worth of it
            r, burst = (rate, rate) if rate else (self.rate, max(self.burst, self.rate))
            bucket = self._buckets[name] = TokenBucket(r, burst, burst, now)
        return bucket.take(now)

    def open_stream(self, name: str) -> bool:
        count = self._streams.get(name, 0)
        if count >= self.max_streams:
            return False
        self._streams[name] = count + 1
        return True

    def close_stream(self, name: str) -> None:
        count = self._streams.get(name, 0) - 1
        if count > 0:
            self._streams[name] = count
        else:
            self._streams.pop(name, None)

    def streams(self, name: str) -> int:
        return self._streams.get(name, 0)
