"""The fan-out of committed journal records: each subscriber gets a committed batch as one list of what it
accepts, a subscriber that falls behind is cut off and woken to see it, and closing ends every stream."""

from __future__ import annotations

import asyncio

from tradingdesk.routing.publisher import NEVER_CUT_OFF, QUEUE_BOUND, RecordPublisher, accept_any
from tradingdesk.storage.journal import JournalRecord


def records(first: int, n: int, kind: str = "new") -> list[JournalRecord]:
    return [JournalRecord(seq, 1_000 + seq, kind, f"O-{seq}", {}) for seq in range(first, first + n)]


def test_each_subscriber_gets_a_batch_as_one_list_of_what_it_accepts() -> None:
    async def scenario() -> None:
        publisher = RecordPublisher()
        everything = publisher.subscribe(accept_any)
        fills = publisher.subscribe(lambda rec: rec.kind == "filled")
        batch = records(1, 3) + records(4, 2, "filled")
        publisher.publish(batch)
        publisher.publish(records(6, 2))  # nothing for the fills reader: nothing is queued for it
        assert await everything.next_batch() is batch  # the committed list itself, not a copy
        assert [r.seq for r in everything.next_batch_nowait()] == [6, 7]
        assert [r.seq for r in await fills.next_batch()] == [4, 5]
        assert fills.queue.empty() and everything.pending == fills.pending == 0

    asyncio.run(scenario())


def test_a_subscriber_past_its_bound_is_cut_off_and_woken_to_see_it() -> None:
    async def scenario() -> None:
        publisher = RecordPublisher()
        slow = publisher.subscribe(accept_any, bound=5)
        publisher.publish(records(1, 4))
        publisher.publish(records(5, 2))  # 6 records waiting would pass the bound of 5
        assert slow.overflowed and slow not in publisher.subscribers
        publisher.publish(records(7, 1))  # no longer queued for it
        assert [r.seq for r in await slow.next_batch()] == [1, 2, 3, 4]
        assert await slow.next_batch() == []  # the wake-up: its stream sees the flag and ends with seq 5
        assert slow.queue.empty()

    asyncio.run(scenario())


def test_a_batch_larger_than_the_bound_wakes_an_idle_subscriber() -> None:
    async def scenario() -> None:
        publisher = RecordPublisher()
        idle = publisher.subscribe(accept_any, bound=3)
        publisher.publish(records(1, 4))
        assert await asyncio.wait_for(idle.next_batch(), timeout=5) == [] and idle.overflowed

    asyncio.run(scenario())


def test_a_subscriber_that_is_never_cut_off_takes_more_than_the_bound_at_once() -> None:
    """An OrderSession's queue: the loop may deliver many committed batches before its forwarder runs."""

    async def scenario() -> None:
        publisher = RecordPublisher()
        session = publisher.subscribe(accept_any, NEVER_CUT_OFF)
        publisher.publish(records(1, QUEUE_BOUND))
        publisher.publish(records(QUEUE_BOUND + 1, 10))
        assert not session.overflowed and session in publisher.subscribers
        assert len(await session.next_batch()) == QUEUE_BOUND
        assert [r.seq for r in session.next_batch_nowait()][-1] == QUEUE_BOUND + 10 and session.pending == 0

    asyncio.run(scenario())


def test_closing_ends_every_stream_after_what_it_already_has() -> None:
    async def scenario() -> None:
        publisher = RecordPublisher()
        a, b = publisher.subscribe(accept_any), publisher.subscribe(accept_any)
        publisher.publish(records(1, 2))
        publisher.close()
        for sub in (a, b):
            assert [r.seq for r in await sub.next_batch()] == [1, 2]
            assert await sub.next_batch() is None
        assert not publisher.subscribers

    asyncio.run(scenario())
