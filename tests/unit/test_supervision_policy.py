"""spec.supervision and the restart policy of the embedded runtime: backoff, the window and giving up. Crash
times are given, never read from a clock."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from tradingdesk.runtime.supervisor import GiveUp, RestartPolicy, describe_exit
from tradingdesk.spec import SpecError, parse_desk
from tradingdesk.spec.supervision import SupervisionSpec


def desk(supervision: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "instruments": [{"symbol": "AAPL"}],
        "accounts": [{"name": "A1"}],
        "feeds": [{"name": "f"}],
        "venues": [{"name": "v"}],
    }
    if supervision is not None:
        spec["supervision"] = supervision
    return {"apiVersion": "tradingdesk.io/v1alpha1", "kind": "TradingDesk", "metadata": {"name": "d"}, "spec": spec}


def test_defaults_and_camel_case() -> None:
    assert parse_desk(desk()).spec.supervision == SupervisionSpec()
    s = parse_desk(desk({"maxRestarts": 2, "haltAfterComplianceDownSeconds": 3})).spec.supervision
    assert (s.max_restarts, s.halt_after_compliance_down_seconds) == (2, 3)


@pytest.mark.parametrize(
    ("supervision", "why"),
    [
        ({"restartBackoffInitialMs": 5_000, "restartBackoffMaxMs": 1_000}, "must not exceed restartBackoffMaxMs"),
        ({"maxRestarts": -1}, "maxRestarts"),
        ({"haltAfterComplianceDownSeconds": 0}, "haltAfterComplianceDownSeconds"),
        ({"restartWindowSeconds": 0}, "restartWindowSeconds"),
        ({"restartEverything": True}, "restartEverything"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(supervision: dict[str, Any], why: str) -> None:
    with pytest.raises(SpecError, match=why):
        parse_desk(desk(supervision))


def test_backoff_grows_fourfold_up_to_the_maximum() -> None:
    policy = RestartPolicy(SupervisionSpec(restartBackoffInitialMs=100, restartBackoffMaxMs=2_000, maxRestarts=10))
    delays = [policy.next_delay("routing", now=float(t)) for t in range(5)]
    assert delays == [(1, 0.1), (2, 0.4), (3, 1.6), (4, 2.0), (5, 2.0)]


def test_the_default_first_restart_is_quick_and_a_crash_loop_still_waits_seconds_before_the_desk_stops() -> None:
    spec = SupervisionSpec()
    policy = RestartPolicy(spec)
    delays = [policy.next_delay("routing", now=float(t))[1] for t in range(spec.max_restarts)]
    assert delays[0] == 0.02  # a SIGKILLed routing refuses orders for 20 ms of backoff, not 200
    assert sum(delays) == pytest.approx(6.82)  # 20 + 80 + 320 + 1,280 + 5,120 ms: as long as 200 ms doubling (6.2 s)
    with pytest.raises(GiveUp):
        policy.next_delay("routing", now=10.0)


def test_gives_up_after_max_restarts_within_the_window() -> None:
    policy = RestartPolicy(SupervisionSpec(maxRestarts=2, restartWindowSeconds=60))
    policy.next_delay("compliance", now=0.0)
    policy.next_delay("compliance", now=10.0)
    why = r"service compliance crashed 3 times within 60s \(spec.supervision.maxRestarts=2\)"
    with pytest.raises(GiveUp, match=why):
        policy.next_delay("compliance", now=20.0)


def test_crashes_older_than_the_window_are_forgotten_and_the_backoff_starts_again() -> None:
    policy = RestartPolicy(SupervisionSpec(restartBackoffInitialMs=100, maxRestarts=2, restartWindowSeconds=60))
    assert policy.next_delay("feeds", now=0.0) == (1, 0.1)
    assert policy.next_delay("feeds", now=30.0) == (2, 0.4)
    assert policy.next_delay("feeds", now=91.0) == (1, 0.1)  # the crash at 0 and at 30 are more than 60s ago


def test_max_restarts_zero_stops_at_the_first_crash() -> None:
    with pytest.raises(GiveUp, match="crashed 1 times"):
        RestartPolicy(SupervisionSpec(maxRestarts=0)).next_delay("risk", now=0.0)


def test_exits_read_as_a_person_reads_them() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-200) == "killed by signal 200"
