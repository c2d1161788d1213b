"""A strategy client owes its rate for the wall time that actually passed: ticks that run late do not lower
the rate, a client held up does not catch up in one burst, and a rate that changes (a burst fault) counts from
when it changed."""

from __future__ import annotations

from tradingdesk.simulate.clients import Owed


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_late_ticks_still_owe_the_whole_rate() -> None:
    clock = Clock()
    owed = Owed(lambda: 200.0, clock=clock)
    sent = 0
    for _ in range(100):  # ticks meant to be 50 ms apart that took 80 ms each
        clock.t += 0.08
        sent += owed.now()
    assert sent == 1_600  # 8 s at 200 orders/s: 16 per tick, not the 10 a per-tick 200 x 0.05 would give


def test_fractions_carry_over_between_ticks() -> None:
    clock = Clock()
    owed = Owed(lambda: 30.0, clock=clock)
    counts = []
    for _ in range(20):
        clock.t += 0.05  # 1.5 orders a tick
        counts.append(owed.now())
    assert sum(counts) == 30 and set(counts) == {1, 2}


def test_a_client_held_up_owes_at_most_a_second() -> None:
    clock = Clock()
    owed = Owed(lambda: 500.0, clock=clock)
    clock.t += 12.0  # routing restarting: nothing could be sent
    assert owed.now() == 500
    clock.t += 0.1
    assert owed.now() == 50


def test_forgiven_orders_are_not_sent_later() -> None:
    clock = Clock()
    owed = Owed(lambda: 100.0, clock=clock)
    clock.t += 0.055
    assert owed.now() == 5
    owed.forgive()  # no price yet: the 0.5 left over is dropped too
    clock.t += 0.05
    assert owed.now() == 5


def test_a_burst_counts_from_when_the_rate_changed() -> None:
    clock = Clock()
    rate = [100.0]
    owed = Owed(lambda: rate[0], clock=clock)
    clock.t += 1.0
    assert owed.now() == 100
    rate[0] = 200.0
    clock.t += 0.5
    assert owed.now() == 100
