"""The market-wide circuit breaker (exchange rules approved by the SEC in 2012, e.g. NYSE Rule 7.12): trading
in every NMS stock halts when the S&P 500 falls far enough below its prior close.

    Level 1: a 7% decline    halts trading for 15 minutes, if it happens before 15:25 New York time;
    Level 2: a 13% decline   halts trading for 15 minutes, if it happens before 15:25;
    Level 3: a 20% decline   halts trading for the rest of the day, whenever it happens.

Levels 1 and 2 halt at most once a day each; a decline reaching one at or after 15:25 (35 minutes before the
close, so 12:25 on an early-close day) does not halt. A fall that skips a level (straight past 13%) counts
the level below as reached too. Declines are measured in fixed-point ints from the reference value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from tradingdesk.markets.calendar import NS_PER_MINUTE, Session


class BreakerLevel(IntEnum):
    NONE = 0
    LEVEL_1 = 1
    LEVEL_2 = 2
    LEVEL_3 = 3


DECLINE_BPS = {BreakerLevel.LEVEL_1: 700, BreakerLevel.LEVEL_2: 1_300, BreakerLevel.LEVEL_3: 2_000}
HALT_NS = 15 * NS_PER_MINUTE
LATE_CUTOFF_NS = 35 * NS_PER_MINUTE
"""Levels 1 and 2 no longer halt in the last 35 minutes of the session (from 15:25 on a normal day)."""


def level_of(reference: int, price: int) -> BreakerLevel:
    """The highest level a fall from ``reference`` to ``price`` reaches."""
    if reference <= 0:
        raise ValueError("the circuit breaker reference value must be > 0")
    decline = reference - price
    for level in (BreakerLevel.LEVEL_3, BreakerLevel.LEVEL_2, BreakerLevel.LEVEL_1):
        if decline * 10_000 >= reference * DECLINE_BPS[level]:
            return level
    return BreakerLevel.NONE


@dataclass(frozen=True, slots=True)
class BreakerTrip:
    """A level reached for the first time today."""

    level: BreakerLevel
    ts_ns: int
    halts: bool
    """False for level 1 or 2 reached in the last 35 minutes: reported, but trading goes on."""
    until_ns: int
    """When the halt ends (the session's close for level 3); equal to ``ts_ns`` when it does not halt."""

    @property
    def reason(self) -> str:
        """The halt reason code market data carries (MWC1, MWC2, MWC3)."""
        return f"MWC{int(self.level)}"


class MarketWideBreaker:
    """The breaker's state over one session: levels reached and the halt in force."""

    def __init__(self, reference: int, session: Session) -> None:
        if reference <= 0:
            raise ValueError("the circuit breaker reference value must be > 0")
        self.reference = reference
        self.session = session
        self.reached = BreakerLevel.NONE
        self.trips: list[BreakerTrip] = []
        self._halted_until = 0

    def on_price(self, ts_ns: int, price: int) -> BreakerTrip | None:
        """Feed one index value; returns the trip when it reaches a level not reached before today."""
        level = level_of(self.reference, price)
        if level <= self.reached:
            return None
        self.reached = level
        session = self.session
        if level == BreakerLevel.LEVEL_3:
            trip = BreakerTrip(level, ts_ns, True, session.close_ns)
        elif ts_ns < session.close_ns - LATE_CUTOFF_NS:
            trip = BreakerTrip(level, ts_ns, True, ts_ns + HALT_NS)
        else:
            trip = BreakerTrip(level, ts_ns, False, ts_ns)
        if trip.halts:
            self._halted_until = max(self._halted_until, trip.until_ns)
        self.trips.append(trip)
        return trip

    def halted(self, ts_ns: int) -> bool:
        """Whether a breaker halt is in force at ``ts_ns``."""
        return ts_ns < self._halted_until
