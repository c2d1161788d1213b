"""The loop watch: a held event loop is logged, with the full collections that ran while it was held."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading

import pytest

from tests.waiting import wait_for
from tradingdesk.telemetry.loop_watch import LoopWatch


async def test_a_held_loop_is_logged_with_the_full_collections_that_held_it(caplog: pytest.LogCaptureFixture) -> None:
    watch = LoopWatch(asyncio.get_running_loop(), service="routing", threshold_s=0.1, ping_s=0.01)
    watch.start()
    try:
        with caplog.at_level(logging.WARNING, logger="tradingdesk.telemetry.loop_watch"):
            # hold the loop with full collections until the watch sees its ping overdue: the state, not a time
            collected = 0
            while not watch.overdue():
                collected += 1
                gc.collect()
            assert collected
            held = await wait_for(lambda: watch.held, what="the hold logged")
        assert held[0].held_s >= 0.1
        assert any(c.generation == 2 for c in held[0].collections)
        assert "routing: event loop held" in caplog.text
        assert "full collections" in caplog.text
    finally:
        watch.stop()
    assert watch._on_gc not in gc.callbacks


async def test_a_loop_that_runs_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    # a threshold no loop that keeps running misses, even on a loaded machine
    watch = LoopWatch(asyncio.get_running_loop(), service="feeds", threshold_s=5.0, ping_s=0.01)
    with caplog.at_level(logging.WARNING, logger="tradingdesk.telemetry.loop_watch"):
        watch.start()
        try:
            await wait_for(lambda: watch.pings >= 20, what="twenty pings answered")
        finally:
            watch.stop()
    assert watch.held == []
    assert "event loop held" not in caplog.text


async def test_a_hold_names_where_the_loop_was_waiting(caplog: pytest.LogCaptureFixture) -> None:
    """A loop held while the process does little (a wait on a database, a lock, a system call) says where."""
    watch = LoopWatch(asyncio.get_running_loop(), service="routing", threshold_s=0.1, ping_s=0.01)
    watch.start()
    released = threading.Event()

    def release_once_looked_at_twice() -> None:  # the state, not a time
        while watch.looks < 2:
            released.wait(0.01)
        released.set()

    try:
        with caplog.at_level(logging.WARNING, logger="tradingdesk.telemetry.loop_watch"):
            releaser = threading.Thread(target=release_once_looked_at_twice)
            releaser.start()
            released.wait()  # the loop's thread waits here, using no CPU
            releaser.join()
            held = await wait_for(lambda: watch.held, what="the hold logged")
        assert held[0].samples >= 2 and held[0].where_count >= 1
        assert held[0].where[0].startswith("threading.py:"), held[0].where  # inside Event.wait
        assert any("test_a_hold_names_where_the_loop_was_waiting" in frame for frame in held[0].where), held[0].where
        assert "the loop was in threading.py:" in caplog.text
    finally:
        watch.stop()
