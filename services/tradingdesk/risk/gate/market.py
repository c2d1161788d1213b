"""The market's own rules, as the gate applies them to each order: the symbol's session (exchange calendar),
its trading status from market data (halts, LULD pauses), the market-wide circuit breaker, and the LULD bands
doubled at the open and the close.

Times are the desk clock's (``markets/replay_clock.py`` in a replayed desk, the wall clock in production).
Everything here is integers and binary searches: a check costs a few microseconds and allocates nothing unless
it refuses. docs/compliance.md lists each control, its reject code and the rule it answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.core.enums import OrderType
from tradingdesk.core.fixed import format_fixed
from tradingdesk.core.reject import refused
from tradingdesk.markets.breakers import DECLINE_BPS, BreakerTrip, MarketWideBreaker
from tradingdesk.markets.calendar import CalendarRangeError, ExchangeCalendar, Phase, TradingDay
from tradingdesk.markets.luld import is_doubled, price_bands
from tradingdesk.markets.status import HALT_REASONS, SymbolStatus, status_name
from tradingdesk.spec.model import TradingDesk
from tradingdesk.spec.types import units

_REGULAR = Phase.REGULAR
_EXTENDED = (Phase.PRE_OPEN, Phase.POST_CLOSE)
_TRADING = SymbolStatus.TRADING


@dataclass(frozen=True, slots=True)
class Listing:
    """What the gate needs of one symbol: its exchange calendar, LULD tier and tick."""

    calendar: ExchangeCalendar
    tier: int
    tick: int


class MarketConduct:
    def __init__(
        self,
        listings: Mapping[str, Listing],
        *,
        extended_hours: bool,
        index_symbol: str = "",
        index_reference: int = 0,
    ) -> None:
        self.listings = dict(listings)
        self.extended_hours = extended_hours
        self.index_symbol = index_symbol
        self.index_reference = index_reference
        """The index's prior close the breaker measures from (0: the session's first index trade)."""
        self.statuses: dict[str, tuple[SymbolStatus, str]] = {}
        """Symbols market data says are not trading, with the reason code."""
        self.breaker: MarketWideBreaker | None = None
        self.last_trip: BreakerTrip | None = None

    @classmethod
    def from_desk(cls, desk: TradingDesk, calendars: Mapping[str, ExchangeCalendar]) -> MarketConduct:
        conduct = desk.spec.conduct
        breaker = conduct.market_wide_breaker
        return cls(
            {
                i.symbol: Listing(calendars[i.symbol], i.listing.luld_tier, units(i.tick_size))
                for i in desk.spec.instruments
            },
            extended_hours=conduct.market_hours.extended_hours,
            index_symbol=breaker.index_symbol,
            index_reference=units(breaker.reference_price),
        )

    # -- market data ----------------------------------------------------------------------------------------
    def on_status(self, symbol: str, status: SymbolStatus, reason: str) -> None:
        """A symbol's trading status from market data: halted or paused until it says trading again."""
        if status == _TRADING:
            self.statuses.pop(symbol, None)
        else:
            self.statuses[symbol] = (status, reason)

    def on_index_trade(self, price: int, ts_ns: int) -> BreakerTrip | None:
        """A trade of the index instrument: the breaker of its session measures the decline. Returns a level
        reached for the first time today."""
        listing = self.listings.get(self.index_symbol)
        if listing is None or price <= 0:
            return None
        try:
            day = listing.calendar.trading_day(ts_ns)
        except CalendarRangeError:
            return None
        if day is None or not day.session.open_ns <= ts_ns < day.session.close_ns:
            return None
        breaker = self.breaker
        if breaker is None or breaker.session != day.session:
            breaker = self.breaker = MarketWideBreaker(self.index_reference or price, day.session)
        trip = breaker.on_price(ts_ns, price)
        if trip is not None:
            self.last_trip = trip
        return trip

    # -- checks ---------------------------------------------------------------------------------------------
    def check(self, symbol: str, order_type: OrderType, ts_ns: int) -> TradingDay:
        """Raise ``Reject`` when the market cannot take an order in ``symbol`` now; the trading day it is in."""
        listing = self.listings[symbol]
        calendar = listing.calendar
        try:
            day = calendar.trading_day(ts_ns)
        except CalendarRangeError as exc:
            raise refused(str(exc), "CALENDAR_RANGE") from None
        phase = day.phase(ts_ns) if day is not None else Phase.CLOSED
        if phase is not _REGULAR:
            if not (self.extended_hours and phase in _EXTENDED):
                raise refused(self._closed_message(calendar, phase, ts_ns), "MARKET_CLOSED")
            if order_type != OrderType.LIMIT:
                raise refused(
                    f"only limit orders in the {phase.value} session of {calendar.exchange}",
                    "EXTENDED_HOURS_LIMIT_ONLY",
                )
        breaker = self.breaker
        if breaker is not None and breaker.halted(ts_ns):
            trip = self.last_trip
            assert trip is not None
            until = "the close" if trip.until_ns >= breaker.session.close_ns else local_time(calendar, trip.until_ns)
            raise refused(
                f"market-wide circuit breaker level {int(trip.level)} ({trip.reason}): {self.index_symbol} fell "
                f"{DECLINE_BPS[trip.level] // 100}% or more below {format_fixed(breaker.reference)} at "
                f"{local_time(calendar, trip.ts_ns)}; trading is halted until {until}",
                "MARKET_HALTED",
            )
        halt = self.statuses.get(symbol)
        if halt is not None:
            status, reason = halt
            why = f" ({reason}: {HALT_REASONS.get(reason, 'reason given by the market')})" if reason else ""
            raise refused(f"{symbol} is {status_name(status)} by its market{why}", "SYMBOL_HALTED")
        assert day is not None
        return day

    @staticmethod
    def _closed_message(calendar: ExchangeCalendar, phase: Phase, ts_ns: int) -> str:
        where = calendar.exchange
        if phase is Phase.BREAK:
            return f"{where} is in its lunch break"
        state = "closed"
        if phase in _EXTENDED:
            state = f"in its {phase.value} session and the desk trades no extended hours"
        try:
            opens = local_time(calendar, calendar.next_open(ts_ns))
        except CalendarRangeError:
            return f"{where} is {state}"
        return f"{where} is {state}; its next regular session opens at {opens}"

    def luld_bands(
        self, symbol: str, mean: int, ts_ns: int, *, day: TradingDay, tier1_bps: int, mid_bps: int
    ) -> tuple[int, int]:
        """The Limit Up-Limit Down bands around ``mean`` in force now: doubled in the first 15 and the last
        25 minutes of the regular session."""
        listing = self.listings[symbol]
        return price_bands(
            mean,
            tier=listing.tier,
            doubled=is_doubled(ts_ns, day.session),
            tick=listing.tick,
            tier1_bps=tier1_bps,
            mid_bps=mid_bps,
        )

    def day_order_expiry(self, symbol: str, ts_ns: int) -> int:
        """When a DAY order entered now expires: the regular close (the end of the post-close session for one
        entered in it); 0 when the calendar cannot say."""
        try:
            expiry = self.listings[symbol].calendar.day_order_expiry(ts_ns, extended_hours=self.extended_hours)
        except CalendarRangeError:
            return 0
        return expiry or 0


def local_time(calendar: ExchangeCalendar, ts_ns: int) -> str:
    """An instant as the exchange's local time (2024-07-03 13:00 America/New_York), for messages."""
    local = datetime.fromtimestamp(ts_ns // NS_PER_SECOND, UTC).astimezone(ZoneInfo(calendar.timezone))
    return f"{local:%Y-%m-%d %H:%M} {calendar.timezone}"
