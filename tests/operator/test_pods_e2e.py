"""The example desk applied with kubectl, its pods run for real by the harness (tests/podharness), its state in a
real PostgreSQL: the operator's rendering proven by running it.

What runs: the operator (a process), the migration Job's ``tradingdesk migrate``, the five services' processes
with the env, mounted ConfigMap and Secret, probes and Services the operator rendered; clients reach them through
the Services as a pod would. See tests/podharness/__init__.py for what this does and does not prove.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

import grpc
import pytest
from sqlalchemy import text

from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl
from tests.operator.process import PODS_DESK, PODS_NS, Operator
from tests.podharness.fixture import COLOCATION, PodHarness
from tradingdesk.storage.db import make_engine
from tradingdesk.v1 import (
    common_pb2,
    compliance_pb2,
    compliance_pb2_grpc,
    market_data_pb2,
    market_data_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
)

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(600)]

OrderStub = orders_pb2_grpc.OrderServiceStub
MarketStub = market_data_pb2_grpc.MarketDataServiceStub
PORTS = {"feeds": 50051, "routing": 50052, "risk": 50053, "compliance": 50054, "monitoring": 50055}


@dataclass
class PodsDesk:
    """A desk whose pods the harness runs, and a client for it that goes through its Services."""

    kube: Kubectl
    harness: PodHarness
    dsn: str
    document: dict[str, Any]
    name: str = PODS_DESK
    namespace: str = PODS_NS

    def address(self, service: str) -> str:
        return self.harness.address(self.namespace, f"{self.name}-{service}", PORTS[service])

    def call(self, service: str, stub_class: Any, method: str, request: Any, timeout: float = 5) -> Any:
        """One call on a channel of its own: after a pod moved, no channel waits out a reconnect back-off."""
        with grpc.insecure_channel(self.address(service)) as channel:
            return getattr(stub_class(channel), method)(request, timeout=timeout)

    def apply(self) -> None:
        self.kube.apply(self.document, self.namespace)

    def wait_ready(self, timeout: int = 240) -> None:
        try:
            self.kube.wait_ready(self.namespace, self.name, timeout=timeout)
        except AssertionError:
            raise AssertionError(f"desk not Ready:\n{self.diagnostics()}") from None

    def diagnostics(self) -> str:
        conds = self.kube.desk(self.namespace, self.name).get("status", {}).get("conditions", [])
        pods = self.kube.run("get", "pods", "-n", self.namespace, "-o", "wide", check=False).out
        return f"{json.dumps(conds, indent=1)}\n{pods}\n{self.harness.pod_logs(self.namespace)[-20000:]}"

    def count(self, schema: str, table: str) -> int:
        engine = make_engine(self.dsn)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text(f"SELECT count(*) FROM {schema}.{table}")).scalar() or 0)
        finally:
            engine.dispose()


@pytest.fixture
def pods_desk(kube: Kubectl, operator: Operator, pod_harness: PodHarness, postgres_server) -> Iterator[PodsDesk]:
    kube.fresh_namespace(PODS_NS)
    dsn = postgres_server.create_database(f"pods_{uuid.uuid4().hex[:8]}")
    kube.run("create", "secret", "generic", f"{PODS_DESK}-db", "-n", PODS_NS, f"--from-literal=dsn={dsn}")
    doc = test_desk_document(PODS_DESK)
    doc["spec"]["placement"]["colocation"] = COLOCATION  # the harness's nodes
    doc["spec"]["storage"]["postgres"]["port"] = postgres_server.port
    desk = PodsDesk(kube, pod_harness, dsn, doc)
    try:
        yield desk
    finally:
        kube.run("delete", "desk", "--all", "-n", PODS_NS, "--timeout=90s", check=False, timeout=120)
        kube.run("delete", "namespace", PODS_NS, "--wait=false", check=False)


def marketable_buy(desk: PodsDesk, client_order_id: str, symbol: str = "AAPL") -> orders_pb2.SubmitOrderRequest:
    quote = desk.call("feeds", MarketStub, "GetQuote", market_data_pb2.GetQuoteRequest(symbol=symbol))
    limit = (Decimal(quote.ask_price) * Decimal("1.01")).quantize(Decimal("0.01"), rounding=ROUND_UP)
    return orders_pb2.SubmitOrderRequest(
        client_order_id=client_order_id,
        account="ACC-EQ-1",
        strategy="manual",
        symbol=symbol,
        side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        quantity="100",
        limit_price=str(limit),
        time_in_force=common_pb2.TIME_IN_FORCE_DAY,
    )


def quoted(desk: PodsDesk) -> bool:
    try:
        return bool(
            desk.call("feeds", MarketStub, "GetQuote", market_data_pb2.GetQuoteRequest(symbol="AAPL")).ask_price
        )
    except grpc.RpcError:
        return False


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

    assert kube.wait_until("the audit mirror", audited, timeout=30)[:2] == ["pending_new", "new"]
    assert desk.count("us_equities_compliance", "audit_events") >= 3

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
    acked = _list(desk)
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
            for o in kube.wait_until("routing back", lambda: _list(desk), timeout=60)
        }
        assert {o.order_id: (o.status, o.cum_quantity) for o in acked} == after  # nothing lost, nothing added
        kube.wait_until("still refused as halted", refused_as_halted, timeout=60)
        assert kube.condition(desk.namespace, desk.name, "TradingHalted")["status"] == "True"
        desk.wait_ready()
    finally:
        desk.harness.power(victim, on=True)


def _list(desk: PodsDesk) -> list[orders_pb2.Order] | None:
    try:
        return list(desk.call("routing", OrderStub, "ListOrders", orders_pb2.ListOrdersRequest()).orders)
    except grpc.RpcError:
        return None
