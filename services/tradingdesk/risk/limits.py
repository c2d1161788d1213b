"""Risk limits and trading states as the gate holds them: fixed-point, immutable, swapped atomically."""

from __future__ import annotations

from dataclasses import dataclass, field

from tradingdesk.core.enums import TradingState
from tradingdesk.spec.model import RiskSpec
from tradingdesk.spec.types import units

SPEC_STATES = {"Active": TradingState.ACTIVE, "ReduceOnly": TradingState.REDUCING, "Halted": TradingState.HALTED}


@dataclass(frozen=True, slots=True)
class Limits:
    max_order_qty: int
    max_order_notional: int
    price_collar_bps: int
    reference_max_age_ns: int
    restricted: frozenset[str] = field(default_factory=frozenset)
    max_submits_per_second: int = 10_000
    version: int = 1

    @classmethod
    def from_spec(cls, spec: RiskSpec, version: int = 1) -> Limits:
        return cls(
            max_order_qty=units(spec.max_order_quantity),
            max_order_notional=units(spec.max_order_notional),
            price_collar_bps=spec.price_collar_bps,
            reference_max_age_ns=spec.reference_max_age_ms * 1_000_000,
            restricted=frozenset(spec.restricted_symbols),
            max_submits_per_second=spec.max_submits_per_second,
            version=version,
        )


ScopeKey = tuple[str, str]  # (account, strategy); ("", "") is the whole desk
DESK_SCOPE: ScopeKey = ("", "")


@dataclass(frozen=True, slots=True)
class StateEntry:
    state: TradingState
    actor: str = ""
    reason: str = ""
    changed_ns: int = 0
