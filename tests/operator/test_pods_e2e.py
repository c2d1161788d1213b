"""The example desk applied with kubectl, its pods run for real by the harness (tests/podharness), its state in a
real PostgreSQL: the operator's rendering proven by running it.

What runs: the operator (a process), the migration Job's ``tradingdesk migrate``, the five services' processes
with the env, mounted ConfigMap and Secret, probes and Services the operator rendered; clients reach them through
the Services as a pod would. See tests/podharness/__init__.py for what this does and does not prove.
"""

from __future__ import annotations

import uuid

import grpc
import pytest

from tests.operator.kubectl import Kubectl
from tests.operator.pods import OrderStub, PodsDesk, list_orders, marketable_buy, pods_desk, quoted
from tradingdesk.v1 import clock_pb2, clock_pb2_grpc, common_pb2, compliance_pb2, compliance_pb2_grpc, orders_pb2

__all__ = ["pods_desk"]  # the fixture

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(600)]


def market_time_gap_s(desk: PodsDesk, service: str) -> float:
    """How far ``service``'s desk clock is from the feeds service's (ReadClock on each, one after the other)."""
    request = clock_pb2.ReadClockRequest()
    feeds = desk.call("feeds", clock_pb2_grpc.ClockServiceStub, "ReadClock", request).now_ns
    other = desk.call(service, clock_pb2_grpc.ClockServiceStub, "ReadClock", request).now_ns
    return abs(other - feeds) / 1e9


def test_the_example_desk_trades_through_real_pods_on_postgresql(kube: Kubectl, pods_desk: PodsDesk) -> None:
    desk = pods_desk
    desk.apply()
    desk.wait_ready()
    pods = kube.json("get", "pods", "-n", desk.namespace, "-l", f"app.kubernetes.io/instance={desk.name}")["items"]
    by_component = {p["metadata"]["labels"]["app.kubernetes.io/component"]: p for p in pods}
    assert set(by_component) == {"feeds", "routing", "risk", "compliance", "monitoring", "migrate"}
    assert by_component["migrate"]["status"]["phase"] == "Succeeded"  # the Job ran `tradingdesk migrate`
    for name, pod in by_component.items():
        assert pod["spec"]["nodeName"] in ("px-node-1", "px-node-2"), name
    kube.wait_until("quotes through the feeds Service", lambda: quoted(desk), timeout=60)

    def filled() -> orders_pb2.Order | None:
        query = orders_pb2.GetOrderRequest(account="ACC-EQ-1", client_order_id="pods-1")
        order = desk.call("routing", OrderStub, "GetOrder", query)
        return order if order.status == common_pb2.ORDER_STATUS_FILLED else None

    def submit() -> orders_pb2.OrderAck | None:
        try:
            return desk.call("routing", OrderStub, "SubmitOrder", marketable_buy(desk, "pods-1"))
        except grpc.RpcError as exc:  # the gate refuses until it has a fresh reference from the tape
            assert exc.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAVAILABLE), exc.details()
            return None

    ack = kube.wait_until("an order acknowledged", submit, timeout=60)
    assert ack.status in (common_pb2.ORDER_STATUS_NEW, common_pb2.ORDER_STATUS_PENDING_NEW)
    order = kube.wait_until("the order filled", filled, timeout=60)
    positions = desk.call("routing", OrderStub, "GetPositions", orders_pb2.GetPositionsRequest(account="ACC-EQ-1"))
    (aapl,) = [p for p in positions.positions if p.symbol == "AAPL"]
    assert aapl.quantity == order.cum_quantity == "100"

    # every service keeps its state in its own schema of the real database
    assert desk.count("us_equities_routing", "journal") >= 3  # pending_new, new, trade...

    def audited() -> list[str]:
        query = compliance_pb2.QueryAuditRequest(order_id=ack.order_id)
        events = desk.call("compliance", compliance_pb2_grpc.ComplianceServiceStub, "QueryAudit", query).events
        return [e.kind for e in events] if events and events[-1].kind == "trade" else []

    assert kube.wait_until("the audit trail", audited, timeout=30)[:2] == ["pending_new", "new"]
    assert desk.count("us_equities_compliance", "audit_log") >= 3

    # the kill switch through the spec: the operator reaches risk through its Service, risk journals it in
    # PostgreSQL, routing's gate refuses new orders
    kube.run("patch", "desk", desk.name, "-n", desk.namespace, "--type", "merge", "-p",
             '{"spec":{"tradingState":"Halted"}}')  # fmt: skip
    kube.wait_until(
        "TradingHalted confirmed by the RiskService",
        lambda: kube.condition(desk.namespace, desk.name, "TradingHalted").get("reason") == "HaltedBySpec",
        timeout=30,
    )

    def refused_as_halted() -> bool:
        try:
            desk.call("routing", OrderStub, "SubmitOrder", marketable_buy(desk, f"pods-halted-{uuid.uuid4().hex[:6]}"))
        except grpc.RpcError as exc:
            return exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "trading is halted" in exc.details()
        return False

    kube.wait_until("orders refused while halted", refused_as_halted, timeout=30)
    assert desk.count("us_equities_risk", "risk_changes") >= 2  # the spec's state at start, then the halt

    # a node failure: the node holding routing loses power; its pods move to the other node and find their
    # state in PostgreSQL: every acknowledged order is there, the desk is still halted
    acked = list_orders(desk)
    assert acked
    victim = by_component["routing"]["spec"]["nodeName"]
    moved_before = {c for c, p in by_component.items() if p["spec"]["nodeName"] == victim and c != "migrate"}
    desk.harness.power(victim, on=False)
    try:

        def moved() -> bool:
            current = kube.json("get", "pods", "-n", desk.namespace, "-l", f"app.kubernetes.io/instance={desk.name}")
            live = [p for p in current["items"] if not p["metadata"].get("deletionTimestamp")]
            ready = {
                p["metadata"]["labels"]["app.kubernetes.io/component"]
                for p in live
                if p["spec"].get("nodeName") not in (None, victim)
                and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
            }
            return moved_before <= ready

        kube.wait_until(f"{', '.join(sorted(moved_before))} to move off {victim}", moved, timeout=180)
        after = {
            o.order_id: (o.status, o.cum_quantity)
            for o in kube.wait_until("routing back", lambda: list_orders(desk), timeout=60)
        }
        assert {o.order_id: (o.status, o.cum_quantity) for o in acked} == after  # nothing lost, nothing added
        # the routing pod started again tells the desk's time, not a clock from its own start (which would be
        # behind by as long as the desk had run)
        assert market_time_gap_s(desk, "routing") < 2
        kube.wait_until("still refused as halted", refused_as_halted, timeout=60)
        assert kube.condition(desk.namespace, desk.name, "TradingHalted")["status"] == "True"
        desk.wait_ready()
    finally:
        desk.harness.power(victim, on=True)
