"""The market's rules in the gate and the order engine, on the NYSE calendar and the manual clock: sessions
(a holiday and an early close), extended hours, DAY and GTD expiry, halts from market data, LULD bands doubled
at the open and the close, and the market-wide circuit breaker with the plan's timings."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.unit.desk_fixtures import D, Desk, default_limits, make_desk, order
from tradingdesk.core.clock import NS_PER_SECOND, ManualClock
from tradingdesk.core.enums import OrderStatus, OrderType, Side, TimeInForce
from tradingdesk.core.reject import Reject
from tradingdesk.markets.calendar import ExchangeCalendar
from tradingdesk.markets.calendar_source import load_calendar
from tradingdesk.markets.status import SymbolStatus
from tradingdesk.risk.gate.market import Listing, MarketConduct

S = OrderStatus
MINUTE = 60 * NS_PER_SECOND


def ns(text: str) -> int:
    """An instant in UTC ("2024-07-03 16:59"); New York is UTC-4 in July."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * NS_PER_SECOND


@pytest.fixture(scope="module")
def nyse() -> ExchangeCalendar:
    return load_calendar(
        "XNYS", start=date(2024, 6, 3), end=date(2024, 12, 31), pre_open_minutes=330, post_close_minutes=240
    )


def desk_at(nyse: ExchangeCalendar, when: str, *, extended: bool = False, index_reference: str = "0") -> Desk:
    limits = default_limits(price_collar_bps=2_000, luld_band_bps=500, luld_low_price_band_bps=2_000)
    d = make_desk(limits, clock=ManualClock(ns(when)))
    tick = D("0.01")
    listings = {
        "AAPL": Listing(nyse, 1, tick),
        "MSFT": Listing(nyse, 2, tick),
        "SPY": Listing(nyse, 1, tick),
    }
    d.gate.bind_market(
        MarketConduct(listings, extended_hours=extended, index_symbol="SPY", index_reference=D(index_reference))
    )
    market(d)
    return d


def market(d: Desk) -> None:
    d.trade("AAPL", "100.00", "10")
    d.quote("AAPL", "99.99", "200", "100.01", "200")
    d.trade("MSFT", "400.00", "10")
    d.quote("MSFT", "399.99", "200", "400.01", "200")


def refused(d: Desk, code: str, **kw) -> str:
    with pytest.raises(Reject) as exc:
        d.engine.submit(order(cl=f"r{len(d.engine.orders)}-{code}", **kw))
    assert exc.value.code == code, exc.value.message
    return exc.value.message


def passes(d: Desk, **kw) -> str:
    return d.engine.submit(order(cl=f"p{len(d.engine.orders)}", **kw)).order.order_id


def deliver(d: Desk) -> None:
    """Let the venues answer (their latency), and no more: ``settle`` would run every timer, expiries too."""
    d.scheduler.advance(0.01)


def move_to(d: Desk, when: str) -> None:
    d.scheduler.advance((ns(when) - d.clock.now_ns()) / NS_PER_SECOND)
    market(d)


# -- sessions ---------------------------------------------------------------------------------------------------
def test_orders_only_in_the_regular_session_unless_extended_hours(nyse: ExchangeCalendar) -> None:
    d = desk_at(nyse, "2024-07-02 14:00")  # 10:00 in New York
    passes(d, price="99.00")
    move_to(d, "2024-07-02 21:00")  # 17:00: the post-close session
    message = refused(d, "MARKET_CLOSED", price="99.00")
    assert "XNYS is in its post-close session" in message
    assert "2024-07-03 09:30 America/New_York" in message
    e = desk_at(nyse, "2024-07-02 21:00", extended=True)
    passes(e, price="99.00")
    assert "only limit orders" in refused(e, "EXTENDED_HOURS_LIMIT_ONLY", order_type=OrderType.MARKET)
    move_to(e, "2024-07-03 04:30")  # 00:30 in New York: nothing trades
    refused(e, "MARKET_CLOSED", price="99.00")


