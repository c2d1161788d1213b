"""LULD bands (tiers, price brackets, doubling at the open and the close) and the market-wide circuit breaker
(7/13/20%, 15-minute halts before 15:25, level 3 for the rest of the day)."""

from __future__ import annotations

from datetime import date

import pytest

from tradingdesk.core.fixed import parse_fixed
from tradingdesk.markets.breakers import BreakerLevel, MarketWideBreaker, level_of
from tradingdesk.markets.calendar import NS_PER_MINUTE, Session
from tradingdesk.markets.luld import band_width, bands_at, is_doubled, price_bands

P = parse_fixed
CENT = P("0.01")
OPEN = 1_720_000_000 * 1_000_000_000
NORMAL = Session(date(2024, 7, 2), OPEN, OPEN + 390 * NS_PER_MINUTE)
EARLY = Session(date(2024, 7, 3), OPEN, OPEN + 210 * NS_PER_MINUTE, early_close=True)


@pytest.mark.parametrize(
    ("reference", "tier", "width"),
    [
        ("100", 1, "5"),  # 5% above $3, tier 1
        ("100", 2, "10"),  # 10% above $3, tier 2
        ("3.01", 1, "0.1505"),
        ("3", 1, "0.6"),  # 20% from $0.75 to $3.00, either tier
        ("0.75", 2, "0.15"),
        ("0.5", 1, "0.15"),  # below $0.75: the lesser of $0.15 (0.375 is 75%) ...
        ("0.1", 1, "0.075"),  # ... or 75%
    ],
)
def test_percentage_parameters_by_tier_and_price(reference: str, tier: int, width: str) -> None:
    assert band_width(P(reference), tier=tier, doubled=False) == P(width)
    assert band_width(P(reference), tier=tier, doubled=True) == 2 * P(width)


def test_doubled_in_the_first_15_and_last_25_minutes() -> None:
    minute = NS_PER_MINUTE
    assert is_doubled(OPEN, NORMAL) and is_doubled(OPEN + 15 * minute - 1, NORMAL)
    assert not is_doubled(OPEN + 15 * minute, NORMAL)
    assert not is_doubled(NORMAL.close_ns - 25 * minute - 1, NORMAL)
    assert is_doubled(NORMAL.close_ns - 25 * minute, NORMAL) and is_doubled(NORMAL.close_ns - 1, NORMAL)
    assert not is_doubled(NORMAL.close_ns, NORMAL) and not is_doubled(OPEN - 1, NORMAL)
    # An early close moves the closing window with it: 12:35-13:00 rather than 15:35-16:00.
    assert is_doubled(EARLY.close_ns - 10 * minute, EARLY)
    assert not is_doubled(NORMAL.close_ns - 10 * minute, EARLY)  # after the early close: no session


def test_bands_in_force_over_the_day() -> None:
    ref = P("50.00")
    assert bands_at(OPEN + NS_PER_MINUTE, ref, tier=1, tick=CENT, session=NORMAL) == (P("45"), P("55"))
    assert bands_at(OPEN + 60 * NS_PER_MINUTE, ref, tier=1, tick=CENT, session=NORMAL) == (P("47.5"), P("52.5"))
    late = NORMAL.close_ns - 5 * NS_PER_MINUTE
    assert bands_at(late, ref, tier=1, tick=CENT, session=NORMAL) == (P("45"), P("55"))
    assert bands_at(late, ref, tier=1, tick=CENT, session=None) == (P("47.5"), P("52.5"))


def test_bands_round_to_the_nearest_tick_and_stay_above_zero() -> None:
    assert price_bands(P("10.07"), tier=1, doubled=False, tick=CENT) == (P("9.57"), P("10.57"))  # 0.5035 each way
    assert price_bands(P("0.05"), tier=1, doubled=True, tick=CENT) == (CENT, P("0.13"))  # 150% of 0.05 = 0.075


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="tier must be 1 or 2"):
        band_width(P("10"), tier=3, doubled=False)
    with pytest.raises(ValueError, match="reference price must be > 0"):
        band_width(0, tier=1, doubled=False)


