"""Judging clock skew from the health probe's clock readings (monitoring/clock_skew.py, DeskChecks)."""

from __future__ import annotations

from pathlib import Path

from tradingdesk.core.clock import NS_PER_MS
from tradingdesk.monitoring.alerts import DeskChecks
from tradingdesk.monitoring.clock_skew import Skew, clock_skews
from tradingdesk.spec import load_desk
from tradingdesk.v1 import monitoring_pb2

DESK = load_desk(Path(__file__).resolve().parents[2] / "examples" / "desk.yaml")


def health(service: str, offset_ms: float, uncertainty_ms: float = 0.5, *, read: bool = True):
    return monitoring_pb2.ServiceHealth(
        service=service,
        status="SERVING",
        clock_offset_ns=int(offset_ms * NS_PER_MS),
        clock_uncertainty_ns=int(uncertainty_ms * NS_PER_MS),
        clock_read=read,
    )


def status(*services: monitoring_pb2.ServiceHealth) -> monitoring_pb2.DeskStatus:
    return monitoring_pb2.DeskStatus(services=services, healthy=True)


def test_one_skewed_clock_stands_out_against_the_consensus() -> None:
    skews = clock_skews(
        [
            health("feeds", 1),
            health("routing", -2_500),
            health("risk", 0),
            health("compliance", 2),
            health("monitoring", 0),
        ]
    )
    by = {s.service: s.skew_ns for s in skews}
    # the reference is risk's reading (the median, 0 ms): minus both readings' uncertainty
    assert by["routing"] == -2_500 * NS_PER_MS + NS_PER_MS
    assert all(abs(v) < 2 * NS_PER_MS for k, v in by.items() if k != "routing")


def test_a_skewed_monitoring_clock_is_named_not_the_four_that_agree() -> None:
    # monitoring reads itself at 0; every other clock looks 800 ms behind it
    skews = clock_skews([health("monitoring", 0, 0), *(health(s, -800, 0) for s in ("feeds", "routing", "risk"))])
    assert Skew("monitoring", 800 * NS_PER_MS) in skews
    assert all(s.skew_ns == 0 for s in skews if s.service != "monitoring")


def test_a_slow_read_is_not_taken_for_skew_and_unread_clocks_are_not_judged() -> None:
    assert clock_skews([health("monitoring", 0, 0), health("routing", 300, 400), health("risk", 0)]) == [
        Skew("monitoring", 0),
        Skew("routing", 0),
        Skew("risk", 0),
    ]
    assert clock_skews([health("monitoring", 0), health("routing", 5_000, read=False)]) == []


def test_a_slow_reference_reading_is_not_taken_for_skew_of_a_fast_one() -> None:
    """Under load the median may fall on a slow answer, off by up to half its round trip: a fast, exact reading
    of a clock that agrees is within both uncertainties of it, never skewed."""
    readings = [
        health("monitoring", 0, 0),
        health("feeds", 180, 200),
        health("routing", 150, 160),  # the median
        health("risk", 170, 200),
        health("compliance", 0, 0.5),
    ]
    assert [s.skew_ns for s in clock_skews(readings)] == [0, 0, 0, 0, 0]
    # a clock really off still stands out, by what lies beyond both uncertainties
    readings[-1] = health("compliance", -2_000, 0.5)
    assert clock_skews(readings)[-1] == Skew("compliance", -(2_150 - 160.5) * NS_PER_MS)


def test_the_desk_check_raises_clock_skew_past_the_spec_threshold() -> None:
    checks = DeskChecks(DESK)
    quiet = status(health("monitoring", 0), health("routing", 99), health("risk", 0))
    assert [a.name for a in checks.judge(quiet, {})] == []
    skewed = status(health("monitoring", 0), health("routing", -2_500), health("risk", 0))
    (alert,) = checks.judge(skewed, {})
    assert (alert.name, alert.severity, alert.service) == ("ClockSkew", "critical", "routing")
    assert alert.summary == "the clock of routing is -2499 ms off the desk's (threshold 100 ms)"  # beyond 2 x 0.5 ms
    assert alert.runbook_url.endswith("/clock-skew.md") and alert.labels["service"] == "routing"
