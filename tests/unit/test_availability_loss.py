"""Where a simulated day's availability went: each lost second put down to the fault whose window holds it."""

from __future__ import annotations

from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.simulate.availability_loss import (
    OUTSIDE,
    FaultWindow,
    availability_losses,
    describe,
    fault_windows,
)

S = NS_PER_SECOND


def event(at_s: int, fault: str, what: str) -> dict:
    return {"market_ns": at_s * S, "kind": "x", "fault": fault, "what": what, "target": {}}


def test_a_window_runs_from_a_faults_first_change_to_its_last_plus_the_recovery() -> None:
    events = [
        event(100, "SIGKILL routing", "killed"),
        event(50, "database down for 30s", "database down"),
        event(90, "database down for 30s", "database up"),
        event(200, "venue bats away", "venue bats set to away"),
        event(260, "venue bats away", "venue bats set to none"),
        event(300, "SIGKILL risk", "skipped: the service was not running (restarting after an earlier fault)"),
    ]
    assert fault_windows(events, recovery_s=10) == [
        FaultWindow("database down for 30s", 50, 100),
        FaultWindow("SIGKILL routing", 100, 110),
        FaultWindow("venue bats away", 200, 270),
    ]


def test_the_same_instant_fault_twice_makes_two_windows() -> None:
    events = [event(10, "SIGKILL feeds", "killed"), event(500, "SIGKILL feeds", "killed")]
    assert fault_windows(events, recovery_s=5) == [
        FaultWindow("SIGKILL feeds", 10, 15),
        FaultWindow("SIGKILL feeds", 500, 505),
    ]


def test_each_lost_second_goes_to_the_latest_window_that_holds_it_with_the_probes_code() -> None:
    windows = [FaultWindow("burst", 100, 200), FaultWindow("SIGKILL routing", 150, 160)]
    probes = [
        {"market_ns": s * S, "acked": False, "code": "UNAVAILABLE" if 150 <= s <= 160 else "DEADLINE_EXCEEDED"}
        for s in (5, 120, 150, 151, 170)
    ]
    losses = availability_losses([5, 120, 150, 151, 170, 171], probes, windows)
    assert list(losses) == ["burst", "SIGKILL routing", OUTSIDE]  # in the order the faults began
    assert losses["burst"].seconds == 3
    assert losses["burst"].codes == {"DEADLINE_EXCEEDED": 2, "NO_PROBE": 1}
    assert losses["SIGKILL routing"].codes == {"UNAVAILABLE": 2}
    assert losses[OUTSIDE].seconds == 1
    lines = describe(losses)
    assert lines[0].startswith("availability lost: 6 market second(s)")
    assert "  SIGKILL routing: 2 s (UNAVAILABLE 2)" in lines


def test_nothing_lost_says_nothing() -> None:
    assert describe(availability_losses([], [], [])) == []
