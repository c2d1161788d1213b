"""Stopping asyncio tasks that may lose a cancellation.

On Python 3.11 ``asyncio.wait_for`` swallows a cancellation that arrives in the same turn of the loop as its inner
awaitable's result (it returns the result; fixed in 3.12): a task cancelled once at that instant carries on. The
simulation's session client, cancelled at the end of a run while a stream write completed, kept sending orders and
the run never ended (CI, stop 34). ``stop_tasks`` cancels once, gives the tasks time to clean up (a task may await
in its cleanup: the simulation's probe waits for its process and collects its records), and only then cancels again
what still runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

RECANCEL_EVERY_S = 0.2


async def stop_tasks(tasks: Iterable[asyncio.Task], *, grace_s: float, within_s: float) -> list[asyncio.Task]:
    """Cancel ``tasks`` and wait until they are done: ``grace_s`` seconds for their cleanup, then each one still
    running is cancelled again every ``RECANCEL_EVERY_S`` (it lost its cancellation) until ``within_s`` seconds in
    all. Returns the ones still running then (empty when all stopped); results and exceptions stay in the tasks."""
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(within_s, grace_s)
    if pending:
        _, pending = await asyncio.wait(pending, timeout=grace_s)
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(RECANCEL_EVERY_S, left))
    return list(pending)
