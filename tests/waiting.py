"""The one polling helper of the tests: wait for a state, never for a length of time.

``wait_for`` (async code) and its twin ``wait_until`` (code with no event loop: harnesses driving processes
or kubectl) poll a predicate until it returns something truthy, return that value, and fail naming ``what``
after ``timeout`` seconds. The timeout bounds a wait that would otherwise hang; it is never what a test
asserts. Unit tests need neither: they move the manual clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


class WaitTimeout(AssertionError):
    """The state never came."""


def _timed_out(what: str, timeout: float, last: Any) -> WaitTimeout:
    return WaitTimeout(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def wait_for(
    predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, *, what: str = "the condition"
) -> Any:
    """Poll ``predicate`` (sync, or returning an awaitable) until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise _timed_out(what, timeout, value)
        await asyncio.sleep(interval)


def wait_until(
    predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, *, what: str = "the condition"
) -> Any:
    """``wait_for`` for code without an event loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, value)
        time.sleep(interval)
