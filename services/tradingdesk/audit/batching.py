"""A bounded queue that a background task writes in batches, retrying with backoff: how a service hands audit
records to a durable writer (its journal, or the compliance service) without making the caller wait.

    queue = BatchQueue(write, name="feeds", what="audit events", queue_max=10_000)
    queue.start()
    queue.put(item)   # never blocks, never raises
    await queue.stop()

``write`` stores a batch durably or raises: the batch stays queued and is tried again after a backoff (0.1 s
doubling to 5 s), except when it raises ``BatchRefused`` (the receiver will never take that batch: it is dropped,
counted and logged at ERROR, or it would block the queue for good). What is queued is in memory only until it is
written: a crash of the process loses it (``stop`` tries once more and logs at ERROR what is left). Beyond
``queue_max`` items, ``put`` drops and counts (logging at ERROR), unless the subclass's ``_fold`` merges the item
into one already queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

BATCH_MAX = 1_000
RETRY_INITIAL_S = 0.1
RETRY_MAX_S = 5.0
STOP_TIMEOUT_S = 5.0


class BatchRefused(Exception):
    """Raised by a ``write`` whose receiver refused the batch for good (retrying could never succeed)."""


class BatchQueue(Generic[T]):
    """Items written in batches of at most ``batch_max`` by ``write`` from a background task (``start``/``stop``)."""

    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        name: str,
        what: str,
        queue_max: int,
        batch_max: int = BATCH_MAX,
        drop_log_every: int = 1_000,
    ) -> None:
        self._write = write
        self.name = name
        self.what = what
        """What the items are, for log lines ("access decisions")."""
        self.queue_max = queue_max
        self.batch_max = batch_max
        self._drop_log_every = drop_log_every
        self._queue: list[T] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.dropped = 0
        self.written = 0

    def put(self, item: T) -> None:
        """Queue ``item``; never blocks, never raises."""
        if len(self._queue) >= self.queue_max:
            if not self._fold(item):
                self._count_dropped(1, "the writer is behind")
            return
        self._queue.append(item)
        if self._wake is not None:
            self._wake.set()

    def _fold(self, item: T) -> bool:
        """Merge ``item`` into one already queued when the queue is full; False if it cannot be."""
        return False

    def _count_dropped(self, n: int, why: str) -> None:
        before, self.dropped = self.dropped, self.dropped + n
        if before == 0 or before // self._drop_log_every != self.dropped // self._drop_log_every:
            log.error("%s: %d %s dropped: %s", self.name, self.dropped, self.what, why)

    def start(self) -> None:
        self._wake = asyncio.Event()
        if self._queue:
            self._wake.set()
        self._task = asyncio.create_task(self._run(), name=f"{self.name}-{self.what.replace(' ', '-')}")

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Write what is queued (one more try, for at most ``timeout`` seconds), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                while self._queue:
                    await self._write_some()
        if self._queue:
            log.error("%s: %d %s not written at stop", self.name, len(self._queue), self.what)

    async def _write_some(self) -> None:
        batch = self._queue[: self.batch_max]
        try:
            await self._write(batch)
        except BatchRefused as exc:
            del self._queue[: len(batch)]
            self._count_dropped(len(batch), f"refused: {exc}")
            return
        del self._queue[: len(batch)]
        self.written += len(batch)

    async def _run(self) -> None:
        assert self._wake is not None
        delay = RETRY_INITIAL_S
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
            try:
                await self._write_some()
                delay = RETRY_INITIAL_S
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: %s not written yet (retry in %.1fs): %s", self.name, self.what, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)


__all__ = ["BATCH_MAX", "RETRY_INITIAL_S", "RETRY_MAX_S", "STOP_TIMEOUT_S", "BatchQueue", "BatchRefused"]