def test_a_holiday_refuses_everything_and_names_the_next_open(nyse: ExchangeCalendar) -> None:
    d = desk_at(nyse, "2024-07-04 15:00", extended=True)
    message = refused(d, "MARKET_CLOSED", price="99.00")
    assert message == "XNYS is closed; its next regular session opens at 2024-07-05 09:30 America/New_York"


def test_day_orders_expire_at_the_early_close(nyse: ExchangeCalendar) -> None:
    d = desk_at(nyse, "2024-07-03 15:00")  # 11:00; the exchange closes at 13:00 (17:00 UTC)
    day = passes(d, price="99.00")
    gtc = passes(d, price="98.00", tif=TimeInForce.GTC)
    deliver(d)
    assert d.engine.orders[day].expire_ns == ns("2024-07-03 17:00")
    move_to(d, "2024-07-03 16:59")
    deliver(d)
    assert d.engine.orders[day].status == S.NEW
    move_to(d, "2024-07-03 17:00")
    deliver(d)
    expired = d.engine.orders[day]
    assert expired.status == S.EXPIRED and expired.text == "DAY order expired at the close"
    assert d.journal.kinds(day)[-1] == "expired"
    assert d.engine.orders[gtc].status == S.NEW, "GTC lives on"
    refused(d, "MARKET_CLOSED", price="99.00")


def test_a_day_order_entered_after_the_close_expires_with_the_post_close_session(nyse: ExchangeCalendar) -> None:
    d = desk_at(nyse, "2024-07-03 18:00", extended=True)  # 14:00 after the early close, post-close until 17:00
    oid = passes(d, price="99.00")
    deliver(d)
    assert d.engine.orders[oid].expire_ns == ns("2024-07-03 21:00")
    move_to(d, "2024-07-03 21:00")
    deliver(d)
    assert d.engine.orders[oid].status == S.EXPIRED


def test_gtd_expires_at_its_time_across_the_holiday(nyse: ExchangeCalendar) -> None:
    d = desk_at(nyse, "2024-07-03 15:00")
    oid = passes(d, price="99.00", tif=TimeInForce.GTD, expire_ns=ns("2024-07-05 14:00"))
    deliver(d)
    move_to(d, "2024-07-05 13:59")
    deliver(d)
    assert d.engine.orders[oid].status == S.NEW
    move_to(d, "2024-07-05 14:00")
    deliver(d)
    assert d.engine.orders[oid].status == S.EXPIRED and d.engine.orders[oid].text == "GTD order expired"


def test_recovery_puts_the_day_timer_back(nyse: ExchangeCalendar) -> None:
    d = desk_at(nyse, "2024-07-03 15:00")
    oid = passes(d, price="99.00")
    deliver(d)
    again = desk_at(nyse, "2024-07-03 16:00")
    again.engine.rebuild(d.journal.records)
    again.engine.reseat_open_orders()
    move_to(again, "2024-07-03 17:00")
    deliver(again)
    assert again.engine.orders[oid].status == S.EXPIRED


# -- halts and pauses from market data ----------------------------------------------------------------------------
def test_a_halt_and_a_pause_from_market_data_then_the_resumption(nyse: ExchangeCalendar) -> None:
    d = desk_at(nyse, "2024-07-02 14:00")
    d.gate.on_symbol_status("AAPL", SymbolStatus.HALTED, "T1")
    assert refused(d, "SYMBOL_HALTED", price="99.00") == "AAPL is halted by its market (T1: news pending)"
    passes(d, symbol="MSFT", price="399.00", qty="1")
    d.gate.on_symbol_status("AAPL", SymbolStatus.PAUSED, "LUDP")
    assert "paused by its market (LUDP: Limit Up-Limit Down pause)" in refused(d, "SYMBOL_HALTED", price="99.00")
    d.gate.on_symbol_status("AAPL", SymbolStatus.TRADING, "")
    passes(d, price="99.00")


