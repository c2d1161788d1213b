"""The ``clock_skew`` fault of ``tradingdesk simulate``: what parses, and each way it is refused."""

from __future__ import annotations

import pytest

from tradingdesk.simulate.faults import MAX_SKEW_MS, Fault, FaultScheduleError, parse_schedule
from tradingdesk.spec import parse_desk

DESK = parse_desk(
    {
        "apiVersion": "tradingdesk.io/v1alpha1",
        "kind": "TradingDesk",
        "metadata": {"name": "d"},
        "spec": {
            "instruments": [{"symbol": "AAPL"}],
            "accounts": [{"name": "A1"}],
            "feeds": [{"name": "vendor-a", "lines": [{"name": "A"}]}],
            "venues": [{"name": "v"}],
        },
    }
)


def parse(*faults: dict) -> list[Fault]:
    return parse_schedule({"faults": list(faults)}, desk=DESK, session_s=3600)


def test_a_clock_skew_parses_both_ways() -> None:
    got = parse(
        {"at": "00:01:00", "kind": "clock_skew", "service": "routing", "offset_ms": -2500, "for": 30},
        {"at": 10, "kind": "clock_skew", "service": "feeds", "offset_ms": 400, "for": "00:00:05"},
    )
    assert got == [
        Fault(at_s=10, kind="clock_skew", service="feeds", offset_ms=400, duration_s=5),
        Fault(at_s=60, kind="clock_skew", service="routing", offset_ms=-2500, duration_s=30),
    ]
    assert got[1].describe() == "routing clock -2500 ms off for 30s"


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        ({"service": "oms", "offset_ms": 5, "for": 3}, "faults[0].service: 'oms' is not a service"),
        ({"service": "risk", "for": 3}, "faults[0].offset_ms: required"),
        ({"service": "risk", "offset_ms": 0, "for": 3}, "faults[0].offset_ms: 0 must be a whole number"),
        ({"service": "risk", "offset_ms": 1.5, "for": 3}, "faults[0].offset_ms: 1.5 must be a whole number"),
        ({"service": "risk", "offset_ms": "5", "for": 3}, "faults[0].offset_ms: '5' must be a whole number"),
        ({"service": "risk", "offset_ms": True, "for": 3}, "faults[0].offset_ms: True must be a whole number"),
        (
            {"service": "risk", "offset_ms": -MAX_SKEW_MS - 1, "for": 3},
            f"from -{MAX_SKEW_MS} to {MAX_SKEW_MS}",
        ),
        ({"service": "risk", "offset_ms": 5}, "faults[0].for: required for a clock_skew fault"),
        ({"service": "risk", "offset_ms": 5, "for": 0}, "faults[0].for: must be > 0"),
        ({"service": "risk", "offset_ms": 5, "for": 3, "line": "A"}, "faults[0].line: not a field of a clock_skew"),
    ],
)
def test_a_bad_clock_skew_is_refused_with_its_place_and_reason(fault: dict, why: str) -> None:
    with pytest.raises(FaultScheduleError) as err:
        parse({"at": 1, "kind": "clock_skew", **fault})
    assert why in str(err.value)
