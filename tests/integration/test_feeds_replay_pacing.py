"""Replay pacing in real time: a 10 s session at 100x takes about a tenth of a second, speed 0 is as fast as the
machine goes, and a slow consumer does not shift what follows. These measure wall-clock time, so they live
here rather than with the unit tests (which move the manual clock)."""

from __future__ import annotations

import asyncio
import time

from tests.unit.test_feeds_replay_arbitration import MS, SEC, START, collect, ticks
from tradingdesk.feeds.replay import ReplayLine


async def test_speed_100_replays_ten_seconds_in_about_a_tenth() -> None:
    line = ReplayLine("A", lambda: ticks(101, 100 * MS), start_ns=START, speed=100)  # 0 .. 10 s
    t0 = time.perf_counter()
    out = await collect(line)
    elapsed = time.perf_counter() - t0
    assert len(out) == 101
    assert 0.09 <= elapsed < 1.0


async def test_speed_0_is_as_fast_as_possible() -> None:
    line = ReplayLine("A", lambda: ticks(20_000, SEC), start_ns=START, speed=0)  # 5.5 hours of session
    t0 = time.perf_counter()
    out = await collect(line)
    assert len(out) == 20_000
    assert time.perf_counter() - t0 < 5.0


async def test_pacing_does_not_drift_behind_a_slow_consumer() -> None:
    line = ReplayLine("A", lambda: ticks(31, 100 * MS), start_ns=START, speed=10)  # 3 s at 10x = 0.3 s
    t0 = time.perf_counter()
    async for m in line:
        if m.seq == 2:
            await asyncio.sleep(0.15)  # the consumer stalls; the line must catch up, not shift everything
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.42  # cumulative sleeps would take ~0.45 s
