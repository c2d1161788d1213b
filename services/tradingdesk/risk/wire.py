"""Limits and trading states to and from their protobuf form: the one mapping, used by the risk service's
doors and by every routing gate that reads ``StreamGateUpdates``.

A ``LimitSet`` message has the spec's per-scope fields under the same names, so it is mapped field by field
from ``ScopeLimitsSpec`` (amounts as decimal strings, counts within the spec's own bounds). ``RiskLimits``
carries the desk's set in ``desk`` plus the desk-wide settings; the few whose wire name or unit differs from
the spec's (milliseconds on the wire, seconds in the spec) are listed once in ``_RENAMED``.

``limits_from_proto`` is also how ``SetLimits`` reads a client's limits, so every value it parses is checked
and a bad one is refused with the field named.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from pydantic import BaseModel

from tradingdesk.core.enums import TradingState
from tradingdesk.core.fixed import DecimalFormatError, format_fixed, parse_fixed
from tradingdesk.core.reject import invalid
from tradingdesk.risk.limits import Breakers, Limits, LimitSet, StateEntry, VarLimits, bounds, is_amount
from tradingdesk.risk.scope import ScopeKey
from tradingdesk.spec.model import CircuitBreakerSpec, RiskSpec, ScopeLimitsSpec, VarSpec
from tradingdesk.v1 import common_pb2, risk_pb2

MS_PER_S = 1_000
SCOPE_FIELDS = tuple(f.name for f in fields(LimitSet))
# Desk-wide settings whose wire name differs from the spec's: (spec name, wire name, wire units per spec unit).
_RENAMED = (
    ("order_to_trade_window_s", "order_to_trade_window_ms", MS_PER_S),
    ("luld_window_s", "luld_window_ms", MS_PER_S),
)
# Where each breaker and VaR setting travels in ``CircuitBreakers``: (model, spec name, wire name, factor).
_BREAKERS = (
    (CircuitBreakerSpec, "circuit_breakers", "max_consecutive_losses", "max_consecutive_losses", 1),
    (CircuitBreakerSpec, "circuit_breakers", "max_venue_errors", "max_venue_errors", 1),
    (CircuitBreakerSpec, "circuit_breakers", "venue_error_window_seconds", "venue_error_window_ms", MS_PER_S),
    (CircuitBreakerSpec, "circuit_breakers", "slippage_spike_bps", "slippage_spike_bps", 1),
    (CircuitBreakerSpec, "circuit_breakers", "max_slippage_spikes", "max_slippage_spikes", 1),
    (CircuitBreakerSpec, "circuit_breakers", "slippage_window_seconds", "slippage_window_ms", MS_PER_S),
    (VarSpec, "var", "sample_ms", "var_sample_ms", 1),
    (VarSpec, "var", "window", "var_window", 1),
    (VarSpec, "var", "confidence_pct", "var_confidence_pct", 1),
    (VarSpec, "var", "max_var", "max_var", 1),
    (VarSpec, "var", "max_expected_shortfall", "max_expected_shortfall", 1),
)
_DESK_SETTINGS = tuple(
    f.name
    for f in fields(Limits)
    if f.name not in SCOPE_FIELDS
    and f.name not in ("locates", "circuit_breakers", "var", "scopes", "version")
    and f.name not in {spec for spec, _, _ in _RENAMED}
)


# -- to the wire -------------------------------------------------------------------------------------------------
def _value_to_wire(model: type[BaseModel], name: str, value: Any) -> Any:
    if is_amount(model, name):
        return format_fixed(value)
    if isinstance(value, frozenset):
        return sorted(value)
    return value


def limit_set_to_proto(ls: LimitSet) -> risk_pb2.LimitSet:
    return risk_pb2.LimitSet(
        **{name: _value_to_wire(ScopeLimitsSpec, name, getattr(ls, name)) for name in SCOPE_FIELDS}
    )


def limits_to_proto(limits: Limits) -> risk_pb2.RiskLimits:
    desk = limit_set_to_proto(limits)
    msg = risk_pb2.RiskLimits(
        # The flat fields older readers know, repeating the desk's set.
        max_order_quantity=desk.max_order_quantity,
        max_order_notional=desk.max_order_notional,
        price_collar_bps=desk.price_collar_bps,
        restricted_symbols=desk.restricted_symbols,
        max_submits_per_second=desk.max_submits_per_second,
        duplicate_window_ms=desk.duplicate_window_ms,
        version=limits.version,
        desk=desk,
        scopes=[
            risk_pb2.ScopeLimits(scope=scope_proto(scope), limits=limit_set_to_proto(ls))
            for scope, ls in sorted(limits.scopes.items())
        ],
        locates=[
            risk_pb2.Locate(account=a, symbol=s, quantity=format_fixed(q))
            for (a, s), q in sorted(limits.locates.items())
        ],
        **{name: _value_to_wire(RiskSpec, name, getattr(limits, name)) for name in _DESK_SETTINGS},
        **{wire: getattr(limits, spec) * factor for spec, wire, factor in _RENAMED},
    )
    sections = {"circuit_breakers": limits.circuit_breakers, "var": limits.var}
    for model, section, spec, wire, factor in _BREAKERS:
        value = getattr(sections[section], spec)
        setattr(msg.breakers, wire, format_fixed(value) if is_amount(model, spec) else value * factor)
    return msg


# -- from the wire -----------------------------------------------------------------------------------------------
def _amount(field: str, text: str) -> int:
    if not text:
        return 0
    try:
        return parse_fixed(text)
    except DecimalFormatError as exc:
        raise invalid(field, str(exc)) from None


def _count(field: str, value: int, model: type[BaseModel], name: str, *, strict: bool, factor: int = 1) -> int:
    """A count within the spec's bounds (``strict``: what a person sends; else the lower bound is not enforced,
    so an older risk service's zeros still read). ``factor`` converts wire units to the spec's."""
    if factor != 1:
        if value % factor:
            raise invalid(field, f"must be a whole number of seconds (got {value} ms)")
        value //= factor
    low, high = bounds(model, name)
    if value < 0 or (strict and low is not None and value < low):
        raise invalid(field, f"must be >= {low if strict and low is not None else 0} (got {value * factor})")
    if high is not None and value > high:
        raise invalid(field, f"must be <= {high * factor} (got {value * factor})")
    return value


def _read(msg: Any, model: type[BaseModel], name: str, where: str, *, strict: bool) -> Any:
    value = getattr(msg, name)
    if is_amount(model, name):
        return _amount(f"{where}.{name}", value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return _count(f"{where}.{name}", value, model, name, strict=strict)
    return frozenset(value)


def limit_set_from_proto(msg: risk_pb2.LimitSet, where: str, *, strict: bool = True) -> LimitSet:
    return LimitSet(**{name: _read(msg, ScopeLimitsSpec, name, where, strict=strict) for name in SCOPE_FIELDS})


def limits_from_proto(msg: risk_pb2.RiskLimits, *, strict: bool = False) -> Limits:
    """The gate's limits from the wire. ``strict`` (SetLimits) also enforces the spec's lower bounds (a desk
    always has a price collar, windows are never 0); the routing gate reads what the risk service validated."""
    if msg.HasField("desk"):
        desk = limit_set_from_proto(msg.desk, "limits.desk", strict=False)
    else:  # an older sender: the flat fields only
        desk = LimitSet(
            max_order_quantity=_amount("limits.max_order_quantity", msg.max_order_quantity),
            max_order_notional=_amount("limits.max_order_notional", msg.max_order_notional),
            price_collar_bps=_count(
                "limits.price_collar_bps", msg.price_collar_bps, RiskSpec, "price_collar_bps", strict=False
            ),
            max_submits_per_second=_count(
                "limits.max_submits_per_second",
                msg.max_submits_per_second,
                RiskSpec,
                "max_submits_per_second",
                strict=False,
            ),
        )
    if strict and desk.price_collar_bps <= 0:
        raise invalid("limits.desk.price_collar_bps", "must be > 0: the desk always has a price collar")
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
    settings = {name: _read(msg, RiskSpec, name, "limits", strict=strict) for name in _DESK_SETTINGS}
    for spec, wire, factor in _RENAMED:
        settings[spec] = _count(f"limits.{wire}", getattr(msg, wire), RiskSpec, spec, strict=strict, factor=factor)
    if not strict:  # zeros from a sender that does not set them mean the spec's default
        defaults = Limits()
        for name, value in settings.items():
            if value == 0 and type(value) is int and bounds(RiskSpec, name)[0]:
                settings[name] = getattr(defaults, name)
    sections: dict[str, dict[str, Any]] = {"circuit_breakers": {}, "var": {}}
    defaults_of = {"circuit_breakers": Breakers(), "var": VarLimits()}
    for model, section, spec, wire, factor in _BREAKERS:
        value = getattr(msg.breakers, wire)
        field = f"limits.breakers.{wire}"
        if is_amount(model, spec):
            sections[section][spec] = _amount(field, value)
        elif value == 0 and bounds(model, spec)[0]:
            sections[section][spec] = getattr(defaults_of[section], spec)  # unset: the spec's default
        else:
            sections[section][spec] = _count(field, value, model, spec, strict=True, factor=factor)
    return Limits(
        **{
            name: getattr(desk, name)
            for name in SCOPE_FIELDS
            if name not in ("restricted_symbols", "duplicate_window_ms")
        },
        restricted_symbols=frozenset(msg.restricted_symbols) | desk.restricted_symbols,
        duplicate_window_ms=max(
            _count(
                "limits.duplicate_window_ms", msg.duplicate_window_ms, RiskSpec, "duplicate_window_ms", strict=False
            ),
            desk.duplicate_window_ms,
        ),
        **settings,
        locates=locates,
        circuit_breakers=Breakers(**sections["circuit_breakers"]),
        var=VarLimits(**sections["var"]),
        scopes=scopes,
        version=msg.version,
    )


# -- scopes and states -------------------------------------------------------------------------------------------
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


__all__ = ["limit_set_from_proto", "limits_from_proto", "limits_to_proto", "state_from_proto", "state_to_proto"]
