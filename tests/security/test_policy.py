"""The authorization table covers every RPC of the contract and every HTTP route, and its entitlement fields
exist on the requests they name."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import descriptor_pool

from tradingdesk.security.identity import Identity, entitlement_refusal, role_refusal
from tradingdesk.security.policy import HTTP_RULES, RPC_RULES
from tradingdesk.v1 import (
    clock_pb2,
    compliance_pb2,
    market_data_pb2,
    monitoring_pb2,
    orders_pb2,
    risk_pb2,
)

MODULES = (clock_pb2, compliance_pb2, market_data_pb2, monitoring_pb2, orders_pb2, risk_pb2)


def contract_methods() -> dict[str, object]:
    out = {}
    for module in MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                out[f"/{service.full_name}/{method.name}"] = method
    return out


def test_every_rpc_of_the_contract_has_a_rule() -> None:
    missing = sorted(set(contract_methods()) - set(RPC_RULES))
    assert not missing, f"RPCs without an authorization rule (refused for everyone): {missing}"


def _field_exists(descriptor, path: str) -> bool:
    for part in path.split("."):
        field = descriptor.fields_by_name.get(part)
        if field is None:
            return False
        descriptor = field.message_type or descriptor
    return True


@pytest.mark.parametrize("name", sorted(contract_methods()))
def test_entitlement_fields_exist_on_the_request(name: str) -> None:
    method = contract_methods()[name]
    rule = RPC_RULES[name]
    request = method.input_type
    if rule.items:
        request = request.fields_by_name[rule.items].message_type
    for path in (*rule.account, *rule.strategy):
        assert _field_exists(request, path), f"{name}: {request.full_name} has no field {path}"


def test_rules_name_only_methods_that_exist() -> None:
    pool = descriptor_pool.Default()
    for name in RPC_RULES:
        service, method = name.strip("/").split("/")
        if service.startswith("grpc."):
            continue
        assert pool.FindServiceByName(service).methods_by_name[method]


def test_every_http_route_of_the_kill_switch_has_a_rule() -> None:
    from tradingdesk.risk.http import build_app

    routes = {
        (m, r.path) for r in build_app(None, None).routes for m in getattr(r, "methods", ()) if r.path != "/healthz"
    }
    assert routes == set(HTTP_RULES)


def test_privileged_calls_are_the_controls() -> None:
    privileged = {n.rsplit("/", 1)[1] for n, r in RPC_RULES.items() if r.privileged}
    assert privileged == {
        "SetLineEnabled",
        "SetVenueFault",
        "SetLimits",
        "SetTradingState",
        "KillSwitch",
        "Resume",
        "ReleaseLatch",
        "Seal",
        "SilenceAlert",  # an alert hidden from whoever is paged is a control change too
    }
    assert {p for (_, p), r in HTTP_RULES.items() if r.privileged} == {"/v1/kill", "/v1/resume"}


TRADER = Identity("alice", frozenset({"trader"}), frozenset({"ACC-1"}), frozenset({"twap"}))
RISK = Identity("rita", frozenset({"risk_officer"}))


def rule(method: str):
    return RPC_RULES["/tradingdesk.v1." + method]


def test_only_a_risk_officer_resumes() -> None:
    assert role_refusal(RISK, rule("RiskService/Resume"), "Resume") is None
    refusal = role_refusal(TRADER, rule("RiskService/Resume"), "Resume")
    assert refusal == "alice (roles: trader) may not call Resume: it needs one of the roles risk_officer"
    service = Identity("svc:operator", frozenset({"service"}))
    assert role_refusal(service, rule("RiskService/Resume"), "Resume") is not None


def test_a_trader_acts_only_for_its_accounts_and_strategies() -> None:
    submit = rule("OrderService/SubmitOrder")
    assert entitlement_refusal(TRADER, submit, orders_pb2.SubmitOrderRequest(account="ACC-1", strategy="twap")) is None
    assert entitlement_refusal(TRADER, submit, orders_pb2.SubmitOrderRequest(account="ACC-2")) == (
        "alice is not entitled to account 'ACC-2'"
    )
    assert entitlement_refusal(TRADER, submit, orders_pb2.SubmitOrderRequest(account="ACC-1", strategy="vwap")) == (
        "alice is not entitled to strategy 'vwap' (only twap)"
    )
    listing = rule("OrderService/ListOrders")
    assert "name one in the account field" in entitlement_refusal(TRADER, listing, orders_pb2.ListOrdersRequest())
    assert entitlement_refusal(RISK, listing, orders_pb2.ListOrdersRequest()) is None
    state = rule("RiskService/GetTradingState")  # the desk's own state concerns no account
    assert entitlement_refusal(TRADER, state, risk_pb2.GetTradingStateRequest()) is None
    session = rule("OrderService/OrderSession")
    item = orders_pb2.SessionRequest(cancel=orders_pb2.CancelOrderRequest(account="ACC-2"))
    assert entitlement_refusal(TRADER, session, item) == "alice is not entitled to account 'ACC-2'"


def test_the_docs_matrix_is_the_table() -> None:
    from tradingdesk.security.policy import MATRIX_BEGIN, MATRIX_END, matrix

    text = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    body = text[text.index(MATRIX_BEGIN) + len(MATRIX_BEGIN) : text.index(MATRIX_END)]
    assert body.strip() == matrix(), "regenerate docs/security.md's matrix: python -m tradingdesk.security.policy"
