"""Exchange calendars from exchange_calendars: sessions, a holiday and an early close, extended hours, DAY
expiry, read against the manual clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tradingdesk.core.clock import ManualClock
from tradingdesk.markets.calendar import CalendarRangeError, ExchangeCalendar, MarketClock, Phase, Session
from tradingdesk.markets.calendar_source import UnknownExchangeError, desk_calendars, load_calendar
from tradingdesk.spec import parse_desk
from tradingdesk.spec.conduct import EXCHANGES


def ns(text: str) -> int:
    """An instant written in UTC ("2024-07-03 16:59")."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


@pytest.fixture(scope="module")
def nyse() -> ExchangeCalendar:
    return load_calendar(
        "XNYS", start=date(2024, 1, 2), end=date(2024, 12, 31), pre_open_minutes=330, post_close_minutes=240
    )


def test_a_normal_day_has_pre_open_regular_and_post_close(nyse: ExchangeCalendar) -> None:
    # 2024-07-02 is a Tuesday in EDT: regular 13:30-20:00 UTC, pre-open from 08:00, post-close until 00:00.
    day = nyse.on(date(2024, 7, 2))
    assert day is not None and not day.session.early_close
    assert day.session.open_ns == ns("2024-07-02 13:30") and day.session.close_ns == ns("2024-07-02 20:00")
    assert nyse.phase(ns("2024-07-02 07:59")) is Phase.CLOSED
    assert nyse.phase(ns("2024-07-02 08:00")) is Phase.PRE_OPEN
    assert nyse.phase(ns("2024-07-02 13:30")) is Phase.REGULAR
    assert nyse.phase(ns("2024-07-02 19:59")) is Phase.REGULAR
    assert nyse.phase(ns("2024-07-02 20:00")) is Phase.POST_CLOSE
    assert nyse.phase(ns("2024-07-03 00:00")) is Phase.CLOSED


def test_early_close_before_the_holiday(nyse: ExchangeCalendar) -> None:
    # July 3rd, 2024 closes at 13:00 New York time (17:00 UTC); July 4th is a holiday.
    day = nyse.on(date(2024, 7, 3))
    assert day is not None and day.session.early_close
    assert day.session.close_ns == ns("2024-07-03 17:00")
    assert nyse.phase(ns("2024-07-03 16:59")) is Phase.REGULAR
    assert nyse.phase(ns("2024-07-03 17:00")) is Phase.POST_CLOSE
    assert not nyse.accepts_orders(ns("2024-07-03 17:30"), extended_hours=False)
    assert nyse.accepts_orders(ns("2024-07-03 17:30"), extended_hours=True)
    # DAY orders expire at the early close, not at 16:00 New York time.
    assert nyse.day_order_expiry(ns("2024-07-03 14:00"), extended_hours=False) == ns("2024-07-03 17:00")


def test_holiday_has_no_session_and_refuses_orders_even_in_extended_hours(nyse: ExchangeCalendar) -> None:
    assert nyse.on(date(2024, 7, 4)) is None
    for hour in ("09:00", "14:00", "21:00"):
        ts = ns(f"2024-07-04 {hour}")
        assert nyse.phase(ts) is Phase.CLOSED
        assert not nyse.accepts_orders(ts, extended_hours=True)
        assert nyse.day_order_expiry(ts, extended_hours=True) is None
    # The next open after the holiday is Friday July 5th at 09:30 New York time.
    assert nyse.next_open(ns("2024-07-04 14:00")) == ns("2024-07-05 13:30")


def test_day_order_expiry_by_phase(nyse: ExchangeCalendar) -> None:
    close, end = ns("2024-07-02 20:00"), ns("2024-07-03 00:00")
    assert nyse.day_order_expiry(ns("2024-07-02 09:00"), extended_hours=True) == close  # pre-open order
    assert nyse.day_order_expiry(ns("2024-07-02 09:00"), extended_hours=False) is None
    assert nyse.day_order_expiry(ns("2024-07-02 15:00"), extended_hours=False) == close
    assert nyse.day_order_expiry(ns("2024-07-02 21:00"), extended_hours=True) == end  # post-close order


def test_thanksgiving_friday_early_close(nyse: ExchangeCalendar) -> None:
    assert nyse.on(date(2024, 11, 28)) is None  # Thanksgiving
    day = nyse.on(date(2024, 11, 29))
    assert day is not None and day.session.early_close and day.session.close_ns == ns("2024-11-29 18:00")


def test_outside_the_loaded_range_is_an_error_not_closed(nyse: ExchangeCalendar) -> None:
    with pytest.raises(CalendarRangeError, match="2024-01-02 to 2024-12-31"):
        nyse.phase(ns("2025-03-03 15:00"))
    with pytest.raises(CalendarRangeError):
        nyse.phase(ns("2023-06-01 15:00"))


