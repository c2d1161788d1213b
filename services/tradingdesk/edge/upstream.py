"""Long-lived subscriptions to other services that reconnect by themselves.

A service must keep running when a peer restarts; these loops retry with capped exponential backoff and
report whether they are connected, so health and risk can act on a lost stream.

A subscription that served for a while and then ended has most likely lost a peer that is restarting now: the
next minute's retries come at most ``RESTART_MAX_S`` apart, so the stream is back within that of the peer
listening again. Before, failures at startup had grown the wait to two seconds, and a peer killed hours later
was dialled again up to two seconds after it served: the risk gate failed closed, or routing's market data went
stale, for that long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import grpc

from tradingdesk.security import channels
from tradingdesk.telemetry import client_interceptors

log = logging.getLogger(__name__)

CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 16 * 1024 * 1024)]
"""On top of the desk's keepalive (``security/channels.py`` ``KEEPALIVE``, applied to every channel it makes): a
subscription whose peer went silent (a dead node, a partition) fails ``UNAVAILABLE`` at most 15 s after the last
frame it read, and reconnects."""


SETTLED_S = 10.0
"""An attempt that lasted this long served: its end starts the backoff again, at the minimum."""
RESTART_WINDOW_S = 60.0
"""How long after a settled subscription ended its retries stay at most ``RESTART_MAX_S`` apart."""
RESTART_MAX_S = 0.25


class Backoff:
    """The waits between attempts: doubling from ``minimum`` to ``maximum``. An attempt that ended cleanly or
    lasted ``SETTLED_S`` starts the doubling from the minimum again; one that lasted ``SETTLED_S`` also caps
    the waits at ``RESTART_MAX_S`` for ``RESTART_WINDOW_S``, since its peer is most likely restarting."""

    def __init__(self, *, minimum: float, maximum: float) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self._next = minimum
        self._restart_until = float("-inf")

    def after_attempt(self, *, served_s: float, clean: bool, now: float) -> float:
        """The wait before the next attempt, after one that lasted ``served_s`` and ended at ``now``."""
        if clean or served_s >= SETTLED_S:
            self._next = self.minimum
            if served_s >= SETTLED_S:
                self._restart_until = now + RESTART_WINDOW_S
        wait = self._next
        cap = min(self.maximum, RESTART_MAX_S) if now < self._restart_until else self.maximum
        self._next = max(min(wait * 2, cap), self.minimum)
        return wait


class Upstream:
    """Runs ``consume(channel)`` against ``address`` forever, reconnecting after any failure."""

    def __init__(
        self,
        name: str,
        address: str,
        consume: Callable[[grpc.aio.Channel], Awaitable[None]],
        *,
        min_backoff: float = 0.05,
        max_backoff: float = 2.0,
    ) -> None:
        self.name = name
        self.address = address
        self._consume = consume
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self.connected = False
        self.failures = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"upstream-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        backoff = Backoff(minimum=self._min_backoff, maximum=self._max_backoff)
        while True:
            started = time.monotonic()
            clean = False
            try:
                async with channels.aio_channel(
                    self.address, options=CHANNEL_OPTIONS, interceptors=client_interceptors()
                ) as channel:
                    self.connected = True
                    await self._consume(channel)
                clean = True
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                self.failures += 1
                log.debug("%s: %s %s", self.name, exc.code().name, exc.details())
            except Exception:
                self.failures += 1
                log.exception("%s: subscription failed", self.name)
            finally:
                self.connected = False
            now = time.monotonic()
            await asyncio.sleep(backoff.after_attempt(served_s=now - started, clean=clean, now=now))
