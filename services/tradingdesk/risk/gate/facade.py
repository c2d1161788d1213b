"""The pre-trade risk gate: a library inside routing, so checking an order costs no network hop.

Limits, trading states, latches and the kill switch arrive from the risk service over a stream; reference
prices from market data; open orders and fills as the order engine's events (``on_order_event``), so the gate
knows the desk's exposure per desk, account and account+strategy without asking anyone.

Reading order: this facade, then ``checks.py`` (what an order must pass), ``scopes.py`` (which limits apply
to whom), ``exposure.py`` (the books), ``flow.py`` (throttles, ratios, duplicates, repeated executions) and
``references.py`` (last trades and LULD bands). A refused order raises ``Reject`` and nothing is recorded for
it; an accepted one is counted by the throttles, the order-to-trade ratio and the duplicate detector.
"""

from __future__ import annotations

from collections.abc import Mapping

from tradingdesk.core.clock import NS_PER_MS, Clock, WallClock
from tradingdesk.core.enums import OrderType, Side, TradingState
from tradingdesk.core.events import OrderEvent, RiskLatched
from tradingdesk.markets.breakers import BreakerTrip
from tradingdesk.markets.status import SymbolStatus
from tradingdesk.risk.gate.checks import check_order
from tradingdesk.risk.gate.exposure import ExposureBook, ExposureBooks
from tradingdesk.risk.gate.flow import (
    CANCELS,
    MODIFIES,
    SUBMITS,
    DuplicateDetector,
    MessageFlow,
    RepeatedExecutions,
    check_order_to_trade,
    throttle,
)
from tradingdesk.risk.gate.market import MarketConduct
from tradingdesk.risk.gate.references import UNKNOWN_AGE_NS, Reference
from tradingdesk.risk.gate.scopes import ScopeRules, most_restrictive, resolve, tightest
from tradingdesk.risk.gate.self_match import SelfMatchBook, SelfMatchPolicy
from tradingdesk.risk.limits import Limits, StateEntry
from tradingdesk.risk.scope import DESK_SCOPE, ScopeKey

_LIMIT = OrderType.LIMIT
CUT_OFF_NS = -(1 << 62)  # last_heard_ns of a gate the risk service cut off: the stream guard trips at once


