"""Bridge from the journal's writer thread to an asyncio loop.

``AsyncDurability(journal, loop)`` registers one commit listener. Each committed batch joins a queue in seq
order (the journal commits in seq order); the loop drains that queue (one ``loop.call_soon_threadsafe`` call per
batch the writer thread commits; at once for a batch committed inline on the loop itself). For each batch it
advances its view of the durable seq, wakes every ``wait_durable`` waiter that is now satisfied (waiters sit in a
heap ordered by seq, so waking is O(k log n) for k woken) and then runs the ``on_committed`` subscribers with the
batch's records. Subscribers see every record exactly once, in seq order, and only after it is durable (the
order path publishes execution reports from such a subscriber).

The queue is what keeps that order: a batch the writer thread committed may still wait for its callback when
the loop commits the next batch inline; delivering the inline one first would hand subscribers seq 49 before
45..48 (a journal stream that drops what is older than the last seq it sent would skip them).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
from collections import deque
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
        self._committed: deque[tuple[int, list[JournalRecord]]] = deque()  # appended by any thread, in seq order
        self._draining = False
        journal.add_commit_listener(self._on_commit_thread)

    @property
    def durable_seq(self) -> int:
        """The durable seq as already delivered to the loop (subscribers have seen up to here)."""
        return self._durable

    def took_over(self) -> None:
        """This process became the writer (a standby taking over, on the loop): what the previous writer committed
        is durable too, though no commit of this process delivered it. Without this, a journal reader (compliance's
        ``StreamJournal``) was told the seq the journal had when this process started, until its first commit, and
        refused the journal as gone backwards. Subscribers are not called: a standby applied those records itself."""
        self._durable = max(self._durable, self._journal.durable_seq)

    # ---------------------------------------------------------------- called from the writer thread

    def _on_commit_thread(self, upto_seq: int, records: list[JournalRecord]) -> None:
        self._committed.append((upto_seq, records))  # called under the journal's write lock: in seq order
        if threading.get_ident() == self._loop_thread:  # an inline commit on the loop itself
            self._drain()
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._drain)

    # ---------------------------------------------------------------- on the loop

    def _drain(self) -> None:
        """Deliver every committed batch not yet delivered, oldest first. A subscriber that commits inline (and
        so calls this again) only queues its batch: the outer call delivers it after the one in hand."""
        if self._draining:
            return
        self._draining = True
        try:
            committed = self._committed
            while committed:
                upto_seq, records = committed.popleft()
                self._on_commit_loop(upto_seq, records)
        finally:
            self._draining = False

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
