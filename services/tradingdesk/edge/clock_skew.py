"""Clock skew injected into one running service, for fault drills: a per-service offset file the clock re-reads.

A simulation (``tradingdesk simulate``, fault kind ``clock_skew``) must make one service's clock run off while
the process keeps running, as when one host's NTP fails, without restarting it (a restart would hide what the
desk does with a clock that moves under it). The embedded desk's children share one environment, so the
simulation names a directory in ``TD_CLOCK_SKEW_DIR``; the clock of service ``S`` is then read
``int(<dir>/S)`` nanoseconds off (no file: 0).

Why a file and not an RPC: a skewed clock is a property of a host, not of the service's API; an RPC that moves
a trading clock would be a control an attacker or a mistake could reach in production, where a file in a
directory named only by the simulation's environment cannot exist. Cost: without ``TD_CLOCK_SKEW_DIR`` (every
production desk, the operator never sets it) the service gets its clock unwrapped, so nothing changes on the
order path; with it, ``now_ns`` re-reads the file at most every ``REFRESH_NS`` of monotonic time (one
``open``/``read`` per 100 ms, never a syscall per call: ``time.monotonic_ns`` is served by the vDSO).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tradingdesk.core.clock import NS_PER_MS, Clock, OffsetClock

SKEW_DIR_ENV = "TD_CLOCK_SKEW_DIR"
REFRESH_NS = 100 * NS_PER_MS


class SkewFileClock(OffsetClock):
    """``inner`` read off by the offset in ``path``, re-read at most every ``refresh_ns`` of ``monotonic`` time.

    A file that cannot be read or parsed counts as no skew: a drill must never stop the desk by itself."""

    def __init__(
        self,
        inner: Clock,
        path: Path,
        *,
        refresh_ns: int = REFRESH_NS,
        monotonic: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        super().__init__(inner)
        self.path = path
        self.refresh_ns = refresh_ns
        self.monotonic = monotonic
        self._next_read_ns = monotonic()
        self._read()

    def _read(self) -> None:
        try:
            self.offset_ns = int(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            self.offset_ns = 0
        self._next_read_ns = self.monotonic() + self.refresh_ns

    def now_ns(self) -> int:
        if self.monotonic() >= self._next_read_ns:
            self._read()
        return self.inner.now_ns() + self.offset_ns

    def seconds_until(self, ts_ns: int) -> float:
        if self.monotonic() >= self._next_read_ns:
            self._read()
        return self.inner.seconds_until(ts_ns - self.offset_ns)


def skewable(clock: Clock, service: str, environ: Mapping[str, str] | None = None) -> Clock:
    """``clock`` as service ``service`` should use it: itself, unless a drill named a skew directory."""
    env = os.environ if environ is None else environ
    directory = env.get(SKEW_DIR_ENV)
    if not directory or not service:
        return clock
    return SkewFileClock(clock, Path(directory) / service)


def set_skew(directory: Path, service: str, offset_ns: int) -> None:
    """Make ``service``'s clock run ``offset_ns`` off (0: on time again), atomically: a reader sees the old
    offset or the new one, never half a number."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{service}.tmp"
    tmp.write_text(f"{offset_ns}\n")
    os.replace(tmp, directory / service)
