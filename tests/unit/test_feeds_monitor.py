"""Line health and the active line: silence, lag, disconnects, failover inside the bound, failback hold-down."""

from __future__ import annotations

import pytest

from tradingdesk.feeds.monitor import (
    DEGRADED,
    DISABLED,
    DOWN,
    LAGGING,
    LIVE,
    SILENT,
    LineMonitor,
    thresholds,
)

MS = 1_000_000
BOUND_MS = 250
T0 = 1_000 * MS


def connected_monitor() -> LineMonitor:
    monitor = LineMonitor(["A", "B"], thresholds(BOUND_MS))
    for h in monitor.lines.values():
        h.opened(1, T0)
    monitor.evaluate(T0, {})
    return monitor


def test_detection_plus_one_tick_stays_inside_the_bound() -> None:
    limits = thresholds(BOUND_MS)
    assert limits.silent_ns + limits.tick_ns < BOUND_MS * MS
    assert limits.lag_ns + limits.tick_ns < BOUND_MS * MS
    assert limits.failback_ns == BOUND_MS * MS
    assert limits.reconnect_ns >= 4 * BOUND_MS * MS


def test_all_lines_live_is_a_live_feed_on_the_preferred_line() -> None:
    monitor = connected_monitor()
    assert monitor.health == LIVE and monitor.active == "A"
    assert {h.state for h in monitor.lines.values()} == {LIVE}


def test_a_silent_active_line_fails_over_to_the_live_one() -> None:
    monitor = connected_monitor()
    now = T0
    for _ in range(60):  # both lines deliver every 10 ms, then A stops at T0 + 100 ms
        now += 10 * MS
        monitor.lines["B"].last_rx_ns = now
        if now <= T0 + 100 * MS:
            monitor.lines["A"].last_rx_ns = now
        switch = monitor.evaluate(now, {})
        if switch is not None:
            break
    assert switch is not None and not switch.failback
    assert (switch.from_line, switch.to_line) == ("A", "B")
    assert "silent" in switch.reason
    assert switch.took_ns < BOUND_MS * MS  # from A's last message to the switch
    assert monitor.active == "B" and monitor.failovers == 1
    assert monitor.lines["A"].state == SILENT and monitor.health == DEGRADED


def test_a_lagging_line_is_not_live() -> None:
    monitor = connected_monitor()
    now = T0 + 10 * MS
    for h in monitor.lines.values():
        h.last_rx_ns = now
    switch = monitor.evaluate(now, {"A": 230 * MS, "B": 0})
    assert monitor.lines["A"].state == LAGGING and "behind" in monitor.lines["A"].detail
    assert switch is not None and switch.to_line == "B"


def test_a_disconnect_fails_over_at_once() -> None:
    monitor = connected_monitor()
    monitor.lines["A"].closed("ConnectionClosed: 1006")
    switch = monitor.evaluate(T0 + MS, {})
    assert switch is not None and switch.to_line == "B" and "down" in switch.reason
    assert monitor.lines["A"].disconnects == 1 and monitor.lines["A"].state == DOWN


def test_failback_waits_for_the_hold_down_then_returns_to_the_preferred_line() -> None:
    monitor = connected_monitor()
    monitor.lines["A"].closed("gone")
    monitor.evaluate(T0 + MS, {})
    assert monitor.active == "B"
    back = T0 + 500 * MS
    monitor.lines["A"].opened(100, back)
    monitor.lines["B"].last_rx_ns = back
    assert monitor.evaluate(back, {}) is None  # live again, but not for long enough
    assert monitor.active == "B" and monitor.health == LIVE
    later = back + BOUND_MS * MS
    for h in monitor.lines.values():
        h.last_rx_ns = later
    switch = monitor.evaluate(later, {})
    assert switch is not None and switch.failback and switch.to_line == "A"
    assert monitor.failbacks == 1 and monitor.failovers == 1 and len(monitor.switches) == 2


def test_no_live_line_is_a_dead_feed_and_keeps_the_active_line() -> None:
    monitor = connected_monitor()
    monitor.lines["A"].closed("gone")
    monitor.lines["B"].enabled = False
    assert monitor.evaluate(T0 + MS, {}) is None
    assert monitor.health == DOWN and monitor.active == "A"
    assert monitor.lines["B"].state == DISABLED


def test_a_single_line_feed_is_live_or_down() -> None:
    monitor = LineMonitor(["A"], thresholds(BOUND_MS))
    assert monitor.evaluate(T0, {}) is None and monitor.health == DOWN  # not connected yet
    monitor.lines["A"].opened(1, T0)
    monitor.evaluate(T0, {})
    assert monitor.health == LIVE
    monitor.evaluate(T0 + BOUND_MS * MS, {})
    assert monitor.health == DOWN and monitor.lines["A"].state == SILENT


def test_a_feed_needs_a_line() -> None:
    with pytest.raises(ValueError):
        LineMonitor([], thresholds(BOUND_MS))
