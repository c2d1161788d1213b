"""Fan-out of durable journal records to execution and journal streams.

Records arrive here only after they are committed, so anything a client receives survives a crash. Each
subscriber has a bounded queue; one that falls behind is disconnected with the seq to resume from, rather
than being allowed to grow memory without bound or to slow the order path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tradingdesk.storage.journal import JournalRecord

QUEUE_BOUND = 50_000


class Subscriber:
    __slots__ = ("accepts", "overflowed", "queue")

    def __init__(self, accepts: Callable[[JournalRecord], bool], bound: int = QUEUE_BOUND) -> None:
        self.accepts = accepts
        self.queue: asyncio.Queue[JournalRecord | None] = asyncio.Queue(bound)
        self.overflowed = False


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
            sub.overflowed = False
            try:
                sub.queue.put_nowait(None)
            except asyncio.QueueFull:
                sub.overflowed = True  # it drains the queue, then ends with the resume position
        self.subscribers.clear()

    def publish(self, records: list[JournalRecord]) -> None:
        if not self.subscribers:
            return
        for sub in tuple(self.subscribers):
            if sub.overflowed:
                continue
            accepts = sub.accepts
            put = sub.queue.put_nowait
            for rec in records:
                if accepts(rec):
                    try:
                        put(rec)
                    except asyncio.QueueFull:
                        sub.overflowed = True
                        self.subscribers.discard(sub)  # its stream drains the full queue, then sees the flag
                        break
