"""The waits between a subscription's attempts: doubling to the maximum while its peer is not there, from the
minimum again after a clean end, and after a subscription that served for a while, at most RESTART_MAX_S apart for
the next minute, so a peer that restarts hours after the desk started is dialled again within a quarter second."""

from __future__ import annotations

from tradingdesk.edge.upstream import RESTART_MAX_S, RESTART_WINDOW_S, SETTLED_S, Backoff


def failures(backoff: Backoff, n: int, *, now: float) -> list[float]:
    """The waits after ``n`` attempts that failed at once."""
    return [backoff.after_attempt(served_s=0.001, clean=False, now=now + i) for i in range(n)]


def test_failures_double_the_wait_up_to_the_maximum() -> None:
    backoff = Backoff(minimum=0.05, maximum=2.0)
    assert failures(backoff, 8, now=0.0) == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_a_subscription_that_served_starts_again_from_the_minimum_capped_for_a_while() -> None:
    backoff = Backoff(minimum=0.05, maximum=2.0)
    failures(backoff, 10, now=0.0)  # the peer was late at startup: the wait grew to its maximum
    ended = 3_600.0
    assert backoff.after_attempt(served_s=3_000.0, clean=False, now=ended) == 0.05
    waits = failures(backoff, 20, now=ended)
    assert waits[:3] == [0.1, 0.2, RESTART_MAX_S]
    assert max(waits) == RESTART_MAX_S
    # A peer still away after the window is dialled at the usual pace again.
    later = failures(backoff, 6, now=ended + RESTART_WINDOW_S + 1)
    assert later == [RESTART_MAX_S, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_a_short_attempt_that_failed_does_not_reset_the_wait() -> None:
    backoff = Backoff(minimum=0.05, maximum=2.0)
    failures(backoff, 10, now=0.0)
    assert backoff.after_attempt(served_s=SETTLED_S / 2, clean=False, now=100.0) == 2.0


def test_a_clean_end_starts_from_the_minimum_without_the_restart_cap() -> None:
    backoff = Backoff(minimum=0.05, maximum=2.0)
    failures(backoff, 10, now=0.0)
    assert backoff.after_attempt(served_s=1.0, clean=True, now=100.0) == 0.05
    assert failures(backoff, 6, now=100.0) == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0]


def test_the_minimum_holds_when_it_is_above_the_restart_cap() -> None:
    backoff = Backoff(minimum=1.0, maximum=4.0)
    backoff.after_attempt(served_s=SETTLED_S, clean=False, now=0.0)
    assert failures(backoff, 3, now=1.0) == [1.0, 1.0, 1.0]
