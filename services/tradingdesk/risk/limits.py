"""Risk limits as the gate and the real-time monitor hold them: the spec model's fields, in fixed point.

There is one limits model, the spec's (``spec/model.py``: ``RiskSpec``, ``ScopeLimitsSpec``,
``CircuitBreakerSpec``, ``VarSpec``). The classes here are derived from it field by field, with the same
names: a decimal amount becomes fixed-point units, a list of symbols a frozenset, a list of locates a
mapping, and every other value is kept as it is. Adding a limit to the spec adds it here, to the proto
mapping (``risk/wire.py``) and to the bounds ``SetLimits`` enforces, with nothing restated.

``LimitSet`` is what every scope (desk, account, account+strategy) can set; 0 means "no limit at this scope".
``Limits`` is the desk's ``LimitSet`` plus the desk-wide settings and the tighter sets of accounts and
strategies, so one immutable object is the whole picture a gate needs, replaced as one on every change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, make_dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from tradingdesk.core.enums import TradingState
from tradingdesk.risk.scope import DESK_SCOPE, ScopeKey
from tradingdesk.spec.model import CircuitBreakerSpec, RiskSpec, ScopeLimitsSpec, VarSpec, limit_contradictions
from tradingdesk.spec.types import units

SPEC_STATES = {"Active": TradingState.ACTIVE, "ReduceOnly": TradingState.REDUCING, "Halted": TradingState.HALTED}

SCOPE_ONLY = ("account", "strategy")  # which scope a ScopeLimitsSpec is for, not a limit
NOT_LIMITS = ("http_port", "snapshots")  # where the kill switch listens, how often state is saved: not limits


def is_amount(model: type[BaseModel], name: str) -> bool:
    """Whether a spec field is a decimal amount (fixed-point units here, a decimal string on the wire)."""
    return model.model_fields[name].annotation is Decimal


def bounds(model: type[BaseModel], name: str) -> tuple[int | None, int | None]:
    """The spec's ``ge``/``le`` of an integer field: the same bounds for YAML and for ``SetLimits``."""
    low = high = None
    for rule in model.model_fields[name].metadata:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    return low, high


def _fixed_point(value: Any, model: type[BaseModel], name: str) -> Any:
    if is_amount(model, name):
        return units(value)
    if isinstance(value, list):
        return frozenset(value)
    return value


def _derive(name: str, model: type[BaseModel], *, skip: tuple[str, ...] = (), bases: tuple[type, ...] = ()) -> type:
    """A frozen dataclass with ``model``'s fields (minus ``skip``) in fixed point. Defaults are "off": 0 for
    amounts, counts and switches, except counts the spec never lets be 0 (windows, timeouts), which keep the
    spec's default."""
    inherited = {f.name for base in bases for f in fields(base)}
    spec_fields = []
    for fname, info in model.model_fields.items():
        if fname in skip or fname in inherited:
            continue
        if is_amount(model, fname):
            spec_fields.append((fname, int, field(default=0)))
        elif info.annotation in (list[str],):
            spec_fields.append((fname, frozenset, field(default_factory=frozenset)))
        elif info.annotation is bool:
            spec_fields.append((fname, bool, field(default=False)))
        else:  # a count: off (0) when the spec allows 0, else the spec's default (a window, a timeout)
            low, _ = bounds(model, fname)
            spec_fields.append((fname, info.annotation, field(default=info.default if low and low > 0 else 0)))
    return make_dataclass(name, spec_fields, bases=bases, frozen=True, slots=True, kw_only=True)


def _from_spec(cls: type, spec: BaseModel, **overrides: Any) -> Any:
    """``cls`` filled from ``spec``'s fields of the same names (``overrides`` for those that need more)."""
    model = type(spec)
    values = {
        f.name: _fixed_point(getattr(spec, f.name), model, f.name)
        for f in fields(cls)
        if f.name in model.model_fields and f.name not in overrides
    }
    return cls(**values, **overrides)


_LimitSetFields = _derive("_LimitSetFields", ScopeLimitsSpec, skip=SCOPE_ONLY)
_BreakerFields = _derive("_BreakerFields", CircuitBreakerSpec)
_VarFields = _derive("_VarFields", VarSpec)


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitSet(_LimitSetFields):
    """Limits one scope sets: ``ScopeLimitsSpec``'s fields, amounts in fixed-point units, 0 for no limit."""

    @property
    def has_exposure_limits(self) -> bool:
        return bool(
            self.credit_limit
            or self.max_position_quantity
            or self.max_gross_exposure
            or self.max_net_exposure
            or self.max_symbol_concentration_bps
            or self.max_sector_concentration_bps
        )

    def values(self) -> dict[str, int]:
        """Plain values under the spec's names, for ``limit_contradictions``."""
        return {f.name: value for f in fields(self) if type(value := getattr(self, f.name)) is int}

    @classmethod
    def from_spec(cls, spec: ScopeLimitsSpec) -> LimitSet:
        return _from_spec(cls, spec)


@dataclass(frozen=True, slots=True, kw_only=True)
class Breakers(_BreakerFields):
    """``CircuitBreakerSpec`` in fixed point: breakers the risk service trips (gates never see them act)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VarLimits(_VarFields):
    """``VarSpec`` in fixed point: intraday VaR and expected shortfall."""


_DESK_ONLY = ("locates", "circuit_breakers", "var", "scopes", *NOT_LIMITS)
_DeskFields = _derive("_DeskFields", RiskSpec, skip=_DESK_ONLY, bases=(LimitSet,))


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits(_DeskFields):
    """``RiskSpec`` in fixed point: the desk's own ``LimitSet``, the desk-wide settings, and the tighter sets of
    accounts and strategies. ``version`` moves with every change (``SetLimits``)."""

    locates: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (account, symbol) -> shares located
    circuit_breakers: Breakers = field(default_factory=Breakers)
    var: VarLimits = field(default_factory=VarLimits)
    scopes: Mapping[ScopeKey, LimitSet] = field(default_factory=dict)
    version: int = 1

    @classmethod
    def from_spec(cls, spec: RiskSpec, version: int = 1) -> Limits:
        return _from_spec(
            cls,
            spec,
            locates=MappingProxyType({(x.account, x.symbol): units(x.quantity) for x in spec.locates}),
            circuit_breakers=_from_spec(Breakers, spec.circuit_breakers),
            var=_from_spec(VarLimits, spec.var),
            scopes=MappingProxyType({(s.account, s.strategy): LimitSet.from_spec(s) for s in spec.scopes}),
            version=version,
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
    for name in ("restricted_symbols", "easy_to_borrow", "halted_symbols"):
        for symbol in sorted(getattr(limits, name) - instruments):
            out.append(f"limits.{name}: {symbol!r} is not an instrument of this desk")
    for i, ls in enumerate(limits.scopes.values()):
        for symbol in sorted(ls.restricted_symbols - instruments):
            out.append(f"limits.scopes[{i}].limits.restricted_symbols: {symbol!r} is not an instrument of this desk")
    for account, symbol in limits.locates:
        if account not in accounts:
            out.append(f"limits.locates: account {account!r} is not an account of this desk")
        if symbol not in instruments:
            out.append(f"limits.locates: {symbol!r} is not an instrument of this desk")
    return out


@dataclass(frozen=True, slots=True)
class StateEntry:
    """A scope's trading state, who set it, why and when."""

    state: TradingState
    actor: str = ""
    reason: str = ""
    changed_ns: int = 0
