"""Bridge from the journal's writer thread to an asyncio loop.

``AsyncDurability(journal, loop)`` registers one commit listener. For each committed batch it makes ONE
``loop.call_soon_threadsafe`` call; on the loop that callback advances its view of the durable seq, wakes
every ``wait_durable`` waiter that is now satisfied (waiters sit in a heap ordered by seq, so waking is
O(k log n) for k woken) and then runs the ``on_committed`` subscribers with the batch's records. Batches
arrive in seq order, so subscribers see every record exactly once, in seq order, and only after it is
durable (the order path publishes execution reports from such a subscriber).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
from collections.abc import Callable

from .journal import Journal, JournalRecord

log = logging.getLogger(__name__)

CommittedCallback = Callable[[list[JournalRecord]], None]


class AsyncDurability:
    def __init__(self, journal: Journal, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._journal = journal
        self._loop = loop if loop is not None else asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()  # constructed on the loop's thread
        self._durable = journal.durable_seq  # as seen on the loop
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._tiebreak = itertools.count()
        self._subscribers: tuple[CommittedCallback, ...] = ()
        self._closed = False
        journal.add_commit_listener(self._on_commit_thread)

    @property
    def durable_seq(self) -> int:
        """The durable seq as already delivered to the loop (subscribers have seen up to here)."""
        return self._durable

    # ---------------------------------------------------------------- called from the writer thread

    def _on_commit_thread(self, upto_seq: int, records: list[JournalRecord]) -> None:
        if threading.get_ident() == self._loop_thread:  # an inline commit on the loop itself
            self._on_commit_loop(upto_seq, records)
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._on_commit_loop, upto_seq, records)

    # ---------------------------------------------------------------- on the loop

    def _on_commit_loop(self, upto_seq: int, records: list[JournalRecord]) -> None:
        if upto_seq > self._durable:
            self._durable = upto_seq
        waiters = self._waiters
        while waiters and waiters[0][0] <= upto_seq:
            fut = heapq.heappop(waiters)[2]
            if not fut.done():
                fut.set_result(None)
        for cb in self._subscribers:
            try:
                cb(records)
            except Exception:
                log.exception("on_committed subscriber %r failed", cb)

    async def wait_durable(self, seq: int) -> None:
        """Return once the record with ``seq`` (and every one before it) is durable."""
        if seq <= self._durable or seq <= self._journal.durable_seq:
            return
        if self._closed:
            raise RuntimeError("AsyncDurability is closed")
        fut: asyncio.Future[None] = self._loop.create_future()
        heapq.heappush(self._waiters, (seq, next(self._tiebreak), fut))
        await fut

    def on_committed(self, callback: CommittedCallback) -> Callable[[], None]:
        """Run ``callback(records)`` on the loop for every committed batch, in seq order.

        Returns a function that unsubscribes.
        """
        self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            self._subscribers = tuple(cb for cb in self._subscribers if cb is not callback)

        return unsubscribe

    def close(self) -> None:
        """Detach from the journal and cancel pending waiters (call on the loop)."""
        if self._closed:
            return
        self._closed = True
        self._journal.remove_commit_listener(self._on_commit_thread)
        waiters, self._waiters = self._waiters, []
        for _, _, fut in waiters:
            if not fut.done():
                fut.cancel()


__all__ = ["AsyncDurability", "CommittedCallback"]