def test_market_clock_follows_the_clock_across_the_early_close_and_the_holiday(nyse: ExchangeCalendar) -> None:
    clock = ManualClock(ns("2024-07-03 16:00"))
    market = MarketClock(nyse, clock)
    assert market.phase() is Phase.REGULAR and market.accepts_orders(extended_hours=False)
    clock.advance(ns("2024-07-03 17:00") - clock.now_ns())
    assert market.phase() is Phase.POST_CLOSE and not market.accepts_orders(extended_hours=False)
    clock.advance(24 * 3_600 * 1_000_000_000)  # July 4th, 17:00 UTC
    assert market.phase() is Phase.CLOSED and market.day_order_expiry(extended_hours=True) is None
    clock.advance(ns("2024-07-05 13:30") - clock.now_ns())
    assert market.phase() is Phase.REGULAR
    assert market.day_order_expiry(extended_hours=False) == ns("2024-07-05 20:00")


def test_lunch_break_in_tokyo() -> None:
    tokyo = load_calendar("XTKS", start=date(2024, 7, 1), end=date(2024, 7, 31))
    day = tokyo.on(date(2024, 7, 2))
    assert day is not None and day.session.break_start_ns and day.session.break_end_ns > day.session.break_start_ns
    assert tokyo.phase(day.session.break_start_ns) is Phase.BREAK
    assert not tokyo.accepts_orders(day.session.break_start_ns, extended_hours=True)
    assert tokyo.phase(day.session.break_end_ns) is Phase.REGULAR
    assert tokyo.timezone == "Asia/Tokyo"


def test_unknown_exchange_is_refused_by_name() -> None:
    with pytest.raises(UnknownExchangeError, match="'XXXX' is not an exchange with a calendar"):
        load_calendar("XXXX")


def test_every_exchange_the_spec_accepts_has_a_calendar() -> None:
    import exchange_calendars

    known = set(exchange_calendars.get_calendar_names(include_aliases=True))
    assert set(EXCHANGES) <= known


def test_extended_windows_never_overlap_the_neighbouring_session() -> None:
    day = 86_400_000_000_000
    sessions = [Session(date(2024, 1, d), d * day, d * day + day // 2) for d in (1, 2)]
    cal = ExchangeCalendar("TEST", sessions, timezone="UTC", pre_open_minutes=720, post_close_minutes=720)
    first, second = cal.days
    assert first.end_ns == second.session.open_ns and second.start_ns == first.end_ns


def test_desk_calendars_follow_each_instruments_listing() -> None:
    desk = parse_desk(
        {
            "apiVersion": "tradingdesk.io/v1alpha1",
            "kind": "TradingDesk",
            "metadata": {"name": "cal"},
            "spec": {
                "instruments": [
                    {"symbol": "AAPL", "listing": {"exchange": "XNAS"}},
                    {"symbol": "IBM"},
                    {"symbol": "VOD", "listing": {"exchange": "XLON"}},
                ],
                "accounts": [{"name": "A1"}],
                "feeds": [{"name": "f"}],
                "venues": [{"name": "v"}],
                "conduct": {"marketHours": {"preOpenMinutes": 60, "postCloseMinutes": 30}},
            },
        }
    )
    cals = desk_calendars(desk, start=date(2024, 7, 1), end=date(2024, 7, 31))
    assert cals["AAPL"].exchange == "XNAS" and cals["IBM"].exchange == "XNYS" and cals["VOD"].exchange == "XLON"
    # London trades on July 4th; New York does not.
    assert cals["VOD"].on(date(2024, 7, 4)) is not None and cals["IBM"].on(date(2024, 7, 4)) is None
    ibm = cals["IBM"].on(date(2024, 7, 2))
    assert ibm is not None and ibm.session.open_ns - ibm.start_ns == 60 * 60 * 1_000_000_000
    assert ibm.end_ns - ibm.session.close_ns == 30 * 60 * 1_000_000_000


def test_the_day_found_last_never_answers_for_another_instant(nyse: ExchangeCalendar) -> None:
    """trading_day remembers the day it found last; lookups that hop between days, the gaps between them and
    the edges of the range answer as a search over all the days does."""

    def searched(ts_ns: int) -> object:
        return next((d for d in nyse.days if d.start_ns <= ts_ns < d.end_ns), None)

    instants = [
        ns("2024-07-02 13:30"),
        ns("2024-07-02 23:59"),
        ns("2024-07-03 00:00"),  # the gap after the post-close
        ns("2024-07-02 08:00"),
        ns("2024-07-02 07:59"),
        ns("2024-07-04 15:00"),  # the holiday
        ns("2024-11-29 17:59"),
        ns("2024-07-02 14:00"),
    ]
    for ts_ns in instants + instants[::-1]:
        assert nyse.trading_day(ts_ns) is searched(ts_ns), ts_ns
    nyse.trading_day(nyse.days[-1].start_ns)  # the last day found last: outside the range is still refused
    with pytest.raises(CalendarRangeError):
        nyse.trading_day(nyse.days[-1].end_ns)