class RiskGate:
    def __init__(
        self,
        limits: Limits,
        desk_state: TradingState = TradingState.ACTIVE,
        *,
        self_match: SelfMatchPolicy | None = None,
        stream_clock: Clock | None = None,
    ) -> None:
        self.limits = limits
        self.states: dict[ScopeKey, StateEntry] = {DESK_SCOPE: StateEntry(desk_state)}
        self.references: dict[str, Reference] = {}
        self.latest_check_ns = 0
        """The latest clock time an order was checked at: a check whose clock is earlier means the clock stepped
        back (``clock_stepped_back``)."""
        self.exposure = ExposureBooks()
        self.flows: dict[ScopeKey, MessageFlow] = {}
        self.latches: dict[ScopeKey, tuple[int, str]] = {}  # scope -> (tripped at, why)
        self.duplicates = DuplicateDetector()
        self.repeats = RepeatedExecutions()
        self._rules: dict[str, dict[str, ScopeRules]] = {}  # account -> strategy -> rules
        self._states_version = 0
        self.stream_guarded = False
        self.stream_clock = stream_clock or WallClock()
        """The clock of the stream guard: real time, even when orders follow a replay clock (heartbeats do)."""
        self.last_heard_ns = 0
        self.cut_reason = ""
        self.market: MarketConduct | None = None
        """The market's rules (sessions, halts, the breaker, LULD doubling); None checks none of them."""
        self.self_match = SelfMatchBook(self_match) if self_match is not None else None
        """The desk's working orders by self-match group (None: the desk does not prevent self-matches)."""
        self.set_limits(limits)

    @property
    def books(self) -> dict[ScopeKey, ExposureBook]:
        return self.exposure.books

    # -- inputs ---------------------------------------------------------------------------------------------------
    def bind_instruments(self, sectors: Mapping[str, str]) -> None:
        """Sectors of the desk's symbols, for sector concentration."""
        self.exposure.sectors = dict(sectors)

    def set_limits(self, limits: Limits) -> None:
        self.limits = limits
        self.stream_timeout_ns = limits.gate_stream_timeout_ms * NS_PER_MS
        self.reference_max_age_ns = limits.reference_max_age_ms * NS_PER_MS
        self._rules = {}
        self.duplicates.longest_window_ns = (
            max([limits.duplicate_window_ms, *(s.duplicate_window_ms for s in limits.scopes.values())]) * NS_PER_MS
        )

    def set_state(self, scope: ScopeKey, entry: StateEntry) -> None:
        self.states[scope] = entry
        self._states_version += 1

    def replace_states(self, states: dict[ScopeKey, StateEntry]) -> None:
        self.states = {DESK_SCOPE: StateEntry(TradingState.ACTIVE), **states}
        self._states_version += 1

    def arm_stream_guard(self, now_ns: int) -> None:
        """From now on the gate fails closed when the risk stream is silent for ``gate_stream_timeout_ms``.
        Arming counts as hearing, so a routing service that starts gets one timeout to connect. Times here are
        the ``stream_clock``'s."""
        if not self.stream_guarded:
            self.stream_guarded = True
            self.last_heard_ns = now_ns

    def heard(self, now_ns: int) -> None:
        """The risk stream delivered something (an update or a heartbeat)."""
        self.last_heard_ns = now_ns
        self.cut_reason = ""

    def cut_off(self, reason: str) -> None:
        """The risk service ended this gate's stream because it did not acknowledge a change in time: refuse new
        orders now, not a stream timeout later, until the stream is back (``heard``). Costs the order path
        nothing: it moves the time last heard so far back that the stream guard's own check trips."""
        self.stream_guarded = True
        self.last_heard_ns = CUT_OFF_NS
        self.cut_reason = reason

    def forget_rules(self) -> None:
        """Drop the scope rules resolved so far (they hold the exposure books): after the books were restored."""
        self._rules = {}

    def latch(self, scope: ScopeKey, tripped_ns: int, why: str) -> None:
        current = self.latches.get(scope)
        if current is None or current[0] < tripped_ns:
            self.latches[scope] = (tripped_ns, why)

    def release_latch(self, scope: ScopeKey, released_ns: int) -> bool:
        """A person re-enabled the scope; a latch tripped after the release stays."""
        current = self.latches.get(scope)
        if current is not None and current[0] <= released_ns:
            del self.latches[scope]
            return True
        return False

    def on_trade(self, symbol: str, price: int, ts_ns: int, *, data_ns: int = 0) -> BreakerTrip | None:
        """A trade: the symbol's reference and LULD mean move; a trade of the index instrument may trip the
        market-wide circuit breaker (returned when it reaches a level for the first time today). ``ts_ns``: when it
        happened on the desk's timeline, what the reference ages from; ``data_ns``: the feeds service's stamp of it
        as received (0: none), kept as the reference's evidence."""
        ref = self.references.get(symbol)
        if ref is None:
            ref = self.references[symbol] = Reference(price, ts_ns)
        limits = self.limits
        ref.record_trade(price=price, ts_ns=ts_ns, window_s=limits.luld_window_s)
        ref.data_ns = data_ns
        self.exposure.mark(symbol, price)
        market = self.market
        if market is not None and symbol == market.index_symbol:
            return market.on_index_trade(price, ts_ns)
        return None

    def on_symbol_status(self, symbol: str, status: SymbolStatus, reason: str) -> None:
        """A symbol's trading status from market data (halted, paused, trading again)."""
        if self.market is not None:
            self.market.on_status(symbol, status, reason)

    def bind_market(self, market: MarketConduct) -> None:
        """The market's rules from now on: sessions, halts from market data, the breaker, doubled bands."""
        self.market = market

    def clock_stepped_back(self, now_ns: int) -> None:
        """The clock reads earlier than an order check already did (a skewed host's clock was stepped back): how
        old each reference is can no longer be told, and trusting the stamps would make old data look fresh. Every
        reference is marked of unknown age (refused as stale) until its symbol's next tick, stamped on the new
        timeline; the rare step costs one pass over the references, the order path nothing."""
        for ref in self.references.values():
            ref.ts_ns = UNKNOWN_AGE_NS
        self.latest_check_ns = now_ns

    def on_quote_heartbeat(self, symbol: str, ts_ns: int, *, data_ns: int = 0) -> None:
        """A quote proves the feed is alive, so the last trade stays a fresh reference (as of ``ts_ns``, stamped
        ``data_ns`` by the feeds service: see ``on_trade``)."""
        ref = self.references.get(symbol)
        if ref is not None:
            ref.ts_ns = ts_ns
            ref.data_ns = data_ns

    # -- what the order engine reports ----------------------------------------------------------------------------
    def on_order_event(self, event: object) -> None:
        """The fan-out's handler: the exposure books follow the orders; a journaled latch holds again."""
        if isinstance(event, OrderEvent):
            self.exposure.on_order_event(event)
            if self.self_match is not None:
                self.self_match.on_order_event(event)
            if not event.is_open:
                self.repeats.forget(event.order_id)
        elif type(event) is RiskLatched:
            self.latch((event.account, event.strategy), event.tripped_ns, event.reason)

    def count_execution(
        self, *, order_id: str, account: str, strategy: str, symbol: str, now_ns: int
    ) -> tuple[ScopeKey, str] | None:
        """A live fill: counted for the order-to-trade ratio and the repeated-execution throttle. Returns
        ``(scope, why)`` when the throttle trips, so the engine journals the latch; a replayed journal is not
        counted again, since it holds the latches that tripped."""
        for flow_key in ((account, ""), (account, strategy)) if strategy else ((account, ""),):
            flow = self.flows.get(flow_key)
            if flow is not None:
                flow.trades += 1
        limits = self.limits
        account_set = limits.scopes.get((account, ""))
        strategy_set = limits.scopes.get((account, strategy)) if strategy else None
        scope = (account, strategy)
        why = self.repeats.count(
            order_id=order_id,
            account=account,
            strategy=strategy,
            symbol=symbol,
            limit=tightest(
                limits.max_repeated_executions,
                account_set.max_repeated_executions if account_set else 0,
                strategy_set.max_repeated_executions if strategy_set else 0,
            ),
            window_ms=limits.repeated_execution_window_ms,
            now_ns=now_ns,
            latched=scope in self.latches,
        )
        if why is None:
            return None
        self.latches[scope] = (now_ns, why)
        return scope, why

    # -- checks ---------------------------------------------------------------------------------------------------
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
        now_ns: int,
    ) -> None:
        """Raise ``Reject`` if the new order must not go out; count it if it may."""
        rules = self.rules_for(account, strategy)
        check_order(
            self,
            rules,
            account=account,
            strategy=strategy,
            symbol=symbol,
            side=side,
            order_type=order_type,
            qty=qty,
            price=price,
            add_qty=qty,
            now_ns=now_ns,
        )
        duplicate_key = None
        if rules.duplicate_window_ns:
            duplicate_key = (account, strategy, symbol, side, order_type, qty, price)
            self.duplicates.check(duplicate_key, window_ns=rules.duplicate_window_ns, now_ns=now_ns)
        self._count_message(rules, now_ns, SUBMITS, "SUBMIT_THROTTLE")
        if duplicate_key is not None:
            self.duplicates.remember(duplicate_key, now_ns)

    def check_replace(
        self,
        *,
        account: str,
        strategy: str,
        symbol: str,
        side: Side,
        qty: int,
        price: int,
        old_qty: int,
        now_ns: int,
    ) -> None:
        """A replace of a working limit order: ``qty``/``price`` are the new open quantity and price, ``old_qty``
        the quantity open now. Exposure limits see only what the replace adds."""
        rules = self.rules_for(account, strategy)
        check_order(
            self,
            rules,
            account=account,
            strategy=strategy,
            symbol=symbol,
            side=side,
            order_type=_LIMIT,
            qty=qty,
            price=price,
            add_qty=qty - old_qty,
            now_ns=now_ns,
        )
        self._count_message(rules, now_ns, MODIFIES, "MODIFY_THROTTLE")

    def check_cancel(self, *, account: str, strategy: str, now_ns: int) -> None:
        """A client's cancel: only the cancel throttle applies (halts, the ratio and a lost risk stream never
        stop a cancel; the kill switch's own cancels do not come here)."""
        throttle(self.rules_for(account, strategy).flows, now_ns, kind=CANCELS, code="CANCEL_THROTTLE")

    def _count_message(self, rules: ScopeRules, now_ns: int, kind: int, code: str) -> None:
        """The order-to-trade ratio, then the submit (or modify) throttle, which counts the message."""
        limits = self.limits
        for rule in rules.ratio_flows:
            check_order_to_trade(
                rule, now_ns, window_s=limits.order_to_trade_window_s, min_messages=limits.order_to_trade_min_messages
            )
        throttle(rules.flows, now_ns, kind=kind, code=code)

    # -- resolution and views -------------------------------------------------------------------------------------
    def rules_for(self, account: str, strategy: str) -> ScopeRules:
        """The resolved rules of an (account, strategy), with its trading state current."""
        by_strategy = self._rules.get(account)
        rules = by_strategy.get(strategy) if by_strategy is not None else None
        if rules is None:
            rules = resolve(self.limits, account=account, strategy=strategy, books=self.exposure, flows=self.flows)
            self._rules.setdefault(account, {})[strategy] = rules
        if rules.state_version != self._states_version:
            rules.state_entry = most_restrictive(self.states, rules, strategy)
            rules.state_version = self._states_version
        return rules

    def effective_state(self, account: str, strategy: str) -> tuple[TradingState, StateEntry]:
        """The most restrictive state among desk, account and account+strategy scopes."""
        entry = self.rules_for(account, strategy).state_entry
        return entry.state, entry

    def open_order_ids(self) -> list[str]:
        return self.exposure.open_order_ids()

    def position(self, scope: ScopeKey, symbol: str) -> int:
        return self.exposure.position(scope, symbol)

    def positions_of(self, scope: ScopeKey) -> dict[str, int]:
        return self.exposure.positions_of(scope)
