"""The checks new orders and replaces share, in the order a refusal is most useful to see first.

Each refusal raises a ``Reject`` with its own code (docs/risk.md lists them); a check does no I/O, no logging
and allocates nothing unless it refuses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradingdesk.core.clock import NS_PER_MS
from tradingdesk.core.enums import OrderType, Side, TradingState
from tradingdesk.core.fixed import bps_of, format_fixed, mul
from tradingdesk.core.reject import Reject, refused, unavailable
from tradingdesk.markets.luld import price_bands
from tradingdesk.risk.gate.exposure import check_exposures
from tradingdesk.risk.gate.references import UNKNOWN_AGE_NS
from tradingdesk.risk.gate.scopes import ScopeRules

if TYPE_CHECKING:
    from tradingdesk.risk.gate.facade import RiskGate

_ACTIVE = TradingState.ACTIVE
_HALTED = TradingState.HALTED
_BUY = Side.BUY
_LIMIT = OrderType.LIMIT
CLOCK_STEP_TOLERANCE_NS = NS_PER_MS
"""A clock reading earlier than an earlier one by more than this stepped back (a skewed host); less is noise.
A reference can look at most this much fresher than it is."""


def check_order(
    gate: RiskGate,
    rules: ScopeRules,
    *,
    account: str,
    strategy: str,
    symbol: str,
    side: Side,
    order_type: OrderType,
    qty: int,
    price: int,
    add_qty: int,
    now_ns: int,
) -> None:
    """``qty``/``price`` are the order's (its open part for a replace); ``add_qty`` is what it adds to the open
    quantity, which is what exposure limits see."""
    limits = gate.limits
    if gate.stream_guarded and (now_stream := gate.stream_clock.now_ns()) - gate.last_heard_ns > gate.stream_timeout_ns:
        raise _stream_lost(gate, now_stream)
    is_buy = side == _BUY
    entry = rules.state_entry
    state = entry.state
    account_se = rules.account_book.symbols.get(symbol)
    if state != _ACTIVE:
        if state == _HALTED:
            why = f" ({entry.reason}, by {entry.actor})" if entry.reason else ""
            raise refused(f"trading is halted{why}", "TRADING_HALTED")
        position = account_se.position if account_se is not None else 0
        if is_buy:
            reduces = position < 0 and position + (account_se.open_buy if account_se else 0) + add_qty <= 0
        else:
            reduces = position > 0 and position - (account_se.open_sell if account_se else 0) - add_qty >= 0
        if not reduces:
            raise refused(
                f"trading is reduce-only: the order would not reduce the {symbol} position of {format_fixed(position)}",
                "REDUCE_ONLY",
            )
    if gate.latches:
        latch = gate.latches.get(rules.strategy_key)
        if latch is not None:
            raise refused(
                f"repeated-execution throttle is latched for {account}/{strategy or '-'}: {latch[1]}; "
                "a person must re-enable it (ReleaseLatch)",
                "REPEATED_EXECUTION",
            )
    market = gate.market
    day = market.check(symbol, order_type, now_ns) if market is not None else None
    if symbol in limits.halted_symbols:
        raise refused(f"{symbol} is halted: no new orders until the halt is lifted", "SYMBOL_HALTED")
    if symbol in rules.restricted:
        raise refused(f"{symbol} is on the restricted list", "RESTRICTED_SYMBOL")
    max_qty = rules.max_qty
    if max_qty and qty > max_qty:
        raise refused(
            f"quantity {format_fixed(qty)} exceeds the maximum order quantity {format_fixed(max_qty)}",
            "MAX_ORDER_QTY",
        )
    ref = gate.references.get(symbol)
    if ref is None:
        raise refused(f"no reference price for {symbol} yet: market data has not arrived", "NO_REFERENCE")
    if now_ns >= gate.latest_check_ns:
        gate.latest_check_ns = now_ns
    elif gate.latest_check_ns - now_ns > CLOCK_STEP_TOLERANCE_NS:
        gate.clock_stepped_back(now_ns)
    if ref.ts_ns == UNKNOWN_AGE_NS:
        raise refused(
            f"the clock stepped back since the reference price for {symbol} arrived: its age is unknown until "
            "the next tick",
            "STALE_REFERENCE",
        )
    age = now_ns - ref.ts_ns
    if age > gate.reference_max_age_ns:
        raise refused(f"the reference price for {symbol} is stale ({age // NS_PER_MS} ms old)", "STALE_REFERENCE")
    if age < -CLOCK_STEP_TOLERANCE_NS:  # stamped after the clock's now: it stepped back since
        raise refused(
            f"the reference price for {symbol} is stamped {-age // NS_PER_MS} ms ahead of the clock: "
            "the clock stepped back, so its age is unknown",
            "STALE_REFERENCE",
        )
    ref_price = ref.price
    is_limit = order_type == _LIMIT
    check_price = price if is_limit else ref_price
    notional = mul(check_price, qty)
    max_notional = rules.max_notional
    if max_notional and notional > max_notional:
        raise refused(
            f"notional {format_fixed(notional)} exceeds the maximum order notional {format_fixed(max_notional)}",
            "MAX_ORDER_NOTIONAL",
        )
    if is_limit:
        collar = rules.collar_bps
        if collar and abs(price - ref_price) > bps_of(ref_price, collar):
            raise refused(
                f"limit price {format_fixed(price)} is outside the {collar} bps collar around "
                f"the last trade {format_fixed(ref_price)}",
                "PRICE_COLLAR",
            )
    if limits.luld_band_bps:
        tier1, mid = limits.luld_band_bps, limits.luld_low_price_band_bps
        if day is not None:
            low, high = market.luld_bands(symbol, ref.mean, now_ns, day=day, tier1_bps=tier1, mid_bps=mid)
        else:
            low, high = price_bands(ref.mean, tier=1, doubled=False, tick=1, tier1_bps=tier1, mid_bps=mid)
        if (is_buy and check_price > high) or (not is_buy and check_price < low):
            raise refused(
                f"{'limit price' if is_limit else 'the last trade'} {format_fixed(check_price)} is outside the "
                f"limit-up/limit-down band {format_fixed(low)}-{format_fixed(high)} of {symbol}",
                "LULD_BAND",
            )
    if limits.short_sale_rule and not is_buy and add_qty > 0:
        _check_short_sale(gate, account=account, symbol=symbol, side=side, add_qty=add_qty, exposure=account_se)
    if add_qty > 0 and rules.exposure:
        check_exposures(
            rules.exposure,
            symbol=symbol,
            sector=gate.exposure.sectors.get(symbol, ""),
            is_buy=is_buy,
            add_qty=add_qty,
            add_notional=mul(check_price, add_qty),
            mark=ref_price,
        )


def _stream_lost(gate: RiskGate, now_ns: int) -> Reject:
    if gate.cut_reason:
        why = f"risk stream lost: {gate.cut_reason}"
    else:
        why = (
            f"risk stream lost: no word from the risk service for {(now_ns - gate.last_heard_ns) // NS_PER_MS} ms "
            f"(bound {gate.limits.gate_stream_timeout_ms} ms)"
        )
    return unavailable(f"{why}; new orders are refused until it is back", "RISK_STREAM_LOST")


def _check_short_sale(gate: RiskGate, *, account: str, symbol: str, side: Side, add_qty: int, exposure) -> None:
    """Reg SHO: a sale beyond the long position (less open sales) is a short sale, must say so, and needs a
    locate unless the symbol is easy to borrow."""
    position = exposure.position if exposure is not None else 0
    after = position - (exposure.open_sell if exposure is not None else 0) - add_qty
    if after >= 0:
        return
    if side != Side.SELL_SHORT:
        raise refused(
            f"a sale of {format_fixed(add_qty)} {symbol} beyond the long position of {format_fixed(position)} "
            "(less open sales) must be marked SELL_SHORT",
            "SHORT_SALE_MARKING",
        )
    limits = gate.limits
    if symbol not in limits.easy_to_borrow:
        located = limits.locates.get((account, symbol), 0)
        if -after > located:
            raise refused(
                f"short sale needs a locate: {format_fixed(-after)} {symbol} short with open sales, "
                f"{format_fixed(located)} located for {account}",
                "SHORT_LOCATE_REQUIRED",
            )
