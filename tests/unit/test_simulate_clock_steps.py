"""A step of the machine's wall clock during a simulated run: the watch finds it against the monotonic clock (and finds
nothing when the machine merely holds it up), and the verdict neither measures the market seconds it skipped for
availability nor counts them in a gap of market data. The case: a CI run whose clock (by its record) stepped forward
by about 2.2 s at 20x read as 45.6 market seconds without market data and failed its verdict."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from fractions import Fraction
from pathlib import Path

from tradingdesk.core.clock import NS_PER_MS, NS_PER_SECOND
from tradingdesk.markets.calendar import ExchangeCalendar, Session
from tradingdesk.simulate.clock_steps import STEP_NS, ClockStep, ClockStepWatch, describe, read_steps, step_of
from tradingdesk.simulate.market_data import judge
from tradingdesk.simulate.verdict import measured_seconds

S = NS_PER_SECOND
SPEED = 20


class SteppableWall:
    """The machine's wall clock plus an offset the test steps, as NTP steps the real one."""

    def __init__(self) -> None:
        self.offset_ns = 0

    def __call__(self) -> int:
        return time.time_ns() + self.offset_ns


def market_of(wall: SteppableWall, origin_ns: int):
    return lambda: (wall() - origin_ns) * SPEED


def test_a_forward_step_is_found_with_the_market_seconds_it_skipped() -> None:
    wall = SteppableWall()
    origin = time.time_ns()
    watch = ClockStepWatch(market_now=market_of(wall, origin), speed=SPEED, wall=wall)

    async def scenario() -> None:
        task = asyncio.create_task(watch.run())
        await asyncio.sleep(0.2)
        wall.offset_ns += 2_200 * NS_PER_MS  # the CI run's step
        async with asyncio.timeout(10):
            while not watch.steps:
                await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    (step,) = watch.steps
    assert abs(step.step_ns - 2_200 * NS_PER_MS) < 20 * NS_PER_MS  # the two reads of each sample are close
    skipped = step.skipped()
    assert skipped is not None and skipped[1] - skipped[0] == step.step_ns * SPEED  # 44 market seconds
    assert "stepped forward 2.2" in describe(step) and "44.0 market seconds" in describe(step)


def test_a_machine_that_holds_the_watch_up_is_no_step() -> None:
    """Both clocks run on while the watch's loop is blocked: late samples, and nothing recorded."""
    wall = SteppableWall()
    watch = ClockStepWatch(market_now=market_of(wall, time.time_ns()), speed=SPEED, wall=wall)

    async def scenario() -> None:
        task = asyncio.create_task(watch.run())
        await asyncio.sleep(0.1)
        time.sleep(0.5)  # the loop held for five times the step threshold
        await asyncio.sleep(0.2)
        task.cancel()

    asyncio.run(scenario())
    assert watch.steps == []


def test_a_backward_step_skips_nothing_and_steps_survive_the_record(tmp_path: Path) -> None:
    back = step_of(previous=(1_000 * S, 10 * S), current=(999 * S, 11 * S), market_now=5_000 * S, speed=Fraction(20))
    assert back is not None and back.step_ns == -2 * S and back.skipped() is None
    assert "stepped back 2.000s" in describe(back)
    assert step_of(previous=(0, 0), current=(S + STEP_NS, S), market_now=0, speed=Fraction(20)) is None  # at the bound
    watch = ClockStepWatch(market_now=lambda: 0, speed=SPEED)
    forward = ClockStep(wall_ns=1, step_ns=S, market_from_ns=100 * S, market_to_ns=120 * S)
    watch.steps = [forward, back]
    watch.write(tmp_path)
    assert read_steps(tmp_path) == [forward, back]
    assert read_steps(tmp_path / "older-record") == []


def test_a_gap_that_holds_a_skipped_interval_is_judged_by_the_seconds_lived() -> None:
    tape = [(ts, "AAPL") for ts in range(90 * S, 210 * S, S) if not 150 * S < ts < 196 * S]  # 46 s without data
    kw = dict(window=(100 * S, 200 * S), max_age_ns=5 * S, gap_bound_ns=5 * S, reference_max_age_ns=5 * S)
    assert judge(tape, [], **kw).gaps == [(150 * S, 196 * S)]
    found = judge(tape, [], skipped=[(151 * S, 195 * S)], **kw)  # 44 s skipped: 2 s lived
    assert (found.gaps, found.longest_gap_ns) == ([], 46 * S)  # the longest stretch is still the tape's
    # a step that skipped less than the gap: what was lived of it is still past the bound
    assert judge(tape, [], skipped=[(151 * S, 170 * S)], **kw).gaps == [(150 * S, 196 * S)]


def test_seconds_a_forward_step_skipped_are_not_measured() -> None:
    open_ns = 1_000_000 * S
    calendar = ExchangeCalendar(
        "TEST", [Session(day=date(2026, 1, 5), open_ns=open_ns, close_ns=open_ns + 100 * S)], timezone="UTC"
    )
    measured = measured_seconds(
        calendar, start_ns=open_ns, end_ns=open_ns + 100 * S, skipped=[(open_ns + 10 * S + 1, open_ns + 54 * S)]
    )
    # second 10 began before the step (lived in part), 11 to 53 began inside it
    assert len(measured) == 100 - 43 and open_ns // S + 10 in measured and open_ns // S + 54 in measured
