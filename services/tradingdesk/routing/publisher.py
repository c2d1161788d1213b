"""Fan-out of durable journal records to execution and journal streams.

Records arrive here only after they are committed, so anything a client receives survives a crash. Each
subscriber has a bounded queue; one that falls behind is disconnected with the seq to resume from, rather
than being allowed to grow memory without bound or to slow the order path.

A committed batch goes to each subscriber as one list (the records it accepts), not record by record: at a
session's rate the journal streams of risk and compliance took three queue operations per record each, about a
twelfth of routing's CPU.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from tradingdesk.storage.journal import JournalRecord

QUEUE_BOUND = 50_000
"""Records (not batches) a subscriber may have waiting before it is cut off."""

NEVER_CUT_OFF = sys.maxsize
"""The bound of a subscriber that drains its queue into a buffer of its own at once, and bounds that instead: its
queue grows only while the loop is busy elsewhere, and there is no ``from_seq`` it could be told to resume from."""


def accept_any(_: JournalRecord) -> bool:
    """The filter of a subscriber that takes every record: its batches are the committed lists themselves."""
    return True


class Subscriber:
    __slots__ = ("accepts", "bound", "overflowed", "pending", "queue")

    def __init__(self, accepts: Callable[[JournalRecord], bool], bound: int = QUEUE_BOUND) -> None:
        self.accepts = accepts
        self.bound = bound
        # Unbounded as a queue: ``pending`` counts the records in it against ``bound``. None ends the stream.
        self.queue: asyncio.Queue[list[JournalRecord] | None] = asyncio.Queue()
        self.pending = 0
        self.overflowed = False

    async def next_batch(self) -> list[JournalRecord] | None:
        """The next batch of records, or None once the publisher has closed. Empty only after an overflow."""
        return self._taken(await self.queue.get())

    def next_batch_nowait(self) -> list[JournalRecord] | None:
        """As ``next_batch``, for a queue known not to be empty."""
        return self._taken(self.queue.get_nowait())

    def _taken(self, batch: list[JournalRecord] | None) -> list[JournalRecord] | None:
        if batch is not None:
            self.pending -= len(batch)
        return batch


class RecordPublisher:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()

    def subscribe(self, accepts: Callable[[JournalRecord], bool], bound: int = QUEUE_BOUND) -> Subscriber:
        sub = Subscriber(accepts, bound)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def close(self) -> None:
        """End every stream: each subscriber receives None after what it already has."""
        for sub in tuple(self.subscribers):
            sub.queue.put_nowait(None)
        self.subscribers.clear()

    def publish(self, records: list[JournalRecord]) -> None:
        """Queue a committed batch for every subscriber. The list is shared with them: never changed after."""
        if not self.subscribers or not records:
            return
        for sub in tuple(self.subscribers):
            accepts = sub.accepts
            batch = records if accepts is accept_any else [rec for rec in records if accepts(rec)]
            if not batch:
                continue
            if sub.pending + len(batch) > sub.bound:
                sub.overflowed = True
                self.subscribers.discard(sub)  # its stream drains what it has, then sees the flag
                sub.queue.put_nowait([])  # wakes a stream with nothing queued, so that it sees the flag now
                continue
            sub.pending += len(batch)
            sub.queue.put_nowait(batch)
