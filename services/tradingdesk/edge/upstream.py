"""Long-lived subscriptions to other services that reconnect by themselves.

A service must keep running when a peer restarts; these loops retry with capped exponential backoff and
report whether they are connected, so health and risk can act on a lost stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import grpc

from tradingdesk.security import channels
from tradingdesk.telemetry import client_interceptors

log = logging.getLogger(__name__)

CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]


MAX_BACKOFF_S = 0.5
"""The longest wait between two attempts. An upstream is another service of the desk, and what it feeds (market
data for the gate's references, the risk picture) is stale while it is away: with a 2 s bound, routing could
dial a restarted feeds process up to 2 s after it served again (200 market seconds at 100x, orders refused
against stale references meanwhile). Dialling a local service twice a second costs nothing."""


class Backoff:
    """The waits between attempts: doubling from ``min_s`` up to ``max_s`` while attempts keep failing, and from
    ``min_s`` again after one that lasted longer than ``max_s`` (a subscription that served, then broke). Without
    that reset, a subscription that failed a few times while the desk started waited its longest backoff when
    its server died hours later."""

    def __init__(self, min_s: float, max_s: float) -> None:
        self.min_s = min_s
        self.max_s = max_s
        self._next = min_s

    def after(self, lasted_s: float) -> float:
        """The wait after an attempt that lasted ``lasted_s``."""
        if lasted_s > self.max_s:
            self._next = self.min_s
        wait = self._next
        self._next = min(wait * 2, self.max_s)
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
        max_backoff: float = MAX_BACKOFF_S,
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
        backoff = Backoff(self._min_backoff, self._max_backoff)
        clock = asyncio.get_running_loop().time
        while True:
            started = clock()
            try:
                async with channels.aio_channel(
                    self.address, options=CHANNEL_OPTIONS, interceptors=client_interceptors()
                ) as channel:
                    self.connected = True
                    await self._consume(channel)
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
            await asyncio.sleep(backoff.after(clock() - started))
