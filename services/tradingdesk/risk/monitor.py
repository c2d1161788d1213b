"""Real-time risk: positions, exposure, P&L, drawdown, VaR/ES and circuit breakers, from the routing journal.

The risk service feeds this book every routing journal event (``on_event``) and every mark from market data
(``on_mark``), and calls ``evaluate`` a few times a second. ``evaluate`` returns what it found: breaches (with
the scope to halt for loss, drawdown and breakers), 80% warnings and recoveries. It does no I/O, so the
service decides what to journal and whom to tell, and tests drive it with a manual clock.

Amounts are fixed-point ints like everywhere else; only the VaR/ES statistics and the volatility used by the
position-size helper are floats.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.core.enums import OrderType, side_sign
from tradingdesk.core.events import (
    JournalEvent,
    OrderEvent,
    OrderFilled,
    OrderPending,
    OrderRejected,
    OrderReplaced,
    RiskLatched,
)
from tradingdesk.core.fixed import SCALE, format_fixed, format_pnl, mul, to_float
from tradingdesk.core.positions import Position
from tradingdesk.risk.limits import Limits
from tradingdesk.risk.scope import DESK_SCOPE, ScopeKey, scope_label, scopes_of

DAY_NS = 86_400 * 1_000_000_000
WARN_PCT = 80
LOSS_METRICS = frozenset({"daily_loss", "drawdown", "var", "expected_shortfall"})
"""Metrics that are amounts of money won or lost: shown rounded like P&L."""
HISTORY_GRACE_NS = 5 * NS_PER_SECOND  # events older than this when they arrive are history: counted, never acted on


@dataclass(slots=True, kw_only=True)
class Finding:
    """One thing ``evaluate`` (or an event) found. ``halt`` asks the service to halt ``scope``."""

    kind: str  # breach, warning, recovered
    scope: ScopeKey
    metric: str
    value: int | float
    limit: int | float
    message: str
    halt: bool = False


@dataclass(slots=True)
class ScopeBook:
    """P&L and breaker state of one scope."""

    scope: ScopeKey
    positions: dict[str, Position] = field(default_factory=dict)
    day: int = -1
    day_base: int = 0  # total P&L when the day started
    peak: int = 0  # highest daily P&L today
    consecutive_losses: int = 0
    slippage_spikes: deque[int] = field(default_factory=deque)

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(self.scope[0], symbol)
        return pos


@dataclass(slots=True)
class OpenOrder:
    scopes: tuple[ScopeKey, ...]
    symbol: str
    sign: int
    leaves: int
    price: int
    arrival_mark: int


class RealTimeRisk:
    def __init__(self, limits: Limits, *, sectors: Mapping[str, str], lot_sizes: Mapping[str, int]) -> None:
        self.limits = limits
        self.sectors = dict(sectors)
        self.lot_sizes = dict(lot_sizes)
        self.marks: dict[str, int] = {}
        self.samples: dict[str, deque[float]] = {}
        self.sample_count = 0
        self._next_sample_ns = 0
        self._tripped: set[tuple[ScopeKey, str, int]] = set()  # (scope, metric, day) halted once per day
        self.forget_journal()

    def forget_journal(self) -> None:
        """Drop everything learnt from the routing journal (positions, open orders, P&L, latches, findings), to
        read a journal again from its first event: another journal (a new incarnation), or the same one gone
        back. Marks and return samples come from market data and stay; so do the halts already tripped today
        (they are in the risk change journal, and a desk halts once per scope, metric and day)."""
        self.books: dict[ScopeKey, ScopeBook] = {DESK_SCOPE: ScopeBook(DESK_SCOPE)}
        self.open: dict[str, OpenOrder] = {}
        self.open_notional: dict[ScopeKey, int] = {}
        self.last_seq = 0
        self.venue_errors: dict[str, deque[int]] = {}
        self.latches: dict[ScopeKey, tuple[int, str]] = {}
        self._warned: set[tuple[ScopeKey, str]] = set()
        self._breached: set[tuple[ScopeKey, str]] = set()
        self.pending: list[Finding] = []  # found while applying events; taken by the next evaluate

    # -- inputs ------------------------------------------------------------------------------------------------
    def on_mark(self, symbol: str, price: int) -> None:
        if price > 0:
            self.marks[symbol] = price

    def on_event(self, seq: int, event: JournalEvent, now_ns: int) -> None:
        """Apply one routing journal event. Events older than a few seconds are history: they build state
        but trip nothing (a restart must not halt the desk again for yesterday's losses)."""
        if seq <= self.last_seq:
            return
        self.last_seq = seq
        ts_ns = event.ts_ns
        live = now_ns - ts_ns <= HISTORY_GRACE_NS
        if isinstance(event, RiskLatched):
            scope = (event.account, event.strategy)
            self.latches[scope] = (event.tripped_ns, event.reason)
            if live:
                self.pending.append(
                    Finding(
                        kind="breach", scope=scope, metric="repeated_execution", value=0, limit=0, message=event.reason
                    )
                )
            return
        if not isinstance(event, OrderEvent):
            return
        terms = event.terms
        order_id, account, strategy, symbol = terms.order_id, terms.account, terms.strategy, terms.symbol
        scopes = scopes_of(account, strategy)
        for scope in scopes:
            if scope not in self.books:
                self.books[scope] = ScopeBook(scope)
        kind = type(event)
        if kind is OrderPending:
            price = terms.price if terms.order_type == OrderType.LIMIT else self.marks.get(symbol, 0)
            self.open[order_id] = OpenOrder(scopes, symbol, side_sign(terms.side), 0, price, self.marks.get(symbol, 0))
        elif kind is OrderReplaced:
            old = self.open.pop(terms.replaces_order_id, None)
            if old is not None:
                self._add_open(old.scopes, -mul(old.price, old.leaves))
            arrival = old.arrival_mark if old else self.marks.get(symbol, 0)
            self.open[order_id] = OpenOrder(scopes, symbol, side_sign(terms.side), 0, terms.price, arrival)
        elif kind is OrderRejected and live:
            self._venue_error(event.venue, ts_ns)
        elif kind is OrderFilled:
            self._trade(event, scopes, live)
        entry = self.open.get(order_id)
        if entry is not None:
            before = mul(entry.price, entry.leaves)
            if event.is_open:
                entry.leaves = event.leaves_qty
                after = mul(entry.price, entry.leaves)
            else:
                del self.open[order_id]
                after = 0
            if after != before:
                self._add_open(entry.scopes, after - before)

    def _add_open(self, scopes: tuple[ScopeKey, ...], notional: int) -> None:
        totals = self.open_notional
        for scope in scopes:
            totals[scope] = totals.get(scope, 0) + notional

    def _trade(self, fill: OrderFilled, scopes: tuple[ScopeKey, ...], live: bool) -> None:
        """Positions of every scope move; breakers count at the order's own scope (its strategy, else its
        account)."""
        terms = fill.terms
        symbol, ts_ns = terms.symbol, fill.ts_ns
        qty, price, fee = fill.last_qty, fill.last_price, fill.fee
        sign = side_sign(terms.side)
        if symbol not in self.marks:
            self.marks[symbol] = price
        limits = self.limits
        breakers = limits.circuit_breakers
        entry = self.open.get(terms.order_id)
        for scope in scopes:
            book = self.books[scope]
            if ts_ns // DAY_NS != book.day:
                self._roll_day(book, ts_ns)
            pos = book.position(symbol)
            before_qty, before_realized = pos.qty, pos.realized_pnl
            pos.apply_fill(sign * qty, price, fee)
            if scope != scopes[-1] or not live:
                continue
            closing = before_qty and (before_qty > 0) != (sign > 0)
            if closing and breakers.max_consecutive_losses:
                gain = pos.realized_pnl - before_realized + fee
                if gain < 0:
                    book.consecutive_losses += 1
                    if book.consecutive_losses >= breakers.max_consecutive_losses:
                        book.consecutive_losses = 0
                        self.pending.append(
                            Finding(
                                kind="breach",
                                scope=scope,
                                metric="consecutive_losses",
                                value=breakers.max_consecutive_losses,
                                limit=breakers.max_consecutive_losses,
                                message=f"{scope_label(scope)}: {breakers.max_consecutive_losses} closing fills in "
                                "a row realized a loss",
                                halt=True,
                            )
                        )
                elif gain > 0:
                    book.consecutive_losses = 0
            if breakers.slippage_spike_bps and entry is not None and entry.arrival_mark and scope[1] == terms.strategy:
                slip = (price - entry.arrival_mark) * sign * 10_000 // entry.arrival_mark
                if slip > breakers.slippage_spike_bps:
                    spikes = book.slippage_spikes
                    spikes.append(ts_ns)
                    while spikes and spikes[0] <= ts_ns - breakers.slippage_window_seconds * NS_PER_SECOND:
                        spikes.popleft()
                    if len(spikes) >= breakers.max_slippage_spikes:
                        spikes.clear()
                        self.pending.append(
                            Finding(
                                kind="breach",
                                scope=scope,
                                metric="slippage",
                                value=slip,
                                limit=breakers.slippage_spike_bps,
                                message=f"{scope_label(scope)}: {breakers.max_slippage_spikes} fills more than "
                                f"{breakers.slippage_spike_bps} bps worse than the arrival mark within "
                                f"{breakers.slippage_window_seconds} s (last {slip} bps in {symbol})",
                                halt=True,
                            )
                        )

    def _venue_error(self, venue: str, ts_ns: int) -> None:
        b = self.limits.circuit_breakers
        if not b.max_venue_errors:
            return
        window = self.venue_errors.setdefault(venue, deque())
        window.append(ts_ns)
        while window and window[0] <= ts_ns - b.venue_error_window_seconds * NS_PER_SECOND:
            window.popleft()
        if len(window) >= b.max_venue_errors:
            window.clear()
            self.pending.append(
                Finding(
                    kind="breach",
                    scope=DESK_SCOPE,
                    metric="venue_errors",
                    value=b.max_venue_errors,
                    limit=b.max_venue_errors,
                    message=f"venue {venue} rejected {b.max_venue_errors} orders within "
                    f"{b.venue_error_window_seconds} s",
                    halt=True,
                )
            )

    def _roll_day(self, book: ScopeBook, ts_ns: int) -> None:
        """The first event of a new UTC day fixes the day's starting P&L (before the event applies)."""
        day = ts_ns // DAY_NS
        if day != book.day:
            realized, unrealized = self.pnl(book.scope)
            book.day_base = realized + unrealized
            book.day = day
            book.peak = 0

    # -- measures ----------------------------------------------------------------------------------------------
    def pnl(self, scope: ScopeKey) -> tuple[int, int]:
        """(realized, unrealized) of a scope at the current marks; realized is net of fees."""
        book = self.books.get(scope)
        if book is None:
            return 0, 0
        realized = unrealized = 0
        marks = self.marks
        for symbol, pos in book.positions.items():
            realized += pos.realized_pnl
            if pos.qty:
                unrealized += pos.unrealized_pnl(marks.get(symbol, 0) or pos.avg_cost)
        return realized, unrealized

    def daily(self, scope: ScopeKey, now_ns: int) -> tuple[int, int, int]:
        """(daily P&L, today's peak, drawdown from the peak) of a scope."""
        book = self.books.get(scope)
        if book is None:
            return 0, 0, 0
        if now_ns // DAY_NS > book.day:
            self._roll_day(book, now_ns)
        realized, unrealized = self.pnl(scope)
        daily = realized + unrealized - book.day_base
        if daily > book.peak:
            book.peak = daily
        return daily, book.peak, book.peak - daily

    def exposure(self, scope: ScopeKey) -> dict[str, Any]:
        """Gross/net exposure of positions by symbol and sector, and the notional of open orders."""
        book = self.books.get(scope)
        symbols: dict[str, tuple[int, int, int]] = {}
        sectors: dict[str, list[int]] = {}
        gross = net = 0
        if book is not None:
            for symbol, pos in sorted(book.positions.items()):
                if not pos.qty:
                    continue
                mark = self.marks.get(symbol, 0) or pos.avg_cost
                value = mul(mark, pos.qty)
                symbols[symbol] = (pos.qty, mark, value)
                s = sectors.setdefault(self.sectors.get(symbol, ""), [0, 0])
                s[0] += abs(value)
                s[1] += value
                gross += abs(value)
                net += value
        open_notional = self.open_notional.get(scope, 0)
        return {"symbols": symbols, "sectors": sectors, "gross": gross, "net": net, "open_notional": open_notional}

    # -- VaR ---------------------------------------------------------------------------------------------------
    def sample(self, now_ns: int) -> bool:
        """Record every mark once per ``var_sample_ns``; their returns are the VaR scenarios."""
        var = self.limits.var
        if now_ns < self._next_sample_ns:
            return False
        self._next_sample_ns = now_ns + var.sample_ms * 1_000_000
        keep = var.window + 1
        for symbol, mark in self.marks.items():
            series = self.samples.get(symbol)
            if series is None or series.maxlen != keep:
                series = self.samples[symbol] = deque(series or (), maxlen=keep)
            series.append(to_float(mark))
        self.sample_count += 1
        return True

    def returns(self, symbol: str) -> list[float]:
        series = self.samples.get(symbol)
        if not series or len(series) < 2:
            return []
        s = list(series)
        return [s[i] / s[i - 1] - 1.0 for i in range(1, len(s)) if s[i - 1] > 0]

    def var_es(self, scope: ScopeKey = DESK_SCOPE) -> tuple[float, float, int]:
        """Historical-simulation VaR and expected shortfall of the scope's positions at the configured
        confidence: each past return vector applied to today's holdings is one scenario."""
        book = self.books.get(scope)
        if book is None:
            return 0.0, 0.0, 0
        held = []
        for symbol, pos in book.positions.items():
            if pos.qty:
                rets = self.returns(symbol)
                value = to_float(mul(self.marks.get(symbol, 0) or pos.avg_cost, pos.qty))
                held.append((value, rets))
        if not held:
            return 0.0, 0.0, 0
        n = min(len(r) for _, r in held)
        if n < 20:
            return 0.0, 0.0, n
        scenarios = sorted(sum(value * rets[len(rets) - n + k] for value, rets in held) for k in range(n))
        tail_n = max(1, math.floor(n * (100 - self.limits.var.confidence_pct) / 100))
        tail = scenarios[:tail_n]
        var = max(0.0, -scenarios[tail_n - 1])
        es = max(0.0, -sum(tail) / len(tail))
        return var, es, n

    def position_size(self, symbol: str, *, budget: int, horizon_s: int) -> dict[str, Any]:
        """Quantity whose one-standard-deviation move over ``horizon_s`` is about ``budget``, on the lot grid."""
        rets = self.returns(symbol)
        price = self.marks.get(symbol, 0)
        out: dict[str, Any] = {"quantity": 0, "volatility": 0.0, "horizon_volatility": 0.0, "price": price}
        out["samples"] = len(rets)
        if len(rets) < 2 or not price:
            return out
        mean = sum(rets) / len(rets)
        sigma = math.sqrt(sum((r - mean) ** 2 for r in rets) / (len(rets) - 1))
        sample_s = self.limits.var.sample_ms / 1e3
        horizon_sigma = sigma * math.sqrt(max(horizon_s, sample_s) / sample_s)
        out["volatility"] = sigma
        out["horizon_volatility"] = horizon_sigma
        if horizon_sigma <= 0:
            return out
        lot = self.lot_sizes.get(symbol, SCALE)
        # The statistic is a float; the quantity goes back onto the exact lot grid as an int.
        per_unit = mul(price, int(horizon_sigma * SCALE))  # money one unit moves by one sigma
        if per_unit <= 0:
            return out
        units = budget * SCALE // per_unit
        out["quantity"] = units // lot * lot
        return out

    # -- evaluation ----------------------------------------------------------------------------------------------
    def evaluate(self, now_ns: int) -> list[Finding]:
        """Breaches, 80% warnings and recoveries of the limits the risk service watches."""
        found, self.pending = self.pending, []
        limits = self.limits
        for scope, book in self.books.items():
            ls = limits.scope_set(scope)
            if ls is None:
                continue
            daily, _, drawdown = self.daily(scope, now_ns)
            day = book.day
            checks: list[tuple[str, int, int, bool]] = []
            if ls.max_daily_loss:
                checks.append(("daily_loss", max(0, -daily), ls.max_daily_loss, True))
            if ls.max_drawdown:
                checks.append(("drawdown", drawdown, ls.max_drawdown, True))
            if ls.max_gross_exposure or ls.max_net_exposure or ls.credit_limit:
                exp = self.exposure(scope)
                if ls.max_gross_exposure:
                    checks.append(("gross_exposure", exp["gross"], ls.max_gross_exposure, False))
                if ls.max_net_exposure:
                    checks.append(("net_exposure", abs(exp["net"]), ls.max_net_exposure, False))
                if ls.credit_limit:
                    checks.append(("credit", exp["gross"] + exp["open_notional"], ls.credit_limit, False))
            for metric, value, limit, halts in checks:
                found.extend(self._judge(scope, metric, value=value, limit=limit, halts=halts, day=day))
        b = limits.var
        if b.max_var or b.max_expected_shortfall:
            var, es, _ = self.var_es(DESK_SCOPE)
            day = self.books[DESK_SCOPE].day
            if b.max_var:
                found.extend(
                    self._judge(DESK_SCOPE, "var", value=round(var * SCALE), limit=b.max_var, halts=False, day=day)
                )
            if b.max_expected_shortfall:
                found.extend(
                    self._judge(
                        DESK_SCOPE,
                        "expected_shortfall",
                        value=round(es * SCALE),
                        limit=b.max_expected_shortfall,
                        halts=False,
                        day=day,
                    )
                )
        return found

    def _judge(self, scope: ScopeKey, metric: str, *, value: int, limit: int, halts: bool, day: int) -> list[Finding]:
        key = (scope, metric)
        who = scope_label(scope)
        amount = format_pnl(value) if metric in LOSS_METRICS else format_fixed(value)
        shown = f"{who}: {metric.replace('_', ' ')} {amount} of limit {format_fixed(limit)}"
        if value >= limit:
            out = []
            if key not in self._breached:
                self._breached.add(key)
                self._warned.add(key)
                trip = halts and (scope, metric, day) not in self._tripped
                if trip:
                    self._tripped.add((scope, metric, day))
                out.append(
                    Finding(
                        kind="breach", scope=scope, metric=metric, value=value, limit=limit, message=shown, halt=trip
                    )
                )
            return out
        if value * 100 >= limit * WARN_PCT:
            self._breached.discard(key)
            if key not in self._warned:
                self._warned.add(key)
                return [
                    Finding(
                        kind="warning",
                        scope=scope,
                        metric=metric,
                        value=value,
                        limit=limit,
                        message=f"{shown} (80% warning)",
                    )
                ]
            return []
        if key in self._warned:
            self._warned.discard(key)
            self._breached.discard(key)
            return [
                Finding(
                    kind="recovered",
                    scope=scope,
                    metric=metric,
                    value=value,
                    limit=limit,
                    message=f"{shown}: back under 80%",
                )
            ]
        return []

    def mark_tripped(self, scope: ScopeKey, metric: str, day: int) -> None:
        """A halt journaled earlier today (restored at start), so it is not repeated."""
        self._tripped.add((scope, metric, day))
