"""``core.tasks.stop_tasks``: a task that lost its first cancellation (as ``asyncio.wait_for`` on Python 3.11 loses
one that arrives with its result) is cancelled again after the grace and stops; a task that awaits in its cleanup
is given the grace undisturbed; one that never stops is named after the bound."""

from __future__ import annotations

import asyncio
import contextlib

from tradingdesk.core.tasks import stop_tasks


async def loses_one_cancellation(losses: list[int]) -> None:
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if losses:
                raise
            losses.append(1)  # carries on, as a task inside wait_for whose inner call just finished


async def never_stops(released: asyncio.Event) -> None:
    """Swallows every cancellation until the test releases it."""
    while not released.is_set():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)


async def test_a_task_that_lost_a_cancellation_is_cancelled_again_and_stops() -> None:
    losses: list[int] = []
    task = asyncio.create_task(loses_one_cancellation(losses))
    quick = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    assert await stop_tasks([task, quick], grace_s=0.2, within_s=30) == []
    assert losses == [1] and task.cancelled() and quick.cancelled()


async def test_a_task_that_never_stops_is_returned_after_the_bound() -> None:
    released = asyncio.Event()
    task = asyncio.create_task(never_stops(released))
    await asyncio.sleep(0)
    assert await stop_tasks([task], grace_s=0.1, within_s=0.5) == [task]
    assert not task.done()
    released.set()
    task.cancel()
    await asyncio.wait({task})


async def cleans_up_slowly(cleaned: list[int]) -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        await asyncio.sleep(0.3)  # as the simulation's probe waits for its process to exit
        cleaned.append(1)
        raise


async def test_a_task_awaiting_in_its_cleanup_is_not_cancelled_again_within_the_grace() -> None:
    cleaned: list[int] = []
    task = asyncio.create_task(cleans_up_slowly(cleaned))
    await asyncio.sleep(0)
    assert await stop_tasks([task], grace_s=5, within_s=10) == []
    assert cleaned == [1] and task.cancelled()
