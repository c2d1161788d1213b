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


def test_backoff_doubles_up_to_the_maximum() -> None:
    policy = RestartPolicy(SupervisionSpec(restartBackoffInitialMs=100, restartBackoffMaxMs=500, maxRestarts=10))
    delays = [policy.next_delay("routing", now=float(t)) for t in range(5)]
    assert delays == [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (5, 0.5)]


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
    assert policy.next_delay("feeds", now=30.0) == (2, 0.2)
    assert policy.next_delay("feeds", now=91.0) == (1, 0.1)  # the crash at 0 and at 30 are more than 60s ago


def test_max_restarts_zero_stops_at_the_first_crash() -> None:
    with pytest.raises(GiveUp, match="crashed 1 times"):
        RestartPolicy(SupervisionSpec(maxRestarts=0)).next_delay("risk", now=0.0)


def test_exits_read_as_a_person_reads_them() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-200) == "killed by signal 200"
