"""Rate and stream limits per identity, on a manual clock."""

from __future__ import annotations

import pytest

from tradingdesk.security.limits import CallerLimits


def test_burst_then_steady_rate_with_the_delay_to_wait() -> None:
    limits = CallerLimits(rate=10, burst=3, max_streams=2)
    # the bucket starts full at max(burst, rate)
    assert [limits.admit("a", 0.0) for _ in range(10)] == [0.0] * 10
    assert limits.admit("a", 0.0) == pytest.approx(0.1)
    assert limits.admit("a", 0.1) == 0.0
    assert limits.admit("b", 0.1) == 0.0  # another identity has its own bucket


def test_an_identity_with_its_own_rate() -> None:
    limits = CallerLimits(rate=1000, burst=1, max_streams=2)
    assert limits.admit("slow", 0.0, rate=1) == 0.0
    assert limits.admit("slow", 0.0, rate=1) == pytest.approx(1.0)


def test_stream_cap_per_identity() -> None:
    limits = CallerLimits(rate=10, burst=10, max_streams=2)
    assert limits.open_stream("a") and limits.open_stream("a")
    assert not limits.open_stream("a")
    assert limits.open_stream("b")
    limits.close_stream("a")
    assert limits.streams("a") == 1 and limits.open_stream("a")
