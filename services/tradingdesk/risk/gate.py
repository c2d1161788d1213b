"""The pre-trade risk gate: a library inside routing, so checking an order costs no network hop.

Limits, trading states, latches and the kill switch arrive from the risk service over a stream; reference
prices from market data; open orders and fills from the order engine (``on_open``/``on_fill``/``on_close``),
so the gate knows the desk's exposure per desk, account and account+strategy without asking anyone.

Every check raises a Reject with its own reject code (docs/risk.md lists them) and nothing is recorded
for a refused order. An accepted order is counted by the throttles, the order-to-trade ratio and the duplicate
detector. The check itself does no I/O, no logging and allocates nothing unless it refuses: exposure sums are
kept incrementally as orders, fills and marks arrive, so a check is a few dozen integer operations per scope.

Scopes: a limit set at the desk applies to every order; an account's or strategy's own set can only tighten
it. Per-order limits (quantity, notional, collar) take the smallest value any scope sets. Exposure limits
(credit, position, gross, net, concentration) compare each scope's own orders and positions with that scope's
limits. Message limits (throttles, order-to-trade ratio) count per account, with the smaller of the desk's and
the account's value, and per account+strategy with the strategy's own value.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from tradingdesk.core.enums import OrderType, Side, TradingState
from tradingdesk.core.events import (
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderPending,
    OrderReplaced,
    ReplaceRejected,
    ReplaceRequested,
    RiskLatched,
)
from tradingdesk.core.fixed import SCALE, bps_of, format_fixed, mul
from tradingdesk.core.reject import Reject, refused, throttled, unavailable
from tradingdesk.risk.limits import DESK_SCOPE, Limits, LimitSet, ScopeKey, StateEntry

SECOND_NS = 1_000_000_000
THREE_DOLLARS = 3 * SCALE
_HALTED = TradingState.HALTED
_REDUCING = TradingState.REDUCING
_ACTIVE = TradingState.ACTIVE
_BUY = Side.BUY
_LIMIT = OrderType.LIMIT


class Reference:
    """Last trade of a symbol (the collar's reference) and its limit-up/limit-down band."""

    __slots__ = ("luld_hi", "luld_lo", "luld_sum", "luld_trades", "price", "ts_ns")

    def __init__(self, price: int, ts_ns: int) -> None:
        self.price = price
        self.ts_ns = ts_ns
        self.luld_trades: deque[tuple[int, int]] = deque()
        self.luld_sum = 0
        self.luld_lo = 0
        self.luld_hi = 0


class SymExp:
    """One scope's exposure in one symbol. ``term`` (worst-case absolute quantity x mark) and the net legs are
    cached, and every change is applied to the book's sums as a difference, so no check ever sums a book."""

    __slots__ = ("book", "mark", "net_l", "net_s", "ob", "os", "pos", "posval", "sector", "term")

    def __init__(self, book: ExposureBook, sector: str, mark: int) -> None:
        self.book = book
        self.sector = sector
        self.mark = mark
        self.pos = 0  # signed position
        self.ob = 0  # open buy quantity
        self.os = 0  # open sell quantity
        self.term = 0  # max(|pos + ob|, |pos - os|) x mark: the gross exposure term
        self.net_l = 0  # (pos + ob) x mark: net exposure if every buy fills
        self.net_s = 0  # (pos - os) x mark: net exposure if every sell fills
        self.posval = 0  # |pos| x mark

    def refresh(self) -> None:
        # Floor division, inlined: these are running sums of exact differences, so the rounding only has to be
        # the same every time (a unit is 1e-9), not truncation toward zero like ``mul``.
        mark = self.mark
        pos = self.pos
        long_q = pos + self.ob
        short_q = pos - self.os
        net_l = mark * long_q // SCALE
        net_s = mark * short_q // SCALE
        worst = long_q if long_q >= -short_q else -short_q
        term = mark * (worst if worst >= 0 else -worst) // SCALE
        posval = mark * (pos if pos >= 0 else -pos) // SCALE
        book = self.book
        d = term - self.term
        if d:
            book.gross += d
            book.sectors[self.sector] = book.sectors.get(self.sector, 0) + d
            self.term = term
        book.net_long += net_l - self.net_l
        book.net_short += net_s - self.net_s
        book.pos_value += posval - self.posval
        self.net_l = net_l
        self.net_s = net_s
        self.posval = posval


class ExposureBook:
    """Orders and positions of one scope (desk, account or account+strategy)."""

    __slots__ = ("gross", "net_long", "net_short", "open_notional", "pos_value", "scope", "sectors", "syms")

    def __init__(self, scope: ScopeKey) -> None:
        self.scope = scope
        self.syms: dict[str, SymExp] = {}
        self.sectors: dict[str, int] = {}
        self.open_notional = 0
        self.pos_value = 0
        self.gross = 0
        self.net_long = 0
        self.net_short = 0


class Flow:
    """Message counters of an account or an account+strategy: throttles and the order-to-trade ratio."""

    __slots__ = ("cancels", "messages", "modifies", "submits", "trades", "window_start")

    def __init__(self) -> None:
        self.submits: deque[int] = deque()
        self.modifies: deque[int] = deque()
        self.cancels: deque[int] = deque()
        self.window_start = 0
        self.messages = 0
        self.trades = 0


class Ctx:
    """What the gate resolved for one (account, strategy): effective per-order caps, the books and counters it
    checks, and the most restrictive trading state. Rebuilt when limits change; states are re-read when their
    version moves."""

    __slots__ = (
        "acct_book",
        "acct_flow",
        "acct_key",
        "books",
        "collar_bps",
        "desk_book",
        "dup_window",
        "exposure",
        "flow_limits",
        "max_notional",
        "max_qty",
        "repeat_limit",
        "restricted",
        "state_entry",
        "state_version",
        "strat_book",
        "strat_flow",
        "strat_key",
        "strat_limits",
    )


def _tightest(*values: int) -> int:
    """The smallest non-zero value (0 when none is set)."""
    set_values = [v for v in values if v]
    return min(set_values) if set_values else 0


class RiskGate:
    def __init__(self, limits: Limits, desk_state: TradingState = TradingState.ACTIVE) -> None:
        self.limits = limits
        self.states: dict[ScopeKey, StateEntry] = {DESK_SCOPE: StateEntry(desk_state)}
        self.references: dict[str, Reference] = {}
        self.sectors: Mapping[str, str] = {}
        self.books: dict[ScopeKey, ExposureBook] = {}
        self.flows: dict[ScopeKey, Flow] = {}
        self.latches: dict[ScopeKey, tuple[int, str]] = {}  # scope -> (tripped at, why)
        self._open: dict[str, list] = {}  # order_id -> [books' SymExps, is_buy, open qty, price]
        self._by_symbol: dict[str, list[SymExp]] = {}
        self._exp_cache: dict[str, dict[tuple[str, str], tuple[SymExp, ...]]] = {}
        self._ctx: dict[str, dict[str, Ctx]] = {}
        self._states_version = 0
        self._dups: dict[tuple, int] = {}
        self._dup_order: deque[tuple[int, tuple]] = deque()
        self._repeats: dict[tuple[str, str, str], deque[int]] = {}
        self._filled_orders: set[str] = set()
        self._replacements: dict[str, str] = {}  # order_id -> its replacement's id while a replace is pending
        self._guard = False
        self._last_heard_ns = 0
        self.set_limits(limits)

    # -- inputs -------------------------------------------------------------------------------------------
    def bind_instruments(self, sectors: Mapping[str, str]) -> None:
        """Sectors of the desk's symbols, for sector concentration."""
        self.sectors = dict(sectors)

    def set_limits(self, limits: Limits) -> None:
        self.limits = limits
        self._ctx = {}
        self._longest_dup_window = max(
            [limits.duplicate_window_ns, *(s.duplicate_window_ns for s in limits.scopes.values())]
        )

    def set_state(self, scope: ScopeKey, entry: StateEntry) -> None:
        self.states[scope] = entry
        self._states_version += 1

    def replace_states(self, states: dict[ScopeKey, StateEntry]) -> None:
        self.states = {DESK_SCOPE: StateEntry(TradingState.ACTIVE), **states}
        self._states_version += 1

    def arm_stream_guard(self, now_ns: int) -> None:
        """From now on the gate fails closed when the risk stream is silent for ``limits.stream_timeout_ns``.
        Arming counts as hearing, so a routing service that starts gets one timeout to connect."""
        if not self._guard:
            self._guard = True
            self._last_heard_ns = now_ns

    def heard(self, now_ns: int) -> None:
        """The risk stream delivered something (an update or a heartbeat)."""
        self._last_heard_ns = now_ns

    def stream_silent_ns(self, now_ns: int) -> int:
        return now_ns - self._last_heard_ns if self._guard else 0

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

    def on_trade(self, symbol: str, price: int, ts_ns: int) -> None:
        ref = self.references.get(symbol)
        if ref is None:
            ref = self.references[symbol] = Reference(price, ts_ns)
        else:
            ref.price = price
            ref.ts_ns = ts_ns
        trades = ref.luld_trades
        trades.append((ts_ns, price))
        ref.luld_sum += price
        horizon = ts_ns - self.limits.luld_window_ns
        while len(trades) > 1 and trades[0][0] <= horizon:
            ref.luld_sum -= trades.popleft()[1]
        mean = ref.luld_sum // len(trades)
        limits = self.limits
        band = bps_of(mean, limits.luld_band_bps if mean > THREE_DOLLARS else limits.luld_low_price_band_bps)
        ref.luld_lo = mean - band
        ref.luld_hi = mean + band
        exps = self._by_symbol.get(symbol)
        if exps:
            for se in exps:
                if se.mark != price:
                    se.mark = price
                    se.refresh()

    def on_quote_heartbeat(self, symbol: str, ts_ns: int) -> None:
        """A quote proves the feed is alive, so the last trade stays a fresh reference."""
        ref = self.references.get(symbol)
        if ref is not None:
            ref.ts_ns = ts_ns

    # -- what the order engine reports ------------------------------------------------------------------------
    def on_open(
        self, order_id: str, account: str, strategy: str, symbol: str, side: Side, qty: int, price: int
    ) -> None:
        """An order is working (or a replacement pending) with ``qty`` open at ``price`` (0: market)."""
        if order_id in self._open:
            self.on_close(order_id)
        if not price:
            ref = self.references.get(symbol)
            price = ref.price if ref is not None else 0
        by_strategy = self._exp_cache.get(account)
        exps = by_strategy.get((strategy, symbol)) if by_strategy is not None else None
        if exps is None:
            exps = self._exps(account, strategy, symbol, price)
        is_buy = side == _BUY
        notional = mul(price, qty)
        for se in exps:
            if is_buy:
                se.ob += qty
            else:
                se.os += qty
            se.book.open_notional += notional
            se.refresh()
        self._open[order_id] = [exps, is_buy, qty, price]

    def on_fill(
        self, order_id: str, account: str, strategy: str, symbol: str, side: Side, qty: int, price: int
    ) -> None:
        """A fill moves quantity from open to position."""
        entry = self._open.get(order_id)
        signed = qty if side == _BUY else -qty
        if entry is not None:
            exps, is_buy, open_qty, oprice = entry
            taken = min(qty, open_qty)
            entry[2] = open_qty - taken
            notional = mul(oprice, taken)
        else:
            exps = self._exps(account, strategy, symbol, price)
            is_buy = side == _BUY
            taken = notional = 0
        for se in exps:
            if taken:
                if is_buy:
                    se.ob -= taken
                else:
                    se.os -= taken
                se.book.open_notional -= notional
            se.pos += signed
            if not se.mark:
                se.mark = price
            se.refresh()

    def count_execution(
        self, *, order_id: str, account: str, strategy: str, symbol: str, now_ns: int
    ) -> tuple[ScopeKey, str] | None:
        """A live fill: counted for the order-to-trade ratio and the repeated-execution throttle (an order counts
        once). Returns ``(scope, why)`` when the throttle trips, so the engine journals the latch; a replayed
        journal is not counted again, since it holds the latches that tripped."""
        for flow_key in ((account, ""), (account, strategy)) if strategy else ((account, ""),):
            flow = self.flows.get(flow_key)
            if flow is not None:
                flow.trades += 1
        if order_id in self._filled_orders:
            return None
        self._filled_orders.add(order_id)
        return self._count_repeat(account, strategy, symbol, now_ns)

    def on_order_event(self, event: object) -> None:
        """The fan-out's handler: open orders, fills, replaces and latches as the engine emits (or replays) them."""
        kind = type(event)
        if kind is RiskLatched:
            self.latch((event.account, event.strategy), event.tripped_ns, event.reason)
            return
        if not isinstance(event, OrderEvent):
            return
        t = event.terms
        order_id = t.order_id
        if kind is OrderPending:
            if event.is_open:
                self.on_open(order_id, t.account, t.strategy, t.symbol, t.side, t.qty - event.cum_qty, t.price)
            return
        if kind is OrderFilled:
            self.on_fill(order_id, t.account, t.strategy, t.symbol, t.side, event.last_qty, event.last_price)
        elif kind is ReplaceRequested:
            # Until the venue answers, both the working order and its replacement count against exposure.
            self._replacements[order_id] = event.new_order_id
            self.on_open(
                event.new_order_id,
                t.account,
                t.strategy,
                t.symbol,
                t.side,
                event.new_qty - event.cum_qty,
                event.new_price,
            )
            return
        elif kind is OrderReplaced:
            self._replacements.pop(t.replaces_order_id, None)
            self.on_close(t.replaces_order_id)
            if event.is_open:
                self.on_open(order_id, t.account, t.strategy, t.symbol, t.side, t.qty - event.cum_qty, t.price)
            else:
                self.on_close(order_id)
            return
        elif kind is ReplaceRejected or kind is OrderCanceled:
            pending = self._replacements.pop(order_id, None)
            if pending is not None:
                self.on_close(pending)
        if not event.is_open:
            self.on_close(order_id)

    def positions_of(self, scope: ScopeKey) -> dict[str, int]:
        """The scope's position in each symbol it has traded."""
        book = self.books.get(scope)
        return {symbol: se.pos for symbol, se in book.syms.items()} if book is not None else {}

    def on_close(self, order_id: str) -> None:
        """The order no longer works (filled, canceled, rejected, expired, replaced)."""
        entry = self._open.pop(order_id, None)
        self._filled_orders.discard(order_id)
        if entry is None:
            return
        exps, is_buy, open_qty, price = entry
        if not open_qty:
            return
        notional = mul(price, open_qty)
        for se in exps:
            if is_buy:
                se.ob -= open_qty
            else:
                se.os -= open_qty
            se.book.open_notional -= notional
            se.refresh()

    def _exps(self, account: str, strategy: str, symbol: str, mark: int) -> tuple[SymExp, ...]:
        out = []
        for key in (DESK_SCOPE, (account, ""), (account, strategy)) if strategy else (DESK_SCOPE, (account, "")):
            book = self.books.get(key)
            if book is None:
                book = self.books[key] = ExposureBook(key)
            se = book.syms.get(symbol)
            if se is None:
                ref = self.references.get(symbol)
                se = book.syms[symbol] = SymExp(book, self.sectors.get(symbol, ""), ref.price if ref else mark)
                self._by_symbol.setdefault(symbol, []).append(se)
            out.append(se)
        exps = tuple(out)
        self._exp_cache.setdefault(account, {})[(strategy, symbol)] = exps
        return exps

    def _count_repeat(self, account: str, strategy: str, symbol: str, now_ns: int) -> tuple[ScopeKey, str] | None:
        limits = self.limits
        acct = limits.scopes.get((account, ""))
        strat = limits.scopes.get((account, strategy)) if strategy else None
        limit = _tightest(
            limits.max_repeated_executions,
            acct.max_repeated_executions if acct else 0,
            strat.max_repeated_executions if strat else 0,
        )
        if not limit:
            return None
        key = (account, strategy, symbol)
        window = self._repeats.get(key)
        if window is None:
            window = self._repeats[key] = deque()
        horizon = now_ns - limits.repeated_execution_window_ns
        while window and window[0] <= horizon:
            window.popleft()
        window.append(now_ns)
        scope = (account, strategy)
        if len(window) > limit and scope not in self.latches:
            why = (
                f"{len(window)} orders of {account}/{strategy or '-'} filled in {symbol} within "
                f"{limits.repeated_execution_window_ns // 1_000_000} ms (limit {limit})"
            )
            self.latches[scope] = (now_ns, why)
            window.clear()
            return scope, why
        return None

    # -- resolution -------------------------------------------------------------------------------------------
    def _resolve(self, account: str, strategy: str) -> Ctx:
        limits = self.limits
        acct_key = (account, "")
        strat_key = (account, strategy)
        acct = limits.scopes.get(acct_key)
        strat = limits.scopes.get(strat_key) if strategy else None
        sets = [s for s in (limits, acct, strat) if s is not None]
        ctx = Ctx()
        ctx.acct_key = acct_key
        ctx.strat_key = strat_key
        ctx.max_qty = _tightest(*(s.max_order_qty for s in sets))
        ctx.max_notional = _tightest(*(s.max_order_notional for s in sets))
        ctx.collar_bps = _tightest(*(s.price_collar_bps for s in sets))
        ctx.repeat_limit = _tightest(*(s.max_repeated_executions for s in sets))
        ctx.dup_window = max(s.duplicate_window_ns for s in sets)
        ctx.restricted = (
            limits.restricted.union(*(s.restricted for s in sets[1:])) if len(sets) > 1 else limits.restricted
        )
        for key in (DESK_SCOPE, acct_key, strat_key):
            if key not in self.books:
                self.books[key] = ExposureBook(key)
        ctx.desk_book = self.books[DESK_SCOPE]
        ctx.acct_book = self.books[acct_key]
        ctx.strat_book = self.books[strat_key] if strategy else None
        ctx.exposure = tuple(
            (
                s,
                book,
                bps_of(s.max_gross_exposure, s.max_symbol_concentration_bps),
                bps_of(s.max_gross_exposure, s.max_sector_concentration_bps),
            )
            for s, book in ((limits, ctx.desk_book), (acct, ctx.acct_book), (strat, ctx.strat_book))
            if s is not None and book is not None and s.has_exposure_limits
        )
        ctx.flow_limits = LimitSet(
            max_submits_per_second=_tightest(limits.max_submits_per_second, acct.max_submits_per_second if acct else 0),
            max_modifies_per_second=_tightest(
                limits.max_modifies_per_second, acct.max_modifies_per_second if acct else 0
            ),
            max_cancels_per_second=_tightest(limits.max_cancels_per_second, acct.max_cancels_per_second if acct else 0),
            max_order_to_trade_ratio=_tightest(
                limits.max_order_to_trade_ratio, acct.max_order_to_trade_ratio if acct else 0
            ),
        )
        ctx.acct_flow = self.flows.get(acct_key) or self.flows.setdefault(acct_key, Flow())
        ctx.strat_limits = strat
        ctx.strat_flow = (self.flows.get(strat_key) or self.flows.setdefault(strat_key, Flow())) if strategy else None
        ctx.state_version = -1
        ctx.state_entry = self.states[DESK_SCOPE]
        by_strategy = self._ctx.get(account)
        if by_strategy is None:
            by_strategy = self._ctx[account] = {}
        by_strategy[strategy] = ctx
        return ctx

    def _ctx_for(self, account: str, strategy: str) -> Ctx:
        by_strategy = self._ctx.get(account)
        ctx = by_strategy.get(strategy) if by_strategy is not None else None
        if ctx is None:
            ctx = self._resolve(account, strategy)
        if ctx.state_version != self._states_version:
            states = self.states
            worst = states[DESK_SCOPE]
            for key in (ctx.acct_key, ctx.strat_key) if strategy else (ctx.acct_key,):
                entry = states.get(key)
                if entry is not None and entry.state > worst.state:
                    worst = entry
            ctx.state_entry = worst
            ctx.state_version = self._states_version
        return ctx

    def effective_state(self, account: str, strategy: str) -> tuple[TradingState, StateEntry]:
        """The most restrictive state among desk, account and account+strategy scopes."""
        entry = self._ctx_for(account, strategy).state_entry
        return entry.state, entry

    # -- checks -----------------------------------------------------------------------------------------------
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
        position: int | None = None,
    ) -> None:
        """Raise Reject if the new order must not go out; count it if it may.

        ``position`` is accepted for callers of the older signature and ignored: the gate keeps positions.
        """
        ctx = self._ctx_for(account, strategy)
        self._check(ctx, account, strategy, symbol, side, order_type, qty, price, qty, now_ns)
        dup_key = None
        dup_window = ctx.dup_window
        if dup_window:
            dup_key = (account, strategy, symbol, side, order_type, qty, price)
            seen = self._dups.get(dup_key)
            if seen is not None and now_ns - seen < dup_window:
                raise refused(
                    f"duplicate order: the same {side.name} {format_fixed(qty)} {symbol} @ "
                    f"{format_fixed(price) if price else 'market'} was sent {(now_ns - seen) // 1_000_000} ms ago "
                    f"(window {dup_window // 1_000_000} ms)",
                    "DUPLICATE_ORDER",
                )
        flow = ctx.acct_flow
        fl = ctx.flow_limits
        self._otr(flow, fl.max_order_to_trade_ratio, account, now_ns)
        strat_flow = ctx.strat_flow
        strat = ctx.strat_limits
        if strat is not None:
            self._otr(strat_flow, strat.max_order_to_trade_ratio, f"{account}/{strategy}", now_ns)
        _throttle(
            flow.submits,
            fl.max_submits_per_second,
            strat_flow.submits if strat is not None else None,
            strat.max_submits_per_second if strat is not None else 0,
            now_ns,
            account,
            strategy,
            "submits",
            "SUBMIT_THROTTLE",
        )
        # Accepted: count the message.
        flow.messages += 1
        if strat_flow is not None:
            strat_flow.messages += 1
        if dup_key is not None:
            self._dups[dup_key] = now_ns
            order = self._dup_order
            order.append((now_ns, dup_key))
            horizon = now_ns - self._longest_dup_window
            while order and order[0][0] <= horizon:
                ts, key = order.popleft()
                if self._dups.get(key) == ts:
                    del self._dups[key]

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
        ctx = self._ctx_for(account, strategy)
        self._check(ctx, account, strategy, symbol, side, _LIMIT, qty, price, qty - old_qty, now_ns)
        limits = ctx.flow_limits
        self._otr(ctx.acct_flow, limits.max_order_to_trade_ratio, account, now_ns)
        strat = ctx.strat_limits
        if strat is not None:
            self._otr(ctx.strat_flow, strat.max_order_to_trade_ratio, f"{account}/{strategy}", now_ns)
        _throttle(
            ctx.acct_flow.modifies,
            limits.max_modifies_per_second,
            ctx.strat_flow.modifies if strat is not None else None,
            strat.max_modifies_per_second if strat is not None else 0,
            now_ns,
            account,
            strategy,
            "modifies",
            "MODIFY_THROTTLE",
        )
        ctx.acct_flow.messages += 1
        if ctx.strat_flow is not None:
            ctx.strat_flow.messages += 1

    def check_cancel(self, *, account: str, strategy: str, now_ns: int) -> None:
        """A client's cancel: only the cancel throttle applies (halts, the ratio and a lost risk stream never
        stop a cancel; the kill switch's own cancels do not come here)."""
        ctx = self._ctx_for(account, strategy)
        limits = ctx.flow_limits
        strat = ctx.strat_limits
        _throttle(
            ctx.acct_flow.cancels,
            limits.max_cancels_per_second,
            ctx.strat_flow.cancels if strat is not None else None,
            strat.max_cancels_per_second if strat is not None else 0,
            now_ns,
            account,
            strategy,
            "cancels",
            "CANCEL_THROTTLE",
        )
        ctx.acct_flow.messages += 1
        if ctx.strat_flow is not None:
            ctx.strat_flow.messages += 1

    def _check(
        self,
        ctx: Ctx,
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
        """The checks new orders and replaces share; ``add_qty`` is what the order adds to open quantity."""
        limits = self.limits
        if self._guard and now_ns - self._last_heard_ns > limits.stream_timeout_ns:
            raise unavailable(
                f"risk stream lost: no word from the risk service for {(now_ns - self._last_heard_ns) // 1_000_000} "
                f"ms (bound {limits.stream_timeout_ns // 1_000_000} ms); new orders are refused until it is back",
                "RISK_STREAM_LOST",
            )
        is_buy = side == _BUY
        entry = ctx.state_entry
        state = entry.state
        acct_se = ctx.acct_book.syms.get(symbol)
        if state != _ACTIVE:
            if state == _HALTED:
                why = f" ({entry.reason}, by {entry.actor})" if entry.reason else ""
                raise refused(f"trading is halted{why}", "TRADING_HALTED")
            pos = acct_se.pos if acct_se is not None else 0
            if is_buy:
                reduces = pos < 0 and pos + (acct_se.ob if acct_se else 0) + add_qty <= 0
            else:
                reduces = pos > 0 and pos - (acct_se.os if acct_se else 0) - add_qty >= 0
            if not reduces:
                raise refused(
                    f"trading is reduce-only: the order would not reduce the {symbol} position of {format_fixed(pos)}",
                    "REDUCE_ONLY",
                )
        if self.latches:
            latch = self.latches.get(ctx.strat_key)
            if latch is not None:
                raise refused(
                    f"repeated-execution throttle is latched for {account}/{strategy or '-'}: {latch[1]}; "
                    "a person must re-enable it (ReleaseLatch)",
                    "REPEATED_EXECUTION",
                )
        if symbol in limits.halted_symbols:
            raise refused(f"{symbol} is halted: no new orders until the halt is lifted", "SYMBOL_HALTED")
        if symbol in ctx.restricted:
            raise refused(f"{symbol} is on the restricted list", "RESTRICTED_SYMBOL")
        max_qty = ctx.max_qty
        if max_qty and qty > max_qty:
            raise refused(
                f"quantity {format_fixed(qty)} exceeds the maximum order quantity {format_fixed(max_qty)}",
                "MAX_ORDER_QTY",
            )
        ref = self.references.get(symbol)
        if ref is None:
            raise refused(f"no reference price for {symbol} yet: market data has not arrived", "NO_REFERENCE")
        age = now_ns - ref.ts_ns
        if age > limits.reference_max_age_ns:
            raise refused(f"the reference price for {symbol} is stale ({age // 1_000_000} ms old)", "STALE_REFERENCE")
        ref_price = ref.price
        is_limit = order_type == _LIMIT
        check_price = price if is_limit else ref_price
        notional = mul(check_price, qty)
        max_notional = ctx.max_notional
        if max_notional and notional > max_notional:
            raise refused(
                f"notional {format_fixed(notional)} exceeds the maximum order notional {format_fixed(max_notional)}",
                "MAX_ORDER_NOTIONAL",
            )
        if is_limit:
            collar = ctx.collar_bps
            if collar and abs(price - ref_price) > bps_of(ref_price, collar):
                raise refused(
                    f"limit price {format_fixed(price)} is outside the {collar} bps collar around "
                    f"the last trade {format_fixed(ref_price)}",
                    "PRICE_COLLAR",
                )
        if limits.luld_band_bps:
            edge = check_price if is_limit else ref_price
            if (is_buy and edge > ref.luld_hi) or (not is_buy and edge < ref.luld_lo):
                raise refused(
                    f"{'limit price' if is_limit else 'the last trade'} {format_fixed(edge)} is outside the "
                    f"limit-up/limit-down band {format_fixed(ref.luld_lo)}-{format_fixed(ref.luld_hi)} of {symbol}",
                    "LULD_BAND",
                )
        if limits.short_sale_rule and not is_buy and add_qty > 0:
            pos = acct_se.pos if acct_se is not None else 0
            after = pos - (acct_se.os if acct_se is not None else 0) - add_qty
            if after < 0:
                if side != Side.SELL_SHORT:
                    raise refused(
                        f"a sale of {format_fixed(add_qty)} {symbol} beyond the long position of {format_fixed(pos)} "
                        "(less open sales) must be marked SELL_SHORT",
                        "SHORT_SALE_MARKING",
                    )
                if symbol not in limits.easy_to_borrow:
                    located = limits.locates.get((account, symbol), 0)
                    if -after > located:
                        raise refused(
                            f"short sale needs a locate: {format_fixed(-after)} {symbol} short with open sales, "
                            f"{format_fixed(located)} located for {account}",
                            "SHORT_LOCATE_REQUIRED",
                        )
        if add_qty > 0 and ctx.exposure:
            add_notional = mul(check_price, add_qty)
            sectors = self.sectors
            for ls, book, symbol_cap, sector_cap in ctx.exposure:
                _check_exposure(
                    ls, book, symbol_cap, sector_cap, sectors, symbol, is_buy, add_qty, add_notional, ref_price
                )

    def _otr(self, flow: Flow, ratio: int, who: str, now_ns: int) -> None:
        """Tumbling window: messages and trades count from the window's first message."""
        if not flow.window_start or now_ns - flow.window_start >= self.limits.order_to_trade_window_ns:
            flow.window_start = now_ns
            flow.messages = 0
            flow.trades = 0
        messages = flow.messages
        if ratio and messages >= self.limits.order_to_trade_min_messages and messages >= ratio * max(flow.trades, 1):
            raise refused(
                f"order-to-trade ratio: {who} sent {messages} messages for {flow.trades} trades in this window "
                f"(limit {ratio} per trade)",
                "ORDER_TO_TRADE_RATIO",
            )

    # -- views ------------------------------------------------------------------------------------------------
    def open_order_ids(self) -> list[str]:
        return list(self._open)

    def position(self, scope: ScopeKey, symbol: str) -> int:
        book = self.books.get(scope)
        se = book.syms.get(symbol) if book is not None else None
        return se.pos if se is not None else 0


def _check_exposure(
    ls: LimitSet,
    book: ExposureBook,
    symbol_cap: int,
    sector_cap: int,
    sectors: Mapping[str, str],
    symbol: str,
    is_buy: bool,
    add_qty: int,
    add_notional: int,
    mark: int,
) -> None:
    """One scope's exposure limits for an order adding ``add_qty`` (worst case: everything fills).

    An order that only reduces the scope's position in the symbol passes: risk-reducing orders must always be
    possible. ``symbol_cap``/``sector_cap`` are the concentration limits in money, computed once per scope."""
    se = book.syms.get(symbol)
    if se is not None:
        pos, ob, os_, term = se.pos, se.ob, se.os, se.term
    else:
        pos = ob = os_ = term = 0
    if is_buy:
        if pos < 0 and pos + ob + add_qty <= 0:
            return
        ob += add_qty
    else:
        if pos > 0 and pos - os_ - add_qty >= 0:
            return
        os_ += add_qty
    long_q = pos + ob
    short_q = pos - os_
    worst = long_q if long_q >= -short_q else -short_q
    if worst < 0:
        worst = -worst
    credit = ls.credit_limit
    if credit:
        used = book.open_notional + book.pos_value + add_notional
        if used > credit:
            raise refused(
                f"credit limit of {_who(book)}: open orders and positions would reach {format_fixed(used)}, limit "
                f"{format_fixed(credit)}",
                "CREDIT_LIMIT",
            )
    if ls.max_position_qty and worst > ls.max_position_qty:
        raise refused(
            f"position limit of {_who(book)}: {symbol} could reach {format_fixed(worst)} with open orders, limit "
            f"{format_fixed(ls.max_position_qty)}",
            "POSITION_LIMIT",
        )
    new_term = mul(mark, worst)
    gross_limit = ls.max_gross_exposure
    if gross_limit:
        gross = book.gross - term + new_term
        if gross > gross_limit:
            raise refused(
                f"gross exposure of {_who(book)} would reach {format_fixed(gross)}, limit {format_fixed(gross_limit)}",
                "GROSS_EXPOSURE",
            )
        if symbol_cap and new_term > symbol_cap:
            raise refused(
                f"concentration of {_who(book)} in {symbol} would reach {format_fixed(new_term)}, "
                f"{ls.max_symbol_concentration_bps} bps of the gross limit is {format_fixed(symbol_cap)}",
                "SYMBOL_CONCENTRATION",
            )
        if sector_cap:
            sector = sectors.get(symbol, "")
            in_sector = book.sectors.get(sector, 0) - term + new_term
            if in_sector > sector_cap:
                raise refused(
                    f"concentration of {_who(book)} in sector {sector or '(none)'} would reach "
                    f"{format_fixed(in_sector)}, {ls.max_sector_concentration_bps} bps of the gross limit is "
                    f"{format_fixed(sector_cap)}",
                    "SECTOR_CONCENTRATION",
                )
    net_limit = ls.max_net_exposure
    if net_limit:
        if is_buy:
            before = book.net_long
            net = before - (se.net_l if se is not None else 0) + mark * long_q // SCALE
        else:
            before = book.net_short
            net = before - (se.net_s if se is not None else 0) + mark * short_q // SCALE
        if abs(net) > net_limit and abs(net) > abs(before):
            raise refused(
                f"net exposure of {_who(book)} would reach {format_fixed(net)}, limit {format_fixed(net_limit)}",
                "NET_EXPOSURE",
            )


def _who(book: ExposureBook) -> str:
    return "desk" if book.scope == DESK_SCOPE else "/".join(p for p in book.scope if p)


def _over(window: deque[int] | None, per_second: int, now_ns: int) -> bool:
    if not per_second or window is None:
        return False
    horizon = now_ns - SECOND_NS
    while window and window[0] <= horizon:
        window.popleft()
    return len(window) >= per_second


def _throttle(
    acct: deque[int],
    acct_limit: int,
    strat: deque[int] | None,
    strat_limit: int,
    now_ns: int,
    account: str,
    strategy: str,
    what: str,
    code: str,
) -> None:
    """Sliding one-second windows of the account and of the account+strategy: both must have room, then both
    count the message."""
    if _over(acct, acct_limit, now_ns):
        raise throttled(f"account {account} exceeded {acct_limit} {what} per second", code)
    if _over(strat, strat_limit, now_ns):
        raise throttled(f"strategy {account}/{strategy} exceeded {strat_limit} {what} per second", code)
    if acct_limit:
        acct.append(now_ns)
    if strat_limit and strat is not None:
        strat.append(now_ns)


__all__ = ["Reject", "RiskGate"]
