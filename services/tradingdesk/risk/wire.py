"""Limits, trading states and latches to and from their wire form.

``limits_from_proto`` is also how ``SetLimits`` reads a client's limits, so every decimal it parses is checked
and a bad one is refused with the field named.
"""

from __future__ import annotations

from tradingdesk.core.enums import TradingState
from tradingdesk.core.fixed import DecimalFormatError, format_fixed, parse_fixed
from tradingdesk.core.reject import invalid
from tradingdesk.risk.limits import MS, Breakers, Limits, LimitSet, ScopeKey, StateEntry
from tradingdesk.v1 import common_pb2, risk_pb2

_AMOUNTS = (
    ("max_order_qty", "max_order_quantity"),
    ("max_order_notional", "max_order_notional"),
    ("credit_limit", "credit_limit"),
    ("max_position_qty", "max_position_quantity"),
    ("max_gross_exposure", "max_gross_exposure"),
    ("max_net_exposure", "max_net_exposure"),
    ("max_daily_loss", "max_daily_loss"),
    ("max_drawdown", "max_drawdown"),
)
_COUNTS = (
    "price_collar_bps",
    "max_symbol_concentration_bps",
    "max_sector_concentration_bps",
    "max_submits_per_second",
    "max_modifies_per_second",
    "max_cancels_per_second",
    "max_order_to_trade_ratio",
    "max_repeated_executions",
)
_BOUNDS = {
    "price_collar_bps": 10_000,
    "max_symbol_concentration_bps": 10_000,
    "max_sector_concentration_bps": 10_000,
}


def limit_set_to_proto(ls: LimitSet, *, scope: bool = True) -> risk_pb2.LimitSet:
    msg = risk_pb2.LimitSet(**{name: getattr(ls, name) for name in _COUNTS})
    for attr, wire in _AMOUNTS:
        setattr(msg, wire, format_fixed(getattr(ls, attr)))
    if scope:  # the desk's travel in RiskLimits itself
        msg.restricted_symbols.extend(sorted(ls.restricted))
        msg.duplicate_window_ms = ls.duplicate_window_ns // MS
    return msg


def _amount(field: str, text: str) -> int:
    if not text:
        return 0
    try:
        return parse_fixed(text)
    except DecimalFormatError as exc:
        raise invalid(field, str(exc)) from None


def _count(field: str, value: int, upper: int = 1_000_000_000) -> int:
    if value < 0:
        raise invalid(field, f"must be >= 0 (got {value})")
    if value > upper:
        raise invalid(field, f"must be <= {upper} (got {value})")
    return value


def limit_set_from_proto(msg: risk_pb2.LimitSet, where: str) -> LimitSet:
    values = {attr: _amount(f"{where}.{wire}", getattr(msg, wire)) for attr, wire in _AMOUNTS}
    for name in _COUNTS:
        values[name] = _count(f"{where}.{name}", getattr(msg, name), _BOUNDS.get(name, 1_000_000_000))
    values["duplicate_window_ns"] = _count(f"{where}.duplicate_window_ms", msg.duplicate_window_ms) * MS
    return LimitSet(**values, restricted=frozenset(msg.restricted_symbols))


def limits_to_proto(limits: Limits) -> risk_pb2.RiskLimits:
    b = limits.breakers
    return risk_pb2.RiskLimits(
        max_order_quantity=format_fixed(limits.max_order_qty),
        max_order_notional=format_fixed(limits.max_order_notional),
        price_collar_bps=limits.price_collar_bps,
        restricted_symbols=sorted(limits.restricted),
        max_submits_per_second=limits.max_submits_per_second,
        version=limits.version,
        reference_max_age_ms=limits.reference_max_age_ns // MS,
        desk=limit_set_to_proto(limits, scope=False),
        scopes=[
            risk_pb2.ScopeLimits(
                scope=common_pb2.Scope(account=scope[0], strategy=scope[1]), limits=limit_set_to_proto(ls)
            )
            for scope, ls in sorted(limits.scopes.items())
        ],
        order_to_trade_min_messages=limits.order_to_trade_min_messages,
        order_to_trade_window_ms=limits.order_to_trade_window_ns // MS,
        duplicate_window_ms=limits.duplicate_window_ns // MS,
        repeated_execution_window_ms=limits.repeated_execution_window_ns // MS,
        short_sale_rule=limits.short_sale_rule,
        easy_to_borrow=sorted(limits.easy_to_borrow),
        locates=[
            risk_pb2.Locate(account=a, symbol=s, quantity=format_fixed(q))
            for (a, s), q in sorted(limits.locates.items())
        ],
        halted_symbols=sorted(limits.halted_symbols),
        luld_band_bps=limits.luld_band_bps,
        luld_low_price_band_bps=limits.luld_low_price_band_bps,
        luld_window_ms=limits.luld_window_ns // MS,
        gate_stream_timeout_ms=limits.stream_timeout_ns // MS,
        breakers=risk_pb2.CircuitBreakers(
            max_consecutive_losses=b.max_consecutive_losses,
            max_venue_errors=b.max_venue_errors,
            venue_error_window_ms=b.venue_error_window_ns // MS,
            slippage_spike_bps=b.slippage_spike_bps,
            max_slippage_spikes=b.max_slippage_spikes,
            slippage_window_ms=b.slippage_window_ns // MS,
            var_sample_ms=b.var_sample_ns // MS,
            var_window=b.var_window,
            var_confidence_pct=b.var_confidence_pct,
            max_var=format_fixed(b.max_var),
            max_expected_shortfall=format_fixed(b.max_expected_shortfall),
        ),
    )


