"""The replay clock: replayed trading days back to back on the NYSE calendar, across an early close, a holiday
and a weekend, whatever the wall clock's hour."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction

import pytest

from tradingdesk.core.clock import NS_PER_SECOND, ManualClock, OffsetClock, WallClock
from tradingdesk.edge.clock import JOIN_AFTER_WALL_S, replay_join_ns
from tradingdesk.markets.calendar import ExchangeCalendar, Phase
from tradingdesk.markets.calendar_source import load_calendar
from tradingdesk.markets.replay_clock import ReplayClock, default_first_day

PASS_NS = 23_400 * NS_PER_SECOND  # a synthetic session: 6.5 hours


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * NS_PER_SECOND


@pytest.fixture(scope="module")
def nyse() -> ExchangeCalendar:
    return load_calendar("XNYS", start=date(2024, 6, 3), end=date(2024, 12, 31))


def clock_at(nyse: ExchangeCalendar, first_day: date, *, speed: Fraction = Fraction(1)) -> ReplayClock:
    # The wall clock reads 03:17 on a Sunday: the replay does not care.
    wall = ManualClock(ns("2024-06-30 03:17"))
    return ReplayClock(nyse, first_day=first_day, origin_ns=wall.now_ns(), speed=speed, pass_ns=PASS_NS, wall=wall)


def test_the_replay_starts_at_the_open_and_runs_at_its_speed(nyse: ExchangeCalendar) -> None:
    clock = clock_at(nyse, date(2024, 7, 2), speed=Fraction(10))
    assert clock.now_ns() == ns("2024-07-02 13:30")
    assert nyse.phase(clock.now_ns()) is Phase.REGULAR
    clock.wall.advance(60 * NS_PER_SECOND)  # a wall minute is ten replayed minutes
    assert clock.now_ns() == ns("2024-07-02 13:40")
    assert clock.seconds_until(ns("2024-07-02 14:00")) == 120.0
    assert clock.seconds_until(ns("2024-07-02 13:00")) == 0.0


def test_an_early_close_then_a_holiday_then_the_next_session(nyse: ExchangeCalendar) -> None:
    clock = clock_at(nyse, date(2024, 7, 3))
    wall = clock.wall
    wall.advance(3 * 3600 * NS_PER_SECOND + 1)
    assert nyse.phase(clock.now_ns()) is Phase.REGULAR
    wall.advance(1800 * NS_PER_SECOND)  # 3.5 h into the pass: the early close at 13:00 New York time
    assert clock.now_ns() == ns("2024-07-03 17:00") + 1 and nyse.phase(clock.now_ns()) is Phase.CLOSED
    # The rest of the pass is after that close; the next pass is July 5th (the 4th is a holiday).
    assert clock.seconds_until(ns("2024-07-05 13:30")) == pytest.approx(3 * 3600)
    wall.advance(3 * 3600 * NS_PER_SECOND - 1)
    assert clock.now_ns() == ns("2024-07-05 13:30")
    # An instant in the night between two passes is reached when the earlier pass ends.
    assert clock.seconds_until(ns("2024-07-05 23:00")) == pytest.approx(23_400)


def test_friday_is_followed_by_monday(nyse: ExchangeCalendar) -> None:
    clock = clock_at(nyse, date(2024, 7, 12))
    clock.wall.advance(PASS_NS + 5 * NS_PER_SECOND)
    assert clock.now_ns() == ns("2024-07-15 13:30") + 5 * NS_PER_SECOND


def test_the_default_first_day_is_today_or_the_last_session(nyse: ExchangeCalendar) -> None:
    assert default_first_day(nyse, date(2024, 7, 2)) == date(2024, 7, 2)
    assert default_first_day(nyse, date(2024, 7, 4)) == date(2024, 7, 3)  # Independence Day
    assert default_first_day(nyse, date(2024, 7, 14)) == date(2024, 7, 12)  # a Sunday


def test_a_first_day_without_a_session_is_refused(nyse: ExchangeCalendar) -> None:
    with pytest.raises(ValueError, match="2024-07-04 is not a session of XNYS"):
        clock_at(nyse, date(2024, 7, 4))


def test_a_feed_joins_the_replay_where_the_clock_is_once_it_has_run_a_while(nyse: ExchangeCalendar) -> None:
    clock = clock_at(nyse, date(2024, 7, 2), speed=Fraction(100))
    assert replay_join_ns(clock) == 0  # the desk's own start: the feed plays its data from the start
    clock.wall.advance(int(JOIN_AFTER_WALL_S * NS_PER_SECOND))
    assert replay_join_ns(clock) == 0  # not yet past the bound
    clock.wall.advance(NS_PER_SECOND)
    joined = int((JOIN_AFTER_WALL_S + 1) * 100 * NS_PER_SECOND)
    assert replay_join_ns(clock) == joined == clock.elapsed_ns()
    assert clock.now_ns() == ns("2024-07-02 13:30") + joined
    assert replay_join_ns(OffsetClock(clock, offset_ns=-5 * NS_PER_SECOND)) == joined  # a skew drill: the replay's
    assert replay_join_ns(WallClock()) == 0


def test_a_feed_started_before_the_replay_begins_waits_for_it(nyse: ExchangeCalendar) -> None:
    """``tradingdesk simulate`` sets the origin past the desk's warm-up: a feed started meanwhile must not run
    ahead of the desk's clock, so it joins at a negative point (its schedule starts that far ahead)."""
    wall = ManualClock(ns("2024-06-30 03:17"))
    origin = wall.now_ns() + 30 * NS_PER_SECOND
    clock = ReplayClock(
        nyse, first_day=date(2024, 7, 2), origin_ns=origin, speed=Fraction(100), pass_ns=PASS_NS, wall=wall
    )
    assert replay_join_ns(clock) == -30 * 100 * NS_PER_SECOND
    assert clock.now_ns() == ns("2024-07-02 13:30")  # the clock waits at the open meanwhile
    wall.advance(30 * NS_PER_SECOND)
    assert replay_join_ns(clock) == 0  # the origin itself: from the start of the data
