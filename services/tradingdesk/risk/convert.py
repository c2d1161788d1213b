"""Limits and trading states to and from their wire form."""

from __future__ import annotations

from tradingdesk.core.enums import TradingState
from tradingdesk.core.fixed import format_fixed, parse_fixed
from tradingdesk.risk.limits import Limits, ScopeKey, StateEntry
from tradingdesk.v1 import common_pb2, risk_pb2


def limits_to_proto(limits: Limits) -> risk_pb2.RiskLimits:
    return risk_pb2.RiskLimits(
        max_order_quantity=format_fixed(limits.max_order_qty),
        max_order_notional=format_fixed(limits.max_order_notional),
        price_collar_bps=limits.price_collar_bps,
        restricted_symbols=sorted(limits.restricted),
        max_submits_per_second=limits.max_submits_per_second,
        version=limits.version,
        reference_max_age_ms=limits.reference_max_age_ns // 1_000_000,
    )


def limits_from_proto(msg: risk_pb2.RiskLimits) -> Limits:
    return Limits(
        max_order_qty=parse_fixed(msg.max_order_quantity),
        max_order_notional=parse_fixed(msg.max_order_notional),
        price_collar_bps=msg.price_collar_bps,
        reference_max_age_ns=msg.reference_max_age_ms * 1_000_000,
        restricted=frozenset(msg.restricted_symbols),
        max_submits_per_second=msg.max_submits_per_second,
        version=msg.version,
    )


def state_to_proto(scope: ScopeKey, entry: StateEntry) -> risk_pb2.TradingStateInfo:
    return risk_pb2.TradingStateInfo(
        scope=common_pb2.Scope(account=scope[0], strategy=scope[1]),
        state=int(entry.state),
        actor=entry.actor,
        reason=entry.reason,
        changed_ns=entry.changed_ns,
    )


def state_from_proto(msg: risk_pb2.TradingStateInfo) -> tuple[ScopeKey, StateEntry]:
    return (msg.scope.account, msg.scope.strategy), StateEntry(
        TradingState(msg.state), msg.actor, msg.reason, msg.changed_ns
    )