# -- LULD bands doubled at the open and the close ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("when", "doubled"),
    [
        ("2024-07-02 13:30", True),  # 09:30, the open
        ("2024-07-02 13:44", True),
        ("2024-07-02 13:45", False),  # 09:45
        ("2024-07-02 19:34", False),
        ("2024-07-02 19:35", True),  # 15:35, the last 25 minutes
        ("2024-07-03 16:35", True),  # 12:35 before the 13:00 early close
        ("2024-07-03 16:34", False),
    ],
)
def test_luld_bands_double_in_the_first_15_and_last_25_minutes(nyse: ExchangeCalendar, when: str, doubled: bool):
    d = desk_at(nyse, when)  # mean 100: tier 1 is 95-105, doubled 90-110
    if doubled:
        passes(d, price="108.00", qty="1")
        assert "band 90-110 of AAPL" in refused(d, "LULD_BAND", price="110.01", qty="1")
    else:
        assert "band 95-105 of AAPL" in refused(d, "LULD_BAND", price="108.00", qty="1")
        passes(d, side=Side.SELL, price="95.00", qty="1")


def test_tier_2_bands_are_twice_as_wide(nyse: ExchangeCalendar) -> None:
    d = desk_at(nyse, "2024-07-02 15:00")  # MSFT is tier 2: 10% at mid-day around 400
    passes(d, symbol="MSFT", price="439.00", qty="1")
    assert "band 360-440 of MSFT" in refused(d, "LULD_BAND", symbol="MSFT", price="440.01", qty="1")


# -- the market-wide circuit breaker ------------------------------------------------------------------------------
def index(d: Desk, price: str) -> None:
    d.trade("SPY", price, "100")


def test_level_1_halts_for_15_minutes_once_then_level_2_then_level_3_for_the_day(nyse: ExchangeCalendar) -> None:
    d = desk_at(nyse, "2024-07-02 14:00", index_reference="500")
    index(d, "465.01")  # 6.998%: no level
    passes(d, price="99.00")
    index(d, "465.00")  # 7%: level 1 at 10:00
    message = refused(d, "MARKET_HALTED", price="99.00")
    assert "level 1 (MWC1)" in message and "until 2024-07-02 10:15 America/New_York" in message
    move_to(d, "2024-07-02 14:15")
    passes(d, price="99.00")
    index(d, "464.00")  # level 1 again the same day: no second halt
    passes(d, price="99.00")
    index(d, "435.00")  # 13%: level 2
    assert "level 2 (MWC2)" in refused(d, "MARKET_HALTED", symbol="MSFT", price="399.00", qty="1")
    move_to(d, "2024-07-02 14:30")
    passes(d, price="99.00")
    index(d, "400.00")  # 20%: level 3, for the rest of the day
    assert "until the close" in refused(d, "MARKET_HALTED", price="99.00")
    move_to(d, "2024-07-02 19:59")
    refused(d, "MARKET_HALTED", price="99.00")
    move_to(d, "2024-07-03 13:30")  # the next session: a new breaker, its levels not reached yet
    index(d, "480.00")
    passes(d, price="99.00")
    index(d, "465.00")
    refused(d, "MARKET_HALTED", price="99.00")


@pytest.mark.parametrize(
    ("day", "late", "in_time"),
    [("2024-07-02", "19:25", "19:24"), ("2024-07-03", "16:25", "16:24")],  # 15:25, or 12:25 on the early close
    ids=["normal-day", "early-close"],
)
def test_levels_1_and_2_do_not_halt_in_the_last_35_minutes(nyse, day: str, late: str, in_time: str) -> None:
    d = desk_at(nyse, f"{day} {late}", index_reference="500")
    index(d, "430.00")  # 14%: level 2 after the cutoff
    passes(d, price="99.00")
    index(d, "399.00")  # level 3 halts whenever it happens
    refused(d, "MARKET_HALTED", price="99.00")
    e = desk_at(nyse, f"{day} {in_time}", index_reference="500")
    index(e, "465.00")
    refused(e, "MARKET_HALTED", price="99.00")
