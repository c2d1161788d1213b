"""A desk whose pods the harness runs (tests/podharness), on a real PostgreSQL, and a client for it that goes
through its Services as a pod would: shared by the tests that run what the operator renders."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

import grpc
import pytest
from sqlalchemy import Engine, text

from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl
from tests.operator.process import PODS_DESK, PODS_NS, Operator
from tests.podharness.fixture import COLOCATION, PodHarness
from tradingdesk.storage.db import make_engine
from tradingdesk.v1 import common_pb2, market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc

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
    postgres: Any  # tests/postgres.py PostgresServer
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

    @contextlib.contextmanager
    def engine(self) -> Iterator[Engine]:
        """The desk's database, read directly (what the tests check the services wrote)."""
        engine = make_engine(self.dsn)
        try:
            yield engine
        finally:
            engine.dispose()

    def count(self, schema: str, table: str) -> int:
        with self.engine() as engine, engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {schema}.{table}")).scalar() or 0)


@pytest.fixture
def pods_desk(kube: Kubectl, operator: Operator, pod_harness: PodHarness, postgres_server) -> Iterator[PodsDesk]:
    kube.fresh_namespace(PODS_NS)
    dsn = postgres_server.create_database(f"pods_{uuid.uuid4().hex[:8]}")
    kube.run("create", "secret", "generic", f"{PODS_DESK}-db", "-n", PODS_NS, f"--from-literal=dsn={dsn}")
    doc = test_desk_document(PODS_DESK)
    doc["spec"]["placement"]["colocation"] = COLOCATION  # the harness's nodes
    doc["spec"]["storage"]["postgres"]["port"] = postgres_server.port
    # Plaintext: the harness dials Services and pods at loopback IPs of its own, which no certificate names (a
    # service's certificate holds its Service's DNS names). Mutual TLS in pods is tested by rendering
    # (tests/operator/test_render.py) and by services serving the operator's certificates (test_e2e.py).
    doc["spec"].setdefault("access", {})["tls"] = False
    desk = PodsDesk(kube, pod_harness, dsn, doc, postgres_server)
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


def list_orders(desk: PodsDesk) -> list[orders_pb2.Order] | None:
    try:
        request = orders_pb2.ListOrdersRequest(limit=10_000)
        return list(desk.call("routing", OrderStub, "ListOrders", request).orders)
    except grpc.RpcError:
        return None
