"""The pre-trade risk gate: a library inside routing, so checking an order costs no network hop.

Limits and trading states arrive from the risk service; reference prices from market data. Every check
raises a RequestError with its own reject code, and nothing is recorded for a refused order except the
throttle's count, which must count attempts to be a throttle at all.
"""

from __future__ import annotations

from collections import deque

from tradingdesk.core.enums import OrderType, Side, TradingState
from tradingdesk.core.fixed import bps_of, format_fixed, mul
from tradingdesk.oms.errors import RequestError, exhausted, precondition
from tradingdesk.risk.limits import DESK_SCOPE, Limits, ScopeKey, StateEntry

SECOND_NS = 1_000_000_000


class Reference:
    __slots__ = ("price", "ts_ns")

    def __init__(self, price: int, ts_ns: int) -> None:
        self.price = price
        self.ts_ns = ts_ns


class RiskGate:
    def __init__(self, limits: Limits, desk_state: TradingState = TradingState.ACTIVE) -> None:
        self.limits = limits
        self.states: dict[ScopeKey, StateEntry] = {DESK_SCOPE: StateEntry(desk_state)}
        self.references: dict[str, Reference] = {}
        self._submits: dict[str, deque[int]] = {}

    # -- inputs -------------------------------------------------------------------------------------------
    def set_limits(self, limits: Limits) -> None:
        self.limits = limits

    def set_state(self, scope: ScopeKey, entry: StateEntry) -> None:
        self.states[scope] = entry

    def replace_states(self, states: dict[ScopeKey, StateEntry]) -> None:
        self.states = {DESK_SCOPE: StateEntry(TradingState.ACTIVE), **states}

    def on_trade(self, symbol: str, price: int, ts_ns: int) -> None:
        ref = self.references.get(symbol)
        if ref is None:
            self.references[symbol] = Reference(price, ts_ns)
        else:
            ref.price = price
            ref.ts_ns = ts_ns

    def on_quote_heartbeat(self, symbol: str, ts_ns: int) -> None:
        """A quote proves the feed is alive, so the last trade stays a fresh reference."""
        ref = self.references.get(symbol)
        if ref is not None:
            ref.ts_ns = ts_ns

    # -- checks ---------------------------------------------------------------------------------------------
    def effective_state(self, account: str, strategy: str) -> tuple[TradingState, StateEntry]:
        """The most restrictive state among desk, account and account+strategy scopes."""
        states = self.states
        worst = states[DESK_SCOPE]
        for key in ((account, ""), (account, strategy)):
            entry = states.get(key)
            if entry is not None and entry.state > worst.state:
                worst = entry
        return worst.state, worst

    def check(
        self,
        *,
        account: str,
        strategy: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        qty: int,
        price: int,
        position: int,
        now_ns: int,
    ) -> None:
        """Raise RequestError if the order must not go out. ``position`` is the account's signed position."""
        limits = self.limits
        state, entry = self.effective_state(account, strategy)
        if state == TradingState.HALTED:
            why = f" ({entry.reason}, by {entry.actor})" if entry.reason else ""
            raise precondition(f"trading is halted{why}", "TRADING_HALTED")
        if state == TradingState.REDUCING and not _reduces(side, qty, position):
            raise precondition(
                f"trading is reduce-only: the order would not reduce the {symbol} position of {format_fixed(position)}",
                "REDUCE_ONLY",
            )
        if symbol in limits.restricted:
            raise precondition(f"{symbol} is on the restricted list", "RESTRICTED_SYMBOL")
        if qty > limits.max_order_qty:
            raise precondition(
                f"quantity {format_fixed(qty)} exceeds the maximum order quantity {format_fixed(limits.max_order_qty)}",
                "MAX_ORDER_QTY",
            )
        ref = self.references.get(symbol)
        if ref is None:
            raise precondition(f"no reference price for {symbol} yet: market data has not arrived", "NO_REFERENCE")
        age = now_ns - ref.ts_ns
        if age > limits.reference_max_age_ns:
            raise precondition(
                f"the reference price for {symbol} is stale ({age // 1_000_000} ms old)", "STALE_REFERENCE"
            )
        check_price = price if order_type == OrderType.LIMIT else ref.price
        notional = mul(check_price, qty)
        if notional > limits.max_order_notional:
            raise precondition(
                f"notional {format_fixed(notional)} exceeds the maximum order notional "
                f"{format_fixed(limits.max_order_notional)}",
                "MAX_ORDER_NOTIONAL",
            )
        if order_type == OrderType.LIMIT:
            band = bps_of(ref.price, limits.price_collar_bps)
            if abs(price - ref.price) > band:
                raise precondition(
                    f"limit price {format_fixed(price)} is outside the {limits.price_collar_bps} bps collar around "
                    f"the last trade {format_fixed(ref.price)}",
                    "PRICE_COLLAR",
                )
        self._throttle(account, now_ns, limits.max_submits_per_second)

    def _throttle(self, account: str, now_ns: int, per_second: int) -> None:
        window = self._submits.get(account)
        if window is None:
            window = self._submits[account] = deque()
        horizon = now_ns - SECOND_NS
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) >= per_second:
            raise exhausted(f"account {account} exceeded {per_second} submits per second", "SUBMIT_THROTTLE")
        window.append(now_ns)


def _reduces(side: Side, qty: int, position: int) -> bool:
    if side == Side.BUY:
        return position < 0 and qty <= -position
    return position > 0 and qty <= position


__all__ = ["RequestError", "RiskGate"]
