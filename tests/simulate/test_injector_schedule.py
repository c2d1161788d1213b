"""The fault injector keeps the schedule on the desk's own (replay) clock: a fault begins ``at`` market seconds after
the run's start and ends ``at + for`` after it, however late the injector's task first ran. It used to count ``at``
in wall seconds from its own first step, which came after the
clients' first steps: every fault of the 20x days landed 3.3 to 5.1 market seconds late."""

from __future__ import annotations

import time
from pathlib import Path

from tests.desk_runner import write_desk
from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.edge.clock import REPLAY_ORIGIN_ENV, desk_clock
from tradingdesk.runtime.embedded import EmbeddedDesk
from tradingdesk.simulate.clients import Rate
from tradingdesk.simulate.faults import Fault
from tradingdesk.simulate.injector import Injector
from tradingdesk.simulate.target import EmbeddedTarget
from tradingdesk.spec.load import load_desk

SPEED = 20
LATE_WALL_S = 2.0
"""How long before the injector's first step the run started: 40 market seconds at 20x (the 20x days' lateness
was 0.16 to 0.25 wall seconds; larger here so that a loaded machine's late wake cannot be taken for it)."""
ON_TIME_MARKET_S = 20
"""How late (market seconds) a change may still be on a loaded machine: 1 s of wall time at 20x, half of the
``LATE_WALL_S`` the old injector added to every change. (At 3 market seconds, 0.15 s of wall time, it failed
once in a targeted run right after the cluster's simulation, the machine still busy.)"""


def _at_speed(doc: dict) -> None:
    for feed in doc["spec"]["feeds"]:
        feed["replay"]["speed"] = str(SPEED)


async def test_a_fault_begins_and_ends_at_its_market_time_from_the_runs_start_not_from_the_injectors(
    tmp_path: Path,
) -> None:
    spec = write_desk(tmp_path, _at_speed)
    desk = load_desk(spec)
    # the run's start (here the open: the replay's origin) was LATE_WALL_S ago when the injector's task first runs
    origin_ns = time.time_ns() - int(LATE_WALL_S * NS_PER_SECOND)
    clock = desk_clock(desk, {REPLAY_ORIGIN_ENV: str(origin_ns)})
    start_ns = clock.market_at(0)  # the market time at the origin: the day's open
    burst = Fault(at_s=44, kind="burst", duration_s=4, factor=2)  # due 0.2 s of wall time from now
    rate = Rate(100.0)
    embedded = EmbeddedTarget(EmbeddedDesk(desk, spec, log_dir=tmp_path / "logs"), report=print)
    injector = Injector(embedded, [burst], rate=rate, clock=clock, start_ns=start_ns)

    await injector.run()  # returns once the burst has ended

    started, ended = injector.events
    assert (started["what"], ended["what"]) == ("started", "ended")
    due_start, due_end = start_ns + 44 * NS_PER_SECOND, start_ns + 48 * NS_PER_SECOND
    assert (started["scheduled_market_ns"], ended["scheduled_market_ns"]) == (due_start, due_end)
    # each change at its market time (never before), and stamped when it happened
    assert 0 <= started["market_ns"] - due_start < ON_TIME_MARKET_S * NS_PER_SECOND, started
    assert 0 <= ended["market_ns"] - due_end < ON_TIME_MARKET_S * NS_PER_SECOND, ended
    assert rate.factor == 1
