"""Execution quality of each order, measured against the market when it arrived.

* **arrival price**: the mid of the quote in force when the desk received the order;
* **implementation shortfall** (Perold): what the order cost against trading everything at the arrival mid.
  Execution cost ``(average price - arrival mid) x filled`` for a buy (reversed for a sell), plus the
  opportunity cost of what was not filled, ``(mid at the end - arrival mid) x unfilled``, plus fees. Positive
  is a cost; in money and in basis points of the arrival notional (``qty x arrival mid``);
* **interval VWAP**: the VWAP of the tape from arrival to the order's end (its last fill, cancel or expiry),
  and the average price against it in basis points (positive: worse than VWAP);
* **effective spread** (SEC Rule 605): twice the signed distance of the average price from the arrival mid,
  per share (negative when the order was filled better than the mid);
* **fees** as the venues charged them (rebates negative).

A cancel/replace chain is one order (the first order's id), so a modify does not reset its arrival price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tradingdesk.core.activity import Activity, OrderActivity
from tradingdesk.core.enums import Side
from tradingdesk.core.fixed import div, mul
from tradingdesk.tca.tape import MarketTape

TERMINAL = frozenset({Activity.CANCEL, Activity.EXPIRE, Activity.REJECT})


@dataclass(frozen=True, slots=True)
class OrderQuality:
    order_id: str
    account: str
    symbol: str
    side: Side
    venue: str
    arrival_ns: int
    end_ns: int
    qty: int
    filled_qty: int
    avg_price: int
    fees: int
    arrival_bid: int
    arrival_ask: int
    arrival_mid: int
    """0 when there was no quote at arrival: the measures below against it are then 0 too."""
    end_mid: int
    execution_cost: int
    opportunity_cost: int
    shortfall: int
    """Execution cost + opportunity cost + fees, in money."""
    shortfall_bps: int
    """Fixed-point basis points of the arrival notional."""
    interval_vwap: int
    vs_vwap_bps: int
    effective_spread: int
    """Per share, signed (Rule 605)."""
    first_fill_ns: int
    cancelled_qty: int


def _sign(side: Side) -> int:
    return 1 if side == Side.BUY else -1


def order_quality(events: list[OrderActivity], tape: MarketTape) -> OrderQuality:
    """The measures of one order from its activities (in time order, the first being its NEW)."""
    first = events[0]
    if first.kind is not Activity.NEW:
        raise ValueError(f"order {first.order_id}: its first activity must be NEW, not {first.kind.value}")
    fills = [e for e in events if e.kind is Activity.FILL]
    qty = events[-1].qty
    filled = sum(f.fill_qty for f in fills)
    notional = sum(mul(f.fill_price, f.fill_qty) for f in fills)
    fees = sum(f.fee for f in fills)
    avg = div(notional, filled) if filled else 0
    end = events[-1].ts_ns
    quote = tape.quote_at(first.symbol, first.ts_ns)
    bid, ask = (quote.bid, quote.ask) if quote else (0, 0)
    mid = quote.mid if quote else 0
    end_quote = tape.quote_at(first.symbol, end)
    end_mid = end_quote.mid if end_quote else mid
    sign = _sign(first.side)
    ended = events[-1].kind in TERMINAL or events[-1].leaves_qty == 0
    unfilled = max(qty - filled, 0)
    cancelled = unfilled if ended else 0
    execution = sign * (notional - mul(mid, filled)) if mid and filled else 0
    opportunity = sign * mul(end_mid - mid, unfilled) if mid else 0
    shortfall = execution + opportunity + fees
    arrival_notional = mul(mid, qty)
    vwap = tape.vwap(first.symbol, first.ts_ns, end)
    return OrderQuality(
        order_id=first.order_id,
        account=first.account,
        symbol=first.symbol,
        side=first.side,
        venue=fills[0].venue if fills else first.venue,
        arrival_ns=first.ts_ns,
        end_ns=end,
        qty=qty,
        filled_qty=filled,
        avg_price=avg,
        fees=fees,
        arrival_bid=bid,
        arrival_ask=ask,
        arrival_mid=mid,
        end_mid=end_mid,
        execution_cost=execution,
        opportunity_cost=opportunity,
        shortfall=shortfall,
        shortfall_bps=div(shortfall * 10_000, arrival_notional) if arrival_notional else 0,
        interval_vwap=vwap,
        vs_vwap_bps=div(sign * (avg - vwap) * 10_000, vwap) if vwap and filled else 0,
        effective_spread=2 * sign * (avg - mid) if mid and filled else 0,
        first_fill_ns=fills[0].ts_ns if fills else 0,
        cancelled_qty=cancelled,
    )


def group_orders(events: Iterable[OrderActivity]) -> dict[str, list[OrderActivity]]:
    """Activities by order, a cancel/replace chain under its first order's id, in the order given."""
    root: dict[str, str] = {}
    out: dict[str, list[OrderActivity]] = {}
    for ev in events:
        if ev.kind is Activity.MODIFY and ev.prior_order_id:
            root[ev.order_id] = root.get(ev.prior_order_id, ev.prior_order_id)
        key = root.get(ev.order_id, ev.order_id)
        out.setdefault(key, []).append(ev)
    return out


def orders_quality(events: Iterable[OrderActivity], tape: MarketTape) -> list[OrderQuality]:
    """The measures of every order that has a NEW among ``events``."""
    return [order_quality(evs, tape) for evs in group_orders(events).values() if evs[0].kind is Activity.NEW]
