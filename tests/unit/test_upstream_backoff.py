"""The waits between an upstream subscription's attempts (``edge/upstream.py``)."""

from __future__ import annotations

from tradingdesk.edge.upstream import MAX_BACKOFF_S, Backoff


def test_failing_attempts_double_the_wait_up_to_the_bound() -> None:
    backoff = Backoff(0.05, MAX_BACKOFF_S)
    assert [backoff.after(0.001) for _ in range(6)] == [0.05, 0.1, 0.2, 0.4, MAX_BACKOFF_S, MAX_BACKOFF_S]


def test_a_subscription_that_served_then_broke_starts_again_from_the_shortest_wait() -> None:
    """Failures while the desk started grew the wait; a stream that then ran for an hour and broke (its server
    killed) must dial again at once, not after the longest wait."""
    backoff = Backoff(0.05, MAX_BACKOFF_S)
    for _ in range(6):
        backoff.after(0.001)
    assert backoff.after(3600.0) == 0.05
    assert backoff.after(0.001) == 0.1  # and doubles again while it keeps failing
