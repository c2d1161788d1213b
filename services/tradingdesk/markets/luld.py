"""Limit Up-Limit Down price bands (the NMS Plan to Address Extraordinary Market Volatility), as pure functions.

The band around a stock's reference price (the mean of its trades over the preceding five minutes) is a
percentage parameter that depends on the stock's tier and price (the Plan's Appendix A):

    reference price         Tier 1            Tier 2
    above $3.00             5%                10%
    $0.75 to $3.00          20%               20%
    below $0.75             the lesser of $0.15 or 75%

and the percentage parameters are doubled in the first 15 minutes of the regular session (09:30-09:45 in New
York) and in its last 25 minutes (15:35-16:00, or the 25 minutes before an early close). Bands are rounded to
the nearest tick (a penny for NMS stocks) and never below one tick.
"""

from __future__ import annotations

from tradingdesk.core.fixed import SCALE, bps_of
from tradingdesk.markets.calendar import NS_PER_MINUTE, Session

TIER_BPS = {1: 500, 2: 1_000}
"""Percentage parameter above $3.00, per tier, in basis points."""
MID_PRICE_BPS = 2_000
"""Percentage parameter from $0.75 to $3.00 (both tiers)."""
LOW_PRICE_BPS = 7_500
"""Percentage parameter below $0.75, capped at ``LOW_PRICE_CAP``."""
LOW_PRICE_CAP = 15 * SCALE // 100
THREE_DOLLARS = 3 * SCALE
SEVENTY_FIVE_CENTS = 75 * SCALE // 100
OPEN_DOUBLING_NS = 15 * NS_PER_MINUTE
CLOSE_DOUBLING_NS = 25 * NS_PER_MINUTE


def band_width(
    reference: int, *, tier: int, doubled: bool, tier1_bps: int = TIER_BPS[1], mid_bps: int = MID_PRICE_BPS
) -> int:
    """Distance from the reference price to either band, in fixed-point units (before rounding).

    ``tier1_bps`` is the percentage parameter of tier 1 above $3.00 (tier 2's is twice it, as in the Plan)
    and ``mid_bps`` the one from $0.75 to $3.00; the defaults are the Plan's (``spec.risk.luldBandBps`` and
    ``luldLowPriceBandBps`` may set others)."""
    if tier not in TIER_BPS:
        raise ValueError(f"LULD tier must be 1 or 2, not {tier}")
    if reference <= 0:
        raise ValueError("the LULD reference price must be > 0")
    if reference > THREE_DOLLARS:
        width = bps_of(reference, tier1_bps * tier)
    elif reference >= SEVENTY_FIVE_CENTS:
        width = bps_of(reference, mid_bps)
    else:
        width = min(LOW_PRICE_CAP, bps_of(reference, LOW_PRICE_BPS))
    return 2 * width if doubled else width


def is_doubled(ts_ns: int, session: Session) -> bool:
    """Whether ``ts_ns`` falls in the first 15 or the last 25 minutes of the regular session."""
    if not session.open_ns <= ts_ns < session.close_ns:
        return False
    return ts_ns < session.open_ns + OPEN_DOUBLING_NS or ts_ns >= session.close_ns - CLOSE_DOUBLING_NS


def _nearest_tick(price: int, tick: int) -> int:
    q, r = divmod(price, tick)
    return (q + (1 if 2 * r >= tick else 0)) * tick


def price_bands(
    reference: int, *, tier: int, doubled: bool, tick: int, tier1_bps: int = TIER_BPS[1], mid_bps: int = MID_PRICE_BPS
) -> tuple[int, int]:
    """``(lower, upper)`` band around ``reference``, each rounded to the nearest ``tick``; the lower band is at
    least one tick."""
    width = band_width(reference, tier=tier, doubled=doubled, tier1_bps=tier1_bps, mid_bps=mid_bps)
    lower = max(tick, _nearest_tick(reference - width, tick))
    return lower, _nearest_tick(reference + width, tick)


def bands_at(ts_ns: int, reference: int, *, tier: int, tick: int, session: Session | None) -> tuple[int, int]:
    """The bands in force at ``ts_ns``: doubled at the open and the close of ``session`` (None: never doubled)."""
    doubled = session is not None and is_doubled(ts_ns, session)
    return price_bands(reference, tier=tier, doubled=doubled, tick=tick)
