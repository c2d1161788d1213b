"""Risk limits and trading states as the gate holds them: fixed-point, immutable, swapped atomically.

``LimitSet`` is what every scope (desk, account, account+strategy) can set; 0 means "no limit at this scope".
``Limits`` is the desk's ``LimitSet`` plus the desk-wide settings and the tighter sets of accounts and
strategies, so one object is the whole picture a gate needs, replaced as one on every change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from tradingdesk.core.enums import TradingState
from tradingdesk.spec.model import RiskSpec, ScopeLimitsSpec, limit_contradictions
from tradingdesk.spec.types import units

SPEC_STATES = {"Active": TradingState.ACTIVE, "ReduceOnly": TradingState.REDUCING, "Halted": TradingState.HALTED}
MS = 1_000_000
SECOND = 1_000_000_000

ScopeKey = tuple[str, str]  # (account, strategy); ("", "") is the whole desk
DESK_SCOPE: ScopeKey = ("", "")


@dataclass(frozen=True, slots=True)
class LimitSet:
    """Limits one scope sets. Amounts are fixed-point units; 0 is no limit at this scope."""

    max_order_qty: int = 0
    max_order_notional: int = 0
    price_collar_bps: int = 0
    credit_limit: int = 0
    max_position_qty: int = 0
    max_gross_exposure: int = 0
    max_net_exposure: int = 0
    max_symbol_concentration_bps: int = 0
    max_sector_concentration_bps: int = 0
    max_submits_per_second: int = 0
    max_modifies_per_second: int = 0
    max_cancels_per_second: int = 0
    max_order_to_trade_ratio: int = 0
    max_repeated_executions: int = 0
    max_daily_loss: int = 0
    max_drawdown: int = 0
    duplicate_window_ns: int = 0
    restricted: frozenset[str] = field(default_factory=frozenset)

    @property
    def has_exposure_limits(self) -> bool:
        return bool(
            self.credit_limit
            or self.max_position_qty
            or self.max_gross_exposure
            or self.max_net_exposure
            or self.max_symbol_concentration_bps
            or self.max_sector_concentration_bps
        )

    def values(self) -> dict[str, int]:
        """Plain values under the spec's snake_case names, for ``limit_contradictions``."""
        out = {f.name: getattr(self, f.name) for f in fields(LimitSet) if f.name != "restricted"}
        out["max_position_quantity"] = self.max_position_qty
        out["max_order_quantity"] = self.max_order_qty
        return out

    @classmethod
    def from_scope_spec(cls, s: ScopeLimitsSpec) -> LimitSet:
        return cls(
            max_order_qty=units(s.max_order_quantity),
            max_order_notional=units(s.max_order_notional),
            price_collar_bps=s.price_collar_bps,
            max_submits_per_second=s.max_submits_per_second,
            duplicate_window_ns=s.duplicate_window_ms * MS,
            restricted=frozenset(s.restricted_symbols),
            **_shared_from_spec(s),
        )


def _shared_from_spec(s: ScopeLimitsSpec | RiskSpec) -> dict[str, int]:
    return {
        "credit_limit": units(s.credit_limit),
        "max_position_qty": units(s.max_position_quantity),
        "max_gross_exposure": units(s.max_gross_exposure),
        "max_net_exposure": units(s.max_net_exposure),
        "max_symbol_concentration_bps": s.max_symbol_concentration_bps,
        "max_sector_concentration_bps": s.max_sector_concentration_bps,
        "max_modifies_per_second": s.max_modifies_per_second,
        "max_cancels_per_second": s.max_cancels_per_second,
        "max_order_to_trade_ratio": s.max_order_to_trade_ratio,
        "max_repeated_executions": s.max_repeated_executions,
        "max_daily_loss": units(s.max_daily_loss),
        "max_drawdown": units(s.max_drawdown),
    }


@dataclass(frozen=True, slots=True)
class Breakers:
    """Circuit breakers and VaR settings of the risk service (it trips them; gates never see them act)."""

    max_consecutive_losses: int = 0
    max_venue_errors: int = 0
    venue_error_window_ns: int = 60 * SECOND
    slippage_spike_bps: int = 0
    max_slippage_spikes: int = 3
    slippage_window_ns: int = 60 * SECOND
    var_sample_ns: int = SECOND
    var_window: int = 500
    var_confidence_pct: int = 99
    max_var: int = 0
    max_expected_shortfall: int = 0


