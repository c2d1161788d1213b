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
        backoff = self._min_backoff
        while True:
            try:
                async with channels.aio_channel(
                    self.address, options=CHANNEL_OPTIONS, interceptors=client_interceptors()
                ) as channel:
                    self.connected = True
                    await self._consume(channel)
                backoff = self._min_backoff
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
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)
