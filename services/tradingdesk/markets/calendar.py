"""An exchange's trading calendar as plain integers: when each session opens and closes, and the phase of the
trading day at any instant.

``ExchangeCalendar`` is built once from a maintained calendar (``calendar_source``) and answers every
question with a binary search over integer nanoseconds, so the order path can ask it per order. Holidays are
simply days without a session; an early close is a session whose close is earlier than usual (``early_close``
marks it). Around each regular session the desk may trade a pre-open and a post-close session (extended
hours); the phases are::

    CLOSED | PRE_OPEN [open - pre_open) | REGULAR [open, close) | POST_CLOSE [close, close + post_close) | CLOSED

A session with a lunch break (Tokyo, Hong Kong) is in ``BREAK`` between its break start and end. Extended
windows are clipped so that two sessions never overlap (markets that trade almost around the clock).

An instant outside the range the calendar was loaded for is an error (``CalendarRangeError``), never
"closed": a desk whose calendar has run out must say so rather than quietly refuse every order.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum

from tradingdesk.core.clock import Clock

NS_PER_MINUTE = 60_000_000_000


class Phase(Enum):
    CLOSED = "closed"
    PRE_OPEN = "pre-open"
    REGULAR = "regular"
    BREAK = "break"
    POST_CLOSE = "post-close"


class CalendarRangeError(LookupError):
    """An instant before the first or after the last session the calendar was loaded with."""


@dataclass(frozen=True, slots=True)
class Session:
    """One regular session of an exchange, in ns since the Unix epoch."""

    day: date
    """The trading date the exchange gives the session."""
    open_ns: int
    close_ns: int
    break_start_ns: int = 0
    """Start of a lunch break (0: none)."""
    break_end_ns: int = 0
    early_close: bool = False
    """The exchange closes earlier than on a normal day (e.g. the day after Thanksgiving in New York)."""


@dataclass(frozen=True, slots=True)
class TradingDay:
    """A session with the extended-hours window the desk trades around it."""

    session: Session
    start_ns: int
    """Start of the pre-open session (the regular open when there is none)."""
    end_ns: int
    """End of the post-close session (the regular close when there is none)."""

    def phase(self, ts_ns: int) -> Phase:
        s = self.session
        if ts_ns < self.start_ns or ts_ns >= self.end_ns:
            return Phase.CLOSED
        if ts_ns < s.open_ns:
            return Phase.PRE_OPEN
        if ts_ns >= s.close_ns:
            return Phase.POST_CLOSE
        if s.break_start_ns <= ts_ns < s.break_end_ns:
            return Phase.BREAK
        return Phase.REGULAR


class ExchangeCalendar:
    """The sessions of one exchange between two dates, with the desk's extended-hours windows around them."""

    def __init__(
        self,
        exchange: str,
        sessions: Sequence[Session],
        *,
        timezone: str,
        pre_open_minutes: int = 0,
        post_close_minutes: int = 0,
    ) -> None:
        if not sessions:
            raise ValueError(f"{exchange}: a calendar needs at least one session")
        ordered = sorted(sessions, key=lambda s: s.open_ns)
        for s in ordered:
            if s.close_ns <= s.open_ns:
                raise ValueError(f"{exchange} {s.day}: the close is not after the open")
        self.exchange = exchange
        self.timezone = timezone
        """IANA time zone of the exchange (America/New_York): the zone of its local times."""
        pre, post = pre_open_minutes * NS_PER_MINUTE, post_close_minutes * NS_PER_MINUTE
        days: list[TradingDay] = []
        for i, s in enumerate(ordered):
            start = s.open_ns - pre
            if days:
                start = max(start, days[-1].end_ns)
            end = s.close_ns + post
            if i + 1 < len(ordered):
                end = min(end, ordered[i + 1].open_ns)
            days.append(TradingDay(s, start, end))
        self.days = tuple(days)
        self._starts = [d.start_ns for d in days]
        self._opens = [d.session.open_ns for d in days]
        self._by_date = {d.session.day: d for d in days}
        self._recent = days[0]  # the day trading_day found last: nearly every lookup is in it again

    @property
    def first_day(self) -> date:
        return self.days[0].session.day

    @property
    def last_day(self) -> date:
        return self.days[-1].session.day

    def _check_range(self, ts_ns: int) -> None:
        if ts_ns < self.days[0].start_ns or ts_ns >= self.days[-1].end_ns:
            raise CalendarRangeError(
                f"{self.exchange}: the calendar covers {self.first_day} to {self.last_day}, not this instant"
            )

    def trading_day(self, ts_ns: int) -> TradingDay | None:
        """The trading day whose window (extended hours included) contains ``ts_ns``, or None between them."""
        recent = self._recent
        if recent.start_ns <= ts_ns < recent.end_ns:  # the gates ask several times per order, all in one day
            return recent
        self._check_range(ts_ns)
        i = bisect_right(self._starts, ts_ns) - 1
        if i < 0:
            return None
        day = self.days[i]
        if ts_ns < day.end_ns:
            self._recent = day
            return day
        return None

    def on(self, day: date) -> TradingDay | None:
        """The trading day of a date, or None if the exchange is closed that day (weekend, holiday)."""
        return self._by_date.get(day)

    def phase(self, ts_ns: int) -> Phase:
        day = self.trading_day(ts_ns)
        return Phase.CLOSED if day is None else day.phase(ts_ns)

    def accepts_orders(self, ts_ns: int, *, extended_hours: bool) -> bool:
        """Whether an order entered at ``ts_ns`` may trade: in the regular session, or in the pre-open or
        post-close session when the desk trades extended hours (never during a lunch break)."""
        phase = self.phase(ts_ns)
        return phase is Phase.REGULAR or (extended_hours and phase in (Phase.PRE_OPEN, Phase.POST_CLOSE))

    def day_order_expiry(self, ts_ns: int, *, extended_hours: bool) -> int | None:
        """When a DAY order entered at ``ts_ns`` expires: the regular close of its trading day, or the end of the
        post-close session for an order entered in it. None when no order may be entered then."""
        day = self.trading_day(ts_ns)
        if day is None or not self.accepts_orders(ts_ns, extended_hours=extended_hours):
            return None
        return day.end_ns if ts_ns >= day.session.close_ns else day.session.close_ns

    def next_open(self, ts_ns: int) -> int:
        """The regular open of the first session opening after ``ts_ns``."""
        self._check_range(ts_ns)
        i = bisect_right(self._opens, ts_ns)
        if i >= len(self._opens):
            raise CalendarRangeError(f"{self.exchange}: no session after {self.last_day} in the calendar")
        return self._opens[i]


class MarketClock:
    """An exchange calendar read against a clock: the phase of the market now, for the order path.

    The embedded runtime hands it the replay's clock, so a replayed day opens and closes on the replay's time.
    """

    def __init__(self, calendar: ExchangeCalendar, clock: Clock) -> None:
        self.calendar = calendar
        self.clock = clock

    def phase(self) -> Phase:
        return self.calendar.phase(self.clock.now_ns())

    def accepts_orders(self, *, extended_hours: bool) -> bool:
        return self.calendar.accepts_orders(self.clock.now_ns(), extended_hours=extended_hours)

    def day_order_expiry(self, *, extended_hours: bool) -> int | None:
        return self.calendar.day_order_expiry(self.clock.now_ns(), extended_hours=extended_hours)
