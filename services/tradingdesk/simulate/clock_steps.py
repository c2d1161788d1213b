"""Steps of the machine's wall clock during a run, into ``clock_steps.jsonl`` of the run directory.

Every clock of a replayed desk is the wall clock (``CLOCK_REALTIME``) scaled by the replay's speed
(``markets/replay_clock.py``): a desk stamps its records in UTC, as a trading desk must. When the machine's clock
is stepped (NTP or a hypervisor correcting it), every service's market time jumps with it, at 20x by twenty
times the step. A CI run measured a window 44 market seconds longer than the run, whose end is timed on the
monotonic clock: its wall clock had stepped forward by about 2.2 s (inferred from that record), and the 44 market
seconds nobody lived through read as 45.6 s without market data on the tape and as seconds without a probe. The
desk did nothing wrong in them; the seconds did not happen.

The watch samples the wall clock against the monotonic clock (which steps never move) every ``SAMPLE_S``; a change
of their difference by more than ``STEP_NS`` between two samples is a step, recorded with the market time it skipped
(forward) or repeated (backward), placed as ending at the sample that found it: it began within the sample before,
so its place is known to a sample's wall time (a market second at 20x, five at 100x). A loaded machine that runs the
watch late moves both clocks alike and records nothing. The verdict (``simulate.verdict``) reads the file: the
market seconds a forward step skipped are not measured for availability and do not count in a gap of market data;
each step is a note of the report, and ``clock_stepped_s`` the figure of their sizes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from tradingdesk.core.clock import NS_PER_MS, NS_PER_SECOND

SAMPLE_S = 0.05
STEP_NS = 100 * NS_PER_MS
"""Wall ns by which the wall clock must move against the monotonic clock between two samples to count as a
step: far above NTP's slewing (at most 0.5 ms a second) and the two reads' own spread."""
STEPS_FILE = "clock_steps.jsonl"


@dataclass(frozen=True, slots=True)
class ClockStep:
    wall_ns: int
    """The wall clock's reading at the first sample after the step."""
    step_ns: int
    """Wall ns the wall clock moved beyond the monotonic clock: forward > 0, backward < 0."""
    market_from_ns: int
    """Market time where the step began (forward: the first instant skipped; backward: the end of what repeats)."""
    market_to_ns: int
    """Market time where it landed (forward: the end of what was skipped; backward: the start of what repeats)."""

    def skipped(self) -> tuple[int, int] | None:
        """The market interval [from, to) a forward step skipped (None for a backward one)."""
        return (self.market_from_ns, self.market_to_ns) if self.step_ns > 0 else None


def step_of(
    *, previous: tuple[int, int], current: tuple[int, int], market_now: int, speed: Fraction
) -> ClockStep | None:
    """The step between two samples (``(wall ns, monotonic ns)`` each), if their difference moved by more than
    ``STEP_NS``; ``market_now``: the market time at ``current``."""
    moved = (current[0] - current[1]) - (previous[0] - previous[1])
    if abs(moved) <= STEP_NS:
        return None
    market_moved = moved * speed.numerator // speed.denominator
    return ClockStep(
        wall_ns=current[0], step_ns=moved, market_from_ns=market_now - market_moved, market_to_ns=market_now
    )


class ClockStepWatch:
    """``run`` samples until cancelled; ``write`` puts the steps found into the run directory."""

    def __init__(
        self, *, market_now: Callable[[], int], speed: Fraction | int, wall: Callable[[], int] = time.time_ns
    ) -> None:
        """``wall``: the wall clock the desk's clocks read (a test passes one it can step: this machine's own is
        not a test's to step)."""
        self.market_now = market_now
        self.speed = Fraction(speed)
        self.wall = wall
        self.steps: list[ClockStep] = []

    async def run(self) -> None:
        previous = (self.wall(), time.monotonic_ns())
        while True:
            await asyncio.sleep(SAMPLE_S)
            current = (self.wall(), time.monotonic_ns())
            step = step_of(previous=previous, current=current, market_now=self.market_now(), speed=self.speed)
            if step is not None:
                self.steps.append(step)
            previous = current

    def write(self, directory: Path) -> None:
        with (directory / STEPS_FILE).open("w") as f:
            for step in self.steps:
                f.write(json.dumps(asdict(step)) + "\n")


def read_steps(directory: Path) -> list[ClockStep]:
    """The run's steps (none for a record from before the watch, December 2026)."""
    path = directory / STEPS_FILE
    if not path.exists():
        return []
    return [ClockStep(**json.loads(line)) for line in path.read_text().splitlines() if line]


def describe(step: ClockStep) -> str:
    """One line of the report."""
    seconds = abs(step.step_ns) / NS_PER_SECOND
    market = abs(step.market_to_ns - step.market_from_ns) / NS_PER_SECOND
    if step.step_ns > 0:
        return (
            f"the machine's wall clock stepped forward {seconds:.3f}s: {market:.1f} market seconds from "
            f"{_hms(step.market_from_ns)} were skipped by every service's clock (not measured for availability, "
            "not counted in a gap of market data)"
        )
    return (
        f"the machine's wall clock stepped back {seconds:.3f}s: {market:.1f} market seconds up to "
        f"{_hms(step.market_from_ns)} came twice (judged as the record has them)"
    )


def _hms(ts_ns: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts_ns // NS_PER_SECOND))