def limits_from_proto(msg: risk_pb2.RiskLimits, *, strict: bool = False) -> Limits:
    """The gate's limits from the wire. ``strict`` (SetLimits) refuses values a person must not send; the
    routing gate reads what the risk service already validated."""
    if msg.HasField("desk"):
        desk = limit_set_from_proto(msg.desk, "limits.desk")
    else:  # an older sender: the flat fields only
        desk = LimitSet(
            max_order_qty=_amount("limits.max_order_quantity", msg.max_order_quantity),
            max_order_notional=_amount("limits.max_order_notional", msg.max_order_notional),
            price_collar_bps=_count("limits.price_collar_bps", msg.price_collar_bps, 10_000),
            max_submits_per_second=_count("limits.max_submits_per_second", msg.max_submits_per_second),
        )
    scopes: dict[ScopeKey, LimitSet] = {}
    for i, sl in enumerate(msg.scopes):
        key = (sl.scope.account, sl.scope.strategy)
        if key in scopes:
            raise invalid(f"limits.scopes[{i}].scope", f"repeats account {key[0]!r} strategy {key[1]!r}")
        scopes[key] = limit_set_from_proto(sl.limits, f"limits.scopes[{i}].limits")
    locates: dict[tuple[str, str], int] = {}
    for i, loc in enumerate(msg.locates):
        key = (loc.account, loc.symbol)
        if key in locates:
            raise invalid(f"limits.locates[{i}]", f"repeats account {loc.account!r} symbol {loc.symbol!r}")
        locates[key] = _amount(f"limits.locates[{i}].quantity", loc.quantity)
    b = msg.breakers
    if strict:
        for name in ("reference_max_age_ms", "gate_stream_timeout_ms", "luld_window_ms", "order_to_trade_window_ms"):
            if getattr(msg, name) <= 0:
                raise invalid(f"limits.{name}", "must be > 0")
        if desk.price_collar_bps <= 0:
            raise invalid("limits.desk.price_collar_bps", "must be > 0: the desk always has a price collar")
        if msg.gate_stream_timeout_ms < 100:
            raise invalid("limits.gate_stream_timeout_ms", "must be >= 100")
        for name in ("luld_band_bps", "luld_low_price_band_bps"):
            _count(f"limits.{name}", getattr(msg, name), 10_000)
        if b.var_window and b.var_window < 20:
            raise invalid("limits.breakers.var_window", "must be >= 20 scenarios")
        if b.var_confidence_pct and not 50 <= b.var_confidence_pct <= 99:
            raise invalid("limits.breakers.var_confidence_pct", "must be between 50 and 99")
    defaults = Breakers()
    shared = {
        n: getattr(desk, n) for n in LimitSet.__dataclass_fields__ if n not in ("restricted", "duplicate_window_ns")
    }
    return Limits(
        **shared,
        reference_max_age_ns=msg.reference_max_age_ms * MS,
        restricted=frozenset(msg.restricted_symbols) | desk.restricted,
        duplicate_window_ns=max(
            _count("limits.duplicate_window_ms", msg.duplicate_window_ms) * MS, desk.duplicate_window_ns
        ),
        version=msg.version,
        order_to_trade_min_messages=_count("limits.order_to_trade_min_messages", msg.order_to_trade_min_messages),
        order_to_trade_window_ns=msg.order_to_trade_window_ms * MS,
        repeated_execution_window_ns=_count("limits.repeated_execution_window_ms", msg.repeated_execution_window_ms)
        * MS,
        short_sale_rule=msg.short_sale_rule,
        easy_to_borrow=frozenset(msg.easy_to_borrow),
        locates=locates,
        halted_symbols=frozenset(msg.halted_symbols),
        luld_band_bps=msg.luld_band_bps,
        luld_low_price_band_bps=msg.luld_low_price_band_bps,
        luld_window_ns=msg.luld_window_ms * MS,
        stream_timeout_ns=msg.gate_stream_timeout_ms * MS,
        scopes=scopes,
        breakers=Breakers(
            max_consecutive_losses=_count("limits.breakers.max_consecutive_losses", b.max_consecutive_losses),
            max_venue_errors=_count("limits.breakers.max_venue_errors", b.max_venue_errors),
            venue_error_window_ns=(b.venue_error_window_ms * MS) or defaults.venue_error_window_ns,
            slippage_spike_bps=_count("limits.breakers.slippage_spike_bps", b.slippage_spike_bps, 10_000),
            max_slippage_spikes=b.max_slippage_spikes or defaults.max_slippage_spikes,
            slippage_window_ns=(b.slippage_window_ms * MS) or defaults.slippage_window_ns,
            var_sample_ns=(b.var_sample_ms * MS) or defaults.var_sample_ns,
            var_window=b.var_window or defaults.var_window,
            var_confidence_pct=b.var_confidence_pct or defaults.var_confidence_pct,
            max_var=_amount("limits.breakers.max_var", b.max_var),
            max_expected_shortfall=_amount("limits.breakers.max_expected_shortfall", b.max_expected_shortfall),
        ),
    )


def scope_proto(scope: ScopeKey) -> common_pb2.Scope:
    return common_pb2.Scope(account=scope[0], strategy=scope[1])


def state_to_proto(scope: ScopeKey, entry: StateEntry) -> risk_pb2.TradingStateInfo:
    return risk_pb2.TradingStateInfo(
        scope=scope_proto(scope),
        state=int(entry.state),
        actor=entry.actor,
        reason=entry.reason,
        changed_ns=entry.changed_ns,
    )


def state_from_proto(msg: risk_pb2.TradingStateInfo) -> tuple[ScopeKey, StateEntry]:
    return (msg.scope.account, msg.scope.strategy), StateEntry(
        TradingState(msg.state), msg.actor, msg.reason, msg.changed_ns
    )
