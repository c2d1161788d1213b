"""Per-venue execution quality with the fields of SEC Rule 605 (as amended in 2024), from the orders'
measures: how much of what was sent filled, at what effective spread against the quoted spread, and how
often and by how much executions beat (price improvement) or missed the quote at the order's arrival."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tradingdesk.core.enums import Side
from tradingdesk.core.fixed import div, mul
from tradingdesk.tca.orders import OrderQuality


@dataclass(frozen=True, slots=True)
class VenueQuality:
    venue: str
    orders: int
    shares_ordered: int
    shares_executed: int
    shares_cancelled: int
    fill_rate_bps: int
    """Fixed-point basis points of the ordered shares that executed."""
    avg_effective_spread: int
    """Share-weighted, per share."""
    avg_quoted_spread: int
    """Share-weighted ask - bid at arrival, per share."""
    effective_over_quoted_bps: int
    """E/Q in fixed-point basis points (10,000: executions at the quote; below: inside it)."""
    shares_improved: int
    avg_improvement: int
    """Per improved share."""
    shares_at_quote: int
    shares_outside_quote: int
    avg_outside: int
    """Per share executed outside the quote."""
    avg_time_to_fill_ms: int
    """Share-weighted, from arrival to the first fill."""


def venue_quality(venue: str, orders: Iterable[OrderQuality]) -> VenueQuality:
    chosen = [o for o in orders if o.venue == venue]
    ordered = sum(o.qty for o in chosen)
    executed = sum(o.filled_qty for o in chosen)
    quoted = [o for o in chosen if o.filled_qty and o.arrival_mid]
    quoted_qty = sum(o.filled_qty for o in quoted)
    eff = sum(mul(o.effective_spread, o.filled_qty) for o in quoted)
    spread = sum(mul(o.arrival_ask - o.arrival_bid, o.filled_qty) for o in quoted)
    improved = at_quote = outside = 0
    improvement = outside_amount = 0
    for o in quoted:
        touch = o.arrival_ask if o.side == Side.BUY else o.arrival_bid
        better = (touch - o.avg_price) if o.side == Side.BUY else (o.avg_price - touch)
        if better > 0:
            improved += o.filled_qty
            improvement += mul(better, o.filled_qty)
        elif better == 0:
            at_quote += o.filled_qty
        else:
            outside += o.filled_qty
            outside_amount += mul(-better, o.filled_qty)
    timed = [o for o in chosen if o.filled_qty]
    wait = sum((o.first_fill_ns - o.arrival_ns) // 1_000_000 * o.filled_qty for o in timed)
    return VenueQuality(
        venue=venue,
        orders=len(chosen),
        shares_ordered=ordered,
        shares_executed=executed,
        shares_cancelled=sum(o.cancelled_qty for o in chosen),
        fill_rate_bps=div(executed * 10_000, ordered) if ordered else 0,
        avg_effective_spread=div(eff, quoted_qty) if quoted_qty else 0,
        avg_quoted_spread=div(spread, quoted_qty) if quoted_qty else 0,
        effective_over_quoted_bps=div(eff * 10_000, spread) if spread else 0,
        shares_improved=improved,
        avg_improvement=div(improvement, improved) if improved else 0,
        shares_at_quote=at_quote,
        shares_outside_quote=outside,
        avg_outside=div(outside_amount, outside) if outside else 0,
        avg_time_to_fill_ms=wait // executed if executed else 0,
    )


def venues_quality(orders: Iterable[OrderQuality]) -> list[VenueQuality]:
    """One row per venue that received an order, by name."""
    listed = list(orders)
    return [venue_quality(v, listed) for v in sorted({o.venue for o in listed if o.venue})]
