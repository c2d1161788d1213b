"""The replay clock: replayed trading days played back to back on an exchange's calendar.

A replayed session (synthetic or recorded) is one trading day from its regular open. The replay clock turns
the time elapsed since the replay started into that day's time: pass ``k`` of the replay (each ``pass_ns``
of replay time long) is the ``k``-th session from ``first_day``, starting at its regular open, so

    market time = open of session k + (elapsed x speed - k x pass_ns)    where k = elapsed x speed // pass_ns

Weekends and holidays are skipped (they have no session), early closes close early (the rest of that pass is
after the close: orders are refused, DAY orders have expired), and between two passes the clock jumps from
one day's pass end to the next day's open. Every service of a desk that builds its clock from the same
origin, first day, speed and pass length tells the same time; nothing depends on the wall clock's hour, so a
replayed desk trades whenever it is started.

Past the last session the calendar was loaded with, the clock keeps running from that session's open (the
calendar then answers ``CalendarRangeError``: orders are refused, never silently accepted).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date
from fractions import Fraction

from tradingdesk.core.clock import NS_PER_SECOND, Clock, WallClock
from tradingdesk.markets.calendar import ExchangeCalendar


class ReplayClock:
    def __init__(
        self,
        calendar: ExchangeCalendar,
        *,
        first_day: date,
        origin_ns: int,
        speed: Fraction,
        pass_ns: int,
        wall: Clock | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("the replay clock's speed must be > 0")
        if pass_ns <= 0:
            raise ValueError("a replay pass must last > 0 ns")
        first = calendar.on(first_day)
        if first is None:
            raise ValueError(
                f"{first_day} is not a session of {calendar.exchange} (its calendar covers {calendar.first_day} "
                f"to {calendar.last_day})"
            )
        start = calendar.days.index(first)
        self.calendar = calendar
        self.first_day = first_day
        self.origin_ns = origin_ns
        self.speed = speed
        self.pass_ns = pass_ns
        self.wall = wall or WallClock()
        self._opens = [d.session.open_ns for d in calendar.days[start:]]

    def _elapsed(self) -> int:
        """Replay time since the origin, in ns (0 before it)."""
        wall = self.wall.now_ns() - self.origin_ns
        return wall * self.speed.numerator // self.speed.denominator if wall > 0 else 0

    def elapsed_ns(self) -> int:
        """Replay time since the origin, in ns (0 before it): where in the replayed data the desk is now."""
        return self._elapsed()

    def market_at(self, elapsed_ns: int) -> int:
        """The market time ``elapsed_ns`` of replay time after the origin."""
        opens = self._opens
        k, within = divmod(elapsed_ns, self.pass_ns)
        if k >= len(opens):
            return opens[-1] + elapsed_ns - (len(opens) - 1) * self.pass_ns
        ts = opens[k] + within
        if k + 1 < len(opens) and ts >= opens[k + 1]:
            return opens[k + 1] - 1  # a pass longer than the night: time waits for the next open
        return ts

    def now_ns(self) -> int:
        return self.market_at(self._elapsed())

    def seconds_until(self, ts_ns: int) -> float:
        """Wall seconds until ``now_ns()`` reaches ``ts_ns`` (0 if it has): an instant between two passes is
        reached when the earlier pass ends."""
        opens = self._opens
        k = bisect_right(opens, ts_ns) - 1
        if k < 0:
            target = 0
        elif k >= len(opens) - 1:
            target = (len(opens) - 1) * self.pass_ns + ts_ns - opens[-1]
        else:
            target = k * self.pass_ns + min(ts_ns - opens[k], self.pass_ns)
        wall_target = self.origin_ns + -(-target * self.speed.denominator // self.speed.numerator)
        return max(0, wall_target - self.wall.now_ns()) / NS_PER_SECOND

    def describe(self) -> str:
        return (
            f"replay clock on {self.calendar.exchange}: {self.first_day} from its open, {self.pass_ns // NS_PER_SECOND}"
            f" s of replay per session, speed {self.speed}"
        )


def default_first_day(calendar: ExchangeCalendar, today: date) -> date:
    """``today`` if the exchange has a session then, else its last session before ``today``."""
    days = [d.session.day for d in calendar.days]
    i = bisect_right(days, today) - 1
    if i < 0:
        raise ValueError(f"{calendar.exchange}: no session on or before {today} (the calendar starts {days[0]})")
    return days[i]
