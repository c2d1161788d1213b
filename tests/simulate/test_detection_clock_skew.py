"""The detection line for a ``clock_skew`` fault: ClockSkew naming the skewed service, within the desk checks'
bound plus the skew file's re-read interval; setting the clock back is the fault's end, not an injection."""

from __future__ import annotations

from tests.desk_runner import REPO
from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.edge.clock_skew import REFRESH_NS
from tradingdesk.simulate.detection import desk_checks_s, detections
from tradingdesk.spec.load import load_desk

T0 = 1_700_000_000 * NS_PER_SECOND
DESK = load_desk(REPO / "examples" / "desk.yaml")


def skew(offset_ms: int, *, at_s: float) -> dict:
    return {
        "market_ns": T0 + int(at_s * NS_PER_SECOND),
        "kind": "clock_skew",
        "fault": "routing clock -2000 ms off for 20s",
        "what": f"routing clock set {offset_ms:+d} ms off",
        "target": {"service": "routing"},
        "offset_ms": offset_ms,
    }


def episode(service: str, *, at_s: float) -> dict:
    labels = {"alertname": "ClockSkew", "service": service}
    return {"name": "ClockSkew", "labels": labels, "first_seen_market_ns": T0 + int(at_s * NS_PER_SECOND)}


def test_a_clock_skew_is_detected_by_clock_skew_naming_its_service() -> None:
    events = [skew(-2000, at_s=100), skew(0, at_s=120)]
    alerts = [episode("risk", at_s=101), episode("routing", at_s=110)]
    (found,) = detections(events, alerts, speed=20, desk=DESK, source="desk")
    assert (found.alert, found.labels, found.detected_s) == ("ClockSkew", {"service": "routing"}, 0.5)
    assert found.bound_s == desk_checks_s(DESK) + REFRESH_NS / NS_PER_SECOND
    assert found.ok


def test_a_clock_skew_never_alerted_fails() -> None:
    (found,) = detections([skew(-2000, at_s=100)], [episode("risk", at_s=101)], speed=20, desk=DESK, source="desk")
    assert not found.ok and found.describe().startswith("routing clock -2000 ms off for 20s: ClockSkew never came")
