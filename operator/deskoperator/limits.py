"""``spec.risk`` as the RiskService's ``RiskLimits`` message: what the operator sends live with ``SetLimits``.

Why the operator maps it itself: it talks to the desk through the generated contract only (never the risk
package's internals). tests/operator/test_limits.py checks that this message equals what the risk service
derives from the same spec at start, so the two can never drift apart unnoticed.

``spec.risk.httpPort`` is not a limit: it is where the risk process listens, and changing it rolls the risk pod.
"""

from __future__ import annotations

import hashlib

from tradingdesk.spec.model import RiskSpec, ScopeLimitsSpec
from tradingdesk.v1 import common_pb2, risk_pb2

MS_PER_S = 1_000

# ScopeLimitFields (every scope) -> LimitSet field, amounts as decimal strings, counts as ints
_SHARED_AMOUNTS = ("credit_limit", "max_gross_exposure", "max_net_exposure", "max_daily_loss", "max_drawdown")
_SHARED_COUNTS = (
    "max_symbol_concentration_bps",
    "max_sector_concentration_bps",
    "max_modifies_per_second",
    "max_cancels_per_second",
    "max_order_to_trade_ratio",
    "max_repeated_executions",
)


def _text(value: object) -> str:
    """A spec decimal as the risk service prints it (shortest exact form)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _limit_set(s: RiskSpec | ScopeLimitsSpec) -> risk_pb2.LimitSet:
    """The limits one scope sets (the desk's own, or an account's or strategy's)."""
    msg = risk_pb2.LimitSet(**{name: getattr(s, name) for name in _SHARED_COUNTS})
    for name in _SHARED_AMOUNTS:
        setattr(msg, name, _text(getattr(s, name)))
    msg.max_position_quantity = _text(s.max_position_quantity)
    msg.max_order_quantity = _text(s.max_order_quantity)
    msg.max_order_notional = _text(s.max_order_notional)
    msg.price_collar_bps = s.price_collar_bps
    msg.max_submits_per_second = s.max_submits_per_second
    msg.restricted_symbols.extend(sorted(s.restricted_symbols))
    msg.duplicate_window_ms = s.duplicate_window_ms
    return msg


def risk_limits(spec: RiskSpec) -> risk_pb2.RiskLimits:
    """The whole ``RiskLimits`` for ``spec`` (``version`` left 0: the service numbers its versions)."""
    cb, var = spec.circuit_breakers, spec.var
    desk = _limit_set(spec)
    return risk_pb2.RiskLimits(
        max_order_quantity=desk.max_order_quantity,
        max_order_notional=desk.max_order_notional,
        price_collar_bps=spec.price_collar_bps,
        restricted_symbols=sorted(spec.restricted_symbols),
        max_submits_per_second=spec.max_submits_per_second,
        reference_max_age_ms=spec.reference_max_age_ms,
        desk=desk,
        scopes=[
            risk_pb2.ScopeLimits(scope=common_pb2.Scope(account=s.account, strategy=s.strategy), limits=_limit_set(s))
            for s in sorted(spec.scopes, key=lambda s: (s.account, s.strategy))
        ],
        order_to_trade_min_messages=spec.order_to_trade_min_messages,
        order_to_trade_window_ms=spec.order_to_trade_window_s * MS_PER_S,
        duplicate_window_ms=spec.duplicate_window_ms,
        repeated_execution_window_ms=spec.repeated_execution_window_ms,
        short_sale_rule=spec.short_sale_rule,
        easy_to_borrow=sorted(spec.easy_to_borrow),
        locates=[
            risk_pb2.Locate(account=x.account, symbol=x.symbol, quantity=_text(x.quantity))
            for x in sorted(spec.locates, key=lambda x: (x.account, x.symbol))
        ],
        halted_symbols=sorted(spec.halted_symbols),
        luld_band_bps=spec.luld_band_bps,
        luld_low_price_band_bps=spec.luld_low_price_band_bps,
        luld_window_ms=spec.luld_window_s * MS_PER_S,
        gate_stream_timeout_ms=spec.gate_stream_timeout_ms,
        breakers=risk_pb2.CircuitBreakers(
            max_consecutive_losses=cb.max_consecutive_losses,
            max_venue_errors=cb.max_venue_errors,
            venue_error_window_ms=cb.venue_error_window_seconds * MS_PER_S,
            slippage_spike_bps=cb.slippage_spike_bps,
            max_slippage_spikes=cb.max_slippage_spikes,
            slippage_window_ms=cb.slippage_window_seconds * MS_PER_S,
            var_sample_ms=var.sample_ms,
            var_window=var.window,
            var_confidence_pct=var.confidence_pct,
            max_var=_text(var.max_var),
            max_expected_shortfall=_text(var.max_expected_shortfall),
        ),
    )


def without_version(limits: risk_pb2.RiskLimits) -> bytes:
    """The limits as comparable bytes, ignoring the service's version counter."""
    copy = risk_pb2.RiskLimits()
    copy.CopyFrom(limits)
    copy.version = 0
    return copy.SerializeToString(deterministic=True)


def limits_hash(limits: risk_pb2.RiskLimits) -> str:
    """Short fingerprint of a limits set, recorded in status as the one the RiskService confirmed."""
    return hashlib.sha256(without_version(limits)).hexdigest()[:16]
