"""Limits in the spec and on the wire: contradictions are refused with the field named, the spec's limits reach
the gate exactly, and the wire form round-trips."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tradingdesk.core.reject import Reject
from tradingdesk.risk.limits import Limits, LimitSet, limit_problems
from tradingdesk.risk.wire import limits_from_proto, limits_to_proto
from tradingdesk.spec import SpecError, parse_desk
from tradingdesk.spec.types import units

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "examples" / "desk.yaml").read_text())


def problems(risk: dict) -> list[str]:
    doc = copy.deepcopy(EXAMPLE)
    doc["spec"]["risk"].update(risk)
    with pytest.raises(SpecError) as exc:
        parse_desk(doc)
    return exc.value.problems


@pytest.mark.parametrize(
    ("risk", "expected"),
    [
        ({"maxGrossExposure": "1000", "maxNetExposure": "2000"}, "spec.risk: maxNetExposure: must not exceed"),
        ({"maxGrossExposure": "0", "maxSymbolConcentrationBps": 100}, "maxSymbolConcentrationBps: needs maxGross"),
        ({"creditLimit": "1000", "maxOrderNotional": "5000"}, "creditLimit: must be at least maxOrderNotional"),
        ({"maxSectorConcentrationBps": 10_001}, "spec.risk.maxSectorConcentrationBps"),
        ({"luldBandBps": -1}, "spec.risk.luldBandBps"),
        ({"gateStreamTimeoutMs": 10}, "spec.risk.gateStreamTimeoutMs"),
        ({"creditLimit": "1e6"}, "spec.risk.creditLimit"),
        ({"easyToBorrow": ["AAPL", "AAPL"]}, "easyToBorrow: must be unique, repeated: AAPL"),
        (
            {"scopes": [{"account": "ACC-EQ-1", "maxGrossExposure": "10", "maxNetExposure": "20"}]},
            "spec.risk.scopes[0]: maxNetExposure: must not exceed maxGrossExposure",
        ),
        (
            {"scopes": [{"account": "ACC-EQ-1"}, {"account": "ACC-EQ-1"}]},
            "scopes[1]: repeats account 'ACC-EQ-1'",
        ),
        ({"scopes": [{"strategy": "twap"}]}, "spec.risk.scopes[0].account"),
        ({"locates": [{"account": "ACC-EQ-1", "symbol": "NVDA"}]}, "spec.risk.locates[0].quantity"),
        ({"circuitBreakers": {"maxSlippageSpikes": 0}}, "spec.risk.circuitBreakers.maxSlippageSpikes"),
        ({"var": {"window": 5}}, "spec.risk.var.window"),
    ],
)
def test_contradicting_limits_are_refused_with_the_field_named(risk: dict, expected: str) -> None:
    found = problems(risk)
    assert any(expected in p for p in found), found


def test_cross_check_names_unknown_accounts_and_symbols() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["spec"]["risk"].update(
        easyToBorrow=["TSLA"],
        locates=[{"account": "NOBODY", "symbol": "AAPL", "quantity": "1"}],
        scopes=[{"account": "ACC-EQ-1", "strategy": "hft"}, {"account": "GHOST"}],
    )
    with pytest.raises(SpecError) as exc:  # the desk's own validation runs the risk cross-check
        parse_desk(doc)
    found = [p for p in exc.value.problems if p.startswith("spec.risk.")]
    assert found == [
        "spec.risk.easyToBorrow[0]: 'TSLA' is not an instrument of the desk",
        "spec.risk.locates[0].account: 'NOBODY' is not an account of the desk",
        "spec.risk.scopes[0].strategy: 'hft' may not trade account 'ACC-EQ-1'",
        "spec.risk.scopes[1].account: 'GHOST' is not an account of the desk",
    ]


def test_example_limits_reach_the_gate_exactly() -> None:
    desk = parse_desk(copy.deepcopy(EXAMPLE))
    risk = desk.spec.risk
    limits = Limits.from_spec(risk)
    assert limits.max_order_quantity == units(risk.max_order_quantity) == 50_000 * 10**9
    assert limits.credit_limit == 50_000_000 * 10**9 and limits.max_symbol_concentration_bps == 2_500
    assert limits.short_sale_rule and "AAPL" in limits.easy_to_borrow
    assert limits.locates[("ACC-EQ-1", "NVDA")] == 5_000 * 10**9
    assert limits.scopes[("ACC-EQ-1", "vwap")].max_submits_per_second == 200
    assert limits.gate_stream_timeout_ms == 2_000 and limits.var.max_var == 500_000 * 10**9
    assert not limit_problems(limits, {i.symbol for i in desk.spec.instruments}, {"ACC-EQ-1": frozenset()})


def test_wire_form_round_trips() -> None:
    desk = parse_desk(copy.deepcopy(EXAMPLE))
    limits = Limits.from_spec(desk.spec.risk, version=7)
    back = limits_from_proto(limits_to_proto(limits), strict=True)
    assert back == limits


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda m: setattr(m.desk, "credit_limit", "-5"), "limits.desk.credit_limit"),
        (lambda m: setattr(m.desk, "max_order_notional", "1.0000000001"), "limits.desk.max_order_notional"),
        (lambda m: setattr(m.desk, "max_submits_per_second", -1), "limits.desk.max_submits_per_second"),
        (lambda m: setattr(m.desk, "price_collar_bps", 20_000), "limits.desk.price_collar_bps"),
        (lambda m: setattr(m.desk, "price_collar_bps", 0), "limits.desk.price_collar_bps"),
        (lambda m: setattr(m, "gate_stream_timeout_ms", 5), "limits.gate_stream_timeout_ms"),
        (lambda m: setattr(m, "reference_max_age_ms", 0), "limits.reference_max_age_ms"),
        (lambda m: m.locates.add(account="ACC-EQ-1", symbol="NVDA", quantity="1"), "limits.locates[1]"),
        (lambda m: setattr(m.breakers, "var_confidence_pct", 100), "limits.breakers.var_confidence_pct"),
        (lambda m: setattr(m.scopes[0].limits, "max_daily_loss", "x"), "limits.scopes[0].limits.max_daily_loss"),
    ],
)
def test_wire_limits_are_checked_field_by_field(mutate, field: str) -> None:
    msg = limits_to_proto(Limits.from_spec(parse_desk(copy.deepcopy(EXAMPLE)).spec.risk))
    mutate(msg)
    with pytest.raises(Reject) as exc:
        limits_from_proto(msg, strict=True)
    assert exc.value.message.startswith(field), exc.value.message


def test_limit_problems_name_the_field() -> None:
    limits = Limits(
        max_gross_exposure=10,
        max_net_exposure=20,
        restricted_symbols=frozenset({"ZZZ"}),
        scopes={("ACC", "x"): LimitSet(max_symbol_concentration_bps=5), ("", ""): LimitSet()},
    )
    found = limit_problems(limits, {"AAPL"}, {"ACC": frozenset({"y"})})
    assert found == [
        "limits.desk.max_net_exposure: must not exceed max_gross_exposure (net is never above gross)",
        "limits.scopes[0].limits.max_symbol_concentration_bps: needs max_gross_exposure at the same scope: "
        "concentration is a share of it",
        "limits.scopes[0].scope.strategy: 'x' may not trade account 'ACC'",
        "limits.scopes[1].scope.account: is required (the desk's own limits go in limits.desk)",
        "limits.restricted_symbols: 'ZZZ' is not an instrument of this desk",
    ]