def test_breaker_levels_at_7_13_and_20_percent() -> None:
    ref = P("5000")
    assert level_of(ref, P("4650.01")) is BreakerLevel.NONE
    assert level_of(ref, P("4650")) is BreakerLevel.LEVEL_1  # exactly 7%
    assert level_of(ref, P("4350")) is BreakerLevel.LEVEL_2
    assert level_of(ref, P("4000")) is BreakerLevel.LEVEL_3
    assert level_of(ref, P("5100")) is BreakerLevel.NONE  # a rise never trips


def test_level_1_halts_15_minutes_once_then_level_2_then_level_3_for_the_day() -> None:
    breaker = MarketWideBreaker(P("5000"), NORMAL)
    t = OPEN + 60 * NS_PER_MINUTE
    trip = breaker.on_price(t, P("4640"))
    assert trip is not None and trip.level is BreakerLevel.LEVEL_1 and trip.halts and trip.reason == "MWC1"
    assert trip.until_ns == t + 15 * NS_PER_MINUTE
    assert breaker.halted(t + 15 * NS_PER_MINUTE - 1) and not breaker.halted(t + 15 * NS_PER_MINUTE)
    # Back above and down again: level 1 does not halt a second time.
    assert breaker.on_price(t + 20 * NS_PER_MINUTE, P("4700")) is None
    assert breaker.on_price(t + 21 * NS_PER_MINUTE, P("4600")) is None
    trip2 = breaker.on_price(t + 30 * NS_PER_MINUTE, P("4300"))
    assert trip2 is not None and trip2.level is BreakerLevel.LEVEL_2 and trip2.halts
    trip3 = breaker.on_price(t + 200 * NS_PER_MINUTE, P("3999"))
    assert trip3 is not None and trip3.level is BreakerLevel.LEVEL_3 and trip3.until_ns == NORMAL.close_ns
    assert breaker.halted(NORMAL.close_ns - 1)
    assert [x.level for x in breaker.trips] == [BreakerLevel.LEVEL_1, BreakerLevel.LEVEL_2, BreakerLevel.LEVEL_3]


def test_level_1_and_2_do_not_halt_from_15_25_but_level_3_does() -> None:
    breaker = MarketWideBreaker(P("5000"), NORMAL)
    cutoff = NORMAL.close_ns - 35 * NS_PER_MINUTE  # 15:25
    trip = breaker.on_price(cutoff - 1, P("4640"))
    assert trip is not None and trip.halts  # 15:24:59.999999999 still halts
    breaker = MarketWideBreaker(P("5000"), NORMAL)
    trip = breaker.on_price(cutoff, P("4300"))
    assert trip is not None and trip.level is BreakerLevel.LEVEL_2 and not trip.halts
    assert not breaker.halted(cutoff)
    trip = breaker.on_price(cutoff + NS_PER_MINUTE, P("3900"))
    assert trip is not None and trip.halts and breaker.halted(NORMAL.close_ns - 1)


def test_early_close_moves_the_cutoff_to_12_25() -> None:
    breaker = MarketWideBreaker(P("5000"), EARLY)
    trip = breaker.on_price(EARLY.close_ns - 30 * NS_PER_MINUTE, P("4600"))  # 12:30 on an early-close day
    assert trip is not None and not trip.halts


def test_a_fall_straight_past_13_percent_halts_once_at_level_2() -> None:
    breaker = MarketWideBreaker(P("5000"), NORMAL)
    trip = breaker.on_price(OPEN + NS_PER_MINUTE, P("4300"))
    assert trip is not None and trip.level is BreakerLevel.LEVEL_2
    assert breaker.on_price(OPEN + 20 * NS_PER_MINUTE, P("4640")) is None  # level 1 counts as reached