@dataclass(frozen=True, slots=True)
class Limits(LimitSet):
    """The desk's limits (its own ``LimitSet`` fields), desk-wide settings, and per-scope tighter sets."""

    reference_max_age_ns: int = 5 * SECOND
    version: int = 1
    order_to_trade_min_messages: int = 100
    order_to_trade_window_ns: int = 3_600 * SECOND
    repeated_execution_window_ns: int = SECOND
    short_sale_rule: bool = False
    easy_to_borrow: frozenset[str] = field(default_factory=frozenset)
    locates: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (account, symbol) -> shares located
    halted_symbols: frozenset[str] = field(default_factory=frozenset)
    luld_band_bps: int = 0
    luld_low_price_band_bps: int = 0
    luld_window_ns: int = 300 * SECOND
    stream_timeout_ns: int = 2 * SECOND
    scopes: Mapping[ScopeKey, LimitSet] = field(default_factory=dict)
    breakers: Breakers = field(default_factory=Breakers)

    @classmethod
    def from_spec(cls, spec: RiskSpec, version: int = 1) -> Limits:
        cb, var = spec.circuit_breakers, spec.var
        return cls(
            max_order_qty=units(spec.max_order_quantity),
            max_order_notional=units(spec.max_order_notional),
            price_collar_bps=spec.price_collar_bps,
            max_submits_per_second=spec.max_submits_per_second,
            **_shared_from_spec(spec),
            reference_max_age_ns=spec.reference_max_age_ms * MS,
            restricted=frozenset(spec.restricted_symbols),
            version=version,
            order_to_trade_min_messages=spec.order_to_trade_min_messages,
            order_to_trade_window_ns=spec.order_to_trade_window_s * SECOND,
            duplicate_window_ns=spec.duplicate_window_ms * MS,
            repeated_execution_window_ns=spec.repeated_execution_window_ms * MS,
            short_sale_rule=spec.short_sale_rule,
            easy_to_borrow=frozenset(spec.easy_to_borrow),
            locates=MappingProxyType({(x.account, x.symbol): units(x.quantity) for x in spec.locates}),
            halted_symbols=frozenset(spec.halted_symbols),
            luld_band_bps=spec.luld_band_bps,
            luld_low_price_band_bps=spec.luld_low_price_band_bps,
            luld_window_ns=spec.luld_window_s * SECOND,
            stream_timeout_ns=spec.gate_stream_timeout_ms * MS,
            scopes=MappingProxyType({(s.account, s.strategy): LimitSet.from_scope_spec(s) for s in spec.scopes}),
            breakers=Breakers(
                max_consecutive_losses=cb.max_consecutive_losses,
                max_venue_errors=cb.max_venue_errors,
                venue_error_window_ns=cb.venue_error_window_seconds * SECOND,
                slippage_spike_bps=cb.slippage_spike_bps,
                max_slippage_spikes=cb.max_slippage_spikes,
                slippage_window_ns=cb.slippage_window_seconds * SECOND,
                var_sample_ns=var.sample_ms * MS,
                var_window=var.window,
                var_confidence_pct=var.confidence_pct,
                max_var=units(var.max_var),
                max_expected_shortfall=units(var.max_expected_shortfall),
            ),
        )

    def scope_set(self, scope: ScopeKey) -> LimitSet | None:
        """The limits a scope sets itself (the desk's are this object)."""
        return self if scope == DESK_SCOPE else self.scopes.get(scope)


def limit_problems(limits: Limits, instruments: set[str], accounts: Mapping[str, frozenset[str]]) -> list[str]:
    """Why ``limits`` cannot be used, one ``field: problem`` per line with API (snake_case) field names.

    The contradiction rules are the spec model's (``limit_contradictions``), so a limit refused in YAML is
    refused the same way through ``SetLimits``.
    """
    out: list[str] = []
    desk = limits.values()
    desk["repeated_execution_window_ms"] = limits.repeated_execution_window_ns // MS
    desk["order_to_trade_window_s"] = limits.order_to_trade_window_ns // SECOND
    out += [f"limits.desk.{f}: {p}" for f, p in limit_contradictions(desk)]
    for i, (scope, ls) in enumerate(limits.scopes.items()):
        account, strategy = scope
        where = f"limits.scopes[{i}]"
        out += [f"{where}.limits.{f}: {p}" for f, p in limit_contradictions(ls.values())]
        if not account:
            out.append(f"{where}.scope.account: is required (the desk's own limits go in limits.desk)")
        elif account not in accounts:
            out.append(f"{where}.scope.account: {account!r} is not an account of this desk")
        elif strategy and accounts[account] and strategy not in accounts[account]:
            out.append(f"{where}.scope.strategy: {strategy!r} may not trade account {account!r}")
    for name, symbols in (
        ("restricted_symbols", limits.restricted),
        ("easy_to_borrow", limits.easy_to_borrow),
        ("halted_symbols", limits.halted_symbols),
    ):
        for symbol in sorted(symbols - instruments):
            out.append(f"limits.{name}: {symbol!r} is not an instrument of this desk")
    for i, ls in enumerate(limits.scopes.values()):
        for symbol in sorted(ls.restricted - instruments):
            out.append(f"limits.scopes[{i}].limits.restricted_symbols: {symbol!r} is not an instrument of this desk")
    for account, symbol in limits.locates:
        if account not in accounts:
            out.append(f"limits.locates: account {account!r} is not an account of this desk")
        if symbol not in instruments:
            out.append(f"limits.locates: {symbol!r} is not an instrument of this desk")
    return out


@dataclass(frozen=True, slots=True)
class StateEntry:
    state: TradingState
    actor: str = ""
    reason: str = ""
    changed_ns: int = 0
