"""One active router with a hot standby (and the same for risk), run for real by the harness on PostgreSQL: the
active routing pod killed while a client trades through the Service (``routing_failover_ms``, no acknowledged
order lost or duplicated); then a node lost while the desk is halted; then a rolling upgrade that moves the
active replica by a switchover."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import grpc
import pytest

from tests.operator.kubectl import Kubectl
from tests.operator.pods import MarketStub, OrderStub, PodsDesk, list_orders, marketable_buy, pods_desk, quoted
from tradingdesk.v1 import common_pb2, market_data_pb2, orders_pb2, orders_pb2_grpc

__all__ = ["pods_desk"]  # the fixture

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

# a client that reconnects quickly (gRPC's default back-off reaches seconds after a few refused connects)
CLIENT_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 50), ("grpc.max_reconnect_backoff_ms", 200)]


@dataclass
class Trader:
    """Sends orders one after another through the routing Service; each is resent with the same client order
    id until it is acknowledged (the idempotency a real client relies on). Records every acknowledgement."""

    desk: PodsDesk
    prefix: str
    acked: dict[str, str] = field(default_factory=dict)  # client order id -> order id
    ack_times: list[tuple[float, str]] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)
    last_refusal: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def run(self, limit: Decimal) -> threading.Thread:
        thread = self.thread = threading.Thread(target=self._loop, args=(limit,), daemon=True)
        thread.start()
        return thread

    def wait_for_acks(self, kube: Kubectl, more: int, what: str, timeout: float = 60) -> None:
        """Wait for ``more`` acknowledgements than now; on a timeout, say what the client saw (its refusals, the
        last one's detail, whether it still runs) and what the desk's pods logged, so a failure can be read."""
        target = len(self.acked) + more
        try:
            kube.wait_until(what, lambda: len(self.acked) >= target, timeout=timeout)
        except AssertionError as exc:
            alive = self.thread is not None and self.thread.is_alive()
            raise AssertionError(
                f"{exc}\nclient: {len(self.acked)} acknowledged (waited for {target}), refusals {self.refusals}, "
                f"last {self.last_refusal!r}, its thread {'running' if alive else 'ended'}\n"
                f"{self.desk.diagnostics()}\n{self.desk.harness.log()[-6000:]}"
            ) from None

    def _loop(self, limit: Decimal) -> None:
        channel = grpc.insecure_channel(self.desk.address("routing"), options=CLIENT_OPTIONS)
        stub = orders_pb2_grpc.OrderServiceStub(channel)
        i = 0
        while not self.stop.is_set():
            coid = f"{self.prefix}-{i}"
            request = resting_buy(coid, limit)
            while not self.stop.is_set():
                try:
                    ack = stub.SubmitOrder(request, timeout=2)
                except grpc.RpcError as exc:
                    self.refusals[exc.code().name] = self.refusals.get(exc.code().name, 0) + 1
                    self.last_refusal = f"{exc.code().name}: {exc.details()}"
                    self.stop.wait(0.02)
                    continue
                self.acked[coid] = ack.order_id
                self.ack_times.append((time.monotonic(), coid))
                break
            i += 1
        channel.close()


def resting_buy(coid: str, limit: Decimal) -> orders_pb2.SubmitOrderRequest:
    """A small buy well under the market: acknowledged, never filled, so the client's rate is the order path's."""
    return orders_pb2.SubmitOrderRequest(
        client_order_id=coid, account="ACC-EQ-2", symbol="AAPL", side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT, quantity="1", limit_price=str(limit),
        time_in_force=common_pb2.TIME_IN_FORCE_DAY,
    )  # fmt: skip


def routing_pods(kube: Kubectl, desk: PodsDesk) -> list[dict[str, Any]]:
    items = kube.json("get", "pods", "-n", desk.namespace, "-l", "app.kubernetes.io/component=routing")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def start_desk(kube: Kubectl, desk: PodsDesk) -> Decimal:
    """Two routing and two risk replicas, one pod of each per node; returns a limit price under the market."""
    desk.document["spec"]["services"] = {"routing": {"replicas": 2}, "risk": {"replicas": 2}}
    desk.apply()
    desk.wait_ready()
    kube.wait_until("quotes", lambda: quoted(desk), timeout=60)
    bid = Decimal(desk.call("feeds", MarketStub, "GetQuote", market_data_pb2.GetQuoteRequest(symbol="AAPL")).bid_price)
    return (bid * Decimal("0.98")).quantize(Decimal("0.01"))


def check_nothing_lost_or_duplicated(desk: PodsDesk, trader: Trader) -> None:
    orders = desk.kube.wait_until("the active router to list the orders", lambda: list_orders(desk), timeout=60)
    by_client = {}
    for o in orders:
        assert o.client_order_id not in by_client, f"{o.client_order_id} twice"
        by_client[o.client_order_id] = o.order_id
    missing = [c for c in trader.acked if by_client.get(c) != trader.acked[c]]
    with desk.engine() as engine, engine.connect() as conn:
        if missing:
            in_journal = conn.exec_driver_sql(
                "SELECT count(*) FROM us_equities_routing.journal WHERE kind = 'pending_new' AND "
                f"payload::json->>'client_order_id' = '{missing[0]}'"
            ).scalar()
            raise AssertionError(
                f"acknowledged orders not listed: {missing[:10]} ({len(missing)} of {len(trader.acked)}; listed "
                f"{len(orders)}; {missing[0]} in the journal {in_journal} times)"
            )
        pending = conn.exec_driver_sql(
            "SELECT payload::json->>'client_order_id' AS c, count(*) FROM us_equities_routing.journal "
            "WHERE kind = 'pending_new' GROUP BY c HAVING count(*) > 1"
        ).all()
    assert pending == []  # each order entered the journal once


def test_routing_failover_loses_and_duplicates_no_order_and_a_lost_node_keeps_the_halt(
    kube: Kubectl, pods_desk: PodsDesk
) -> None:
    desk = pods_desk
    limit = start_desk(kube, desk)
    pods = routing_pods(kube, desk)
    assert len(pods) == 2 and len({p["spec"]["nodeName"] for p in pods}) == 2
    (active,) = [p for p in pods if ready(p)]  # the standby is alive but not ready: not behind the Service

    trader = Trader(desk, "fo")
    thread = trader.run(limit)
    trader.wait_for_acks(kube, 50, "orders flowing")
    kube.run("delete", "pod", active["metadata"]["name"], "-n", desk.namespace, "--grace-period=0", "--force")
    trader.wait_for_acks(kube, 50, "orders flowing again")
    trader.stop.set()
    thread.join(10)
    # The client's view of the failover: the longest wait between two acknowledgements, from the old active
    # router's last to the new one's first (the process dies somewhere inside it: an upper bound of "killed to
    # first order acknowledged by the new active router").
    times = [t for t, _ in trader.ack_times]
    failover_ms = max(b - a for a, b in itertools.pairwise(times)) * 1000
    print(
        f"\n[failover] routing_failover_ms <= {failover_ms:.0f} (longest gap between acknowledgements through the "
        f"Service); {len(trader.acked)} orders acknowledged; refused meanwhile: {trader.refusals}"
    )
    assert failover_ms < 10_000
    (new_active,) = kube.wait_until("one ready routing pod", lambda: [p for p in routing_pods(kube, desk) if ready(p)])
    assert new_active["metadata"]["name"] != active["metadata"]["name"]
    check_nothing_lost_or_duplicated(desk, trader)

    # halt, then lose the node of the active router: the standby on the other node takes over, still halted
    kube.run("patch", "desk", desk.name, "-n", desk.namespace, "--type", "merge", "-p",
             '{"spec":{"tradingState":"Halted"}}')  # fmt: skip
    kube.wait_until("halted", lambda: kube.condition(desk.namespace, desk.name, "TradingHalted")["reason"]
                    == "HaltedBySpec", timeout=30)  # fmt: skip
    kube.wait_until("two routing pods again", lambda: len(routing_pods(kube, desk)) == 2, timeout=120)
    victim = new_active["spec"]["nodeName"]
    desk.harness.power(victim, on=False)
    try:

        def took_over() -> bool:
            return any(ready(p) and p["spec"]["nodeName"] != victim for p in routing_pods(kube, desk))

        kube.wait_until(f"a routing standby off {victim} to take over", took_over, timeout=120)

        def refused_as_halted() -> bool:
            try:
                desk.call("routing", OrderStub, "SubmitOrder", marketable_buy(desk, f"halted-{uuid.uuid4().hex[:6]}"))
            except grpc.RpcError as exc:
                return exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "trading is halted" in exc.details()
            return False

        kube.wait_until("orders refused as halted by the new active router", refused_as_halted, timeout=120)
        check_nothing_lost_or_duplicated(desk, trader)
    finally:
        desk.harness.power(victim, on=True)


def test_rolling_upgrade_moves_the_active_router_by_a_switchover(kube: Kubectl, pods_desk: PodsDesk) -> None:
    desk = pods_desk
    limit = start_desk(kube, desk)
    before = {p["metadata"]["name"] for p in routing_pods(kube, desk)}
    trader = Trader(desk, "up")
    thread = trader.run(limit)
    trader.wait_for_acks(kube, 30, "orders flowing")

    image = {"spec": {"services": {"routing": {"replicas": 2, "image": "ghcr.io/tradingdesk/tradingdesk:next"}}}}
    kube.run("patch", "desk", desk.name, "-n", desk.namespace, "--type", "merge", "-p", json.dumps(image))

    def upgraded() -> bool:
        pods = routing_pods(kube, desk)
        return (
            len(pods) == 2
            and not {p["metadata"]["name"] for p in pods} & before
            and all(p["spec"]["containers"][0]["image"].endswith(":next") for p in pods)
            and sum(ready(p) for p in pods) == 1
        )

    kube.wait_until("both routing pods replaced, one active", upgraded, timeout=300)
    desk.wait_ready()
    trader.wait_for_acks(kube, 20, "orders flowing after the upgrade")
    trader.stop.set()
    thread.join(10)
    events = [e for e in kube.events(desk.namespace, desk.name) if e["reason"] == "Switchover"]
    assert len(events) == 1 and "routing: the active pod" in events[0]["message"], events
    status = kube.desk(desk.namespace, desk.name)["status"]
    assert status["services"]["routing"] == {"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2}
    check_nothing_lost_or_duplicated(desk, trader)
