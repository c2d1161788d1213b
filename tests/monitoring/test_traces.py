"""Traces across gRPC hops, exported over OTLP to a real trace backend (Jaeger v2, built from the Go module proxy)
and read back through its query API.

Jaeger's cold build is long (about half an hour on two busy cores), so it is not part of `make test`: `make
test-traces` builds it and runs this module, which is skipped when Jaeger is not built.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider

from tests.desk_runner import RunningDesk, free_ports, wait_for, write_desk
from tests.integration.test_kill_switch import bids
from tests.monitoring.tools import BUILD, get_json
from tests.waiting import WaitTimeout
from tradingdesk.core.fixed import format_fixed
from tradingdesk.v1 import common_pb2, orders_pb2, orders_pb2_grpc

built = subprocess.run(["bash", str(BUILD), "--check", "jaeger"], capture_output=True, text=True)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(built.returncode != 0, reason="Jaeger is not built: `make test-traces` builds it and runs this"),
]


def jaeger_config(otlp: int, query: int, health: int) -> dict:
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["jaeger_storage_exporter"]}
            },
            "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "info"}},
        },
        "extensions": {
            "healthcheckv2": {"use_v2": True, "http": {"endpoint": f"127.0.0.1:{health}"}},
            "jaeger_query": {"storage": {"traces": "memory"}, "http": {"endpoint": f"127.0.0.1:{query}"}},
            "jaeger_storage": {"backends": {"memory": {"memory": {"max_traces": 10_000}}}},
        },
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{otlp}"}}}},
        "processors": {"batch": {"timeout": "200ms"}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "memory"}},
    }


@pytest.fixture
def jaeger(tmp_path: Path) -> Iterator[tuple[str, str]]:
    otlp, query, health, grpc_query = free_ports(4)
    config = jaeger_config(otlp, query, health)
    config["extensions"]["jaeger_query"]["grpc"] = {"endpoint": f"127.0.0.1:{grpc_query}"}
    path = tmp_path / "jaeger.yaml"
    path.write_text(yaml.safe_dump(config))
    log = (tmp_path / "jaeger.log").open("w")
    binary = Path(built.stdout.strip().splitlines()[-1]) / "jaeger"
    proc = subprocess.Popen([str(binary), "--config", str(path)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{query}/api/services", timeout=1)
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "jaeger.log").read_text()
                assert time.monotonic() < deadline, "Jaeger did not answer"
                time.sleep(0.2)
        yield f"127.0.0.1:{otlp}", f"http://127.0.0.1:{query}"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:  # it drains its pipelines first; a test does not wait for that
            proc.kill()
            proc.wait()
        log.close()


SUBMIT = "/tradingdesk.v1.OrderService/SubmitOrder"


def services_of(trace_json: dict) -> dict[str, set[str]]:
    """Service name -> operation names of one trace."""
    out: dict[str, set[str]] = {}
    for span in trace_json["spans"]:
        name = trace_json["processes"][span["processID"]]["serviceName"]
        out.setdefault(name, set()).add(span["operationName"])
    return out


async def test_a_call_is_one_trace_across_services(tmp_path: Path, jaeger: tuple[str, str]) -> None:
    otlp, query = jaeger

    def traced(doc: dict) -> None:
        doc["spec"]["monitoring"]["otlpEndpoint"] = otlp

    desk = await RunningDesk(write_desk(tmp_path, traced)).start()
    try:
        # A client's own span: routing's server span must join its trace, as its child.
        tracer = TracerProvider().get_tracer("client")
        with tracer.start_as_current_span("client places an order") as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            client = span.get_span_context()
        async with desk.channel("routing") as ch:
            orders = orders_pb2_grpc.OrderServiceStub(ch)
            with pytest.raises(grpc.aio.AioRpcError):  # refused (no such symbol): still traced
                await orders.SubmitOrder(
                    orders_pb2.SubmitOrderRequest(
                        client_order_id="traced-1",
                        account="ACC-EQ-1",
                        symbol="NOPE",
                        side=common_pb2.SIDE_BUY,
                        order_type=common_pb2.ORDER_TYPE_LIMIT,
                        quantity="1",
                        limit_price="1",
                    ),
                    metadata=tuple(carrier.items()),
                    timeout=5,
                )
        trace_id = format(client.trace_id, "032x")

        def found(trace_id: str, operation: str) -> dict | None:
            try:
                data = get_json(f"{query}/api/traces/{trace_id}")["data"]
            except OSError:
                return None
            return data[0] if data and any(s["operationName"] == operation for s in data[0]["spans"]) else None

        one = await wait_for(lambda: found(trace_id, SUBMIT), timeout=30, interval=0.5)
        (server,) = [s for s in one["spans"] if s["operationName"] == SUBMIT]
        assert one["processes"][server["processID"]]["serviceName"] == "tradingdesk-routing"
        assert {"refType": "CHILD_OF", "traceID": trace_id, "spanID": format(client.span_id, "016x")} in server[
            "references"
        ]
        tags = {t["key"]: t["value"] for t in server["tags"]}
        assert tags.get("rpc.grpc.status_code") == grpc.StatusCode.INVALID_ARGUMENT.value[0]

        # An order that passes the gate: the gate's check and the order's entry at its venue are spans inside
        # routing's SubmitOrder span, in the client's trace.
        prices = await wait_for(lambda: bids(desk), timeout=30)
        with tracer.start_as_current_span("client places a resting order") as span:
            carrier = {}
            propagate.inject(carrier)
            resting = format(span.get_span_context().trace_id, "032x")
        async with desk.channel("routing") as ch:
            await orders_pb2_grpc.OrderServiceStub(ch).SubmitOrder(
                orders_pb2.SubmitOrderRequest(
                    client_order_id="traced-2",
                    account="ACC-EQ-1",
                    strategy="manual",
                    symbol="MSFT",
                    side=common_pb2.SIDE_BUY,
                    order_type=common_pb2.ORDER_TYPE_LIMIT,
                    quantity="1",
                    limit_price=format_fixed(prices["MSFT"]),
                ),
                metadata=tuple(carrier.items()),
                timeout=5,
            )
        order = await wait_for(lambda: found(resting, "venue submit"), timeout=30, interval=0.5)
        spans = {s["operationName"]: s for s in order["spans"]}
        server_ref = {"refType": "CHILD_OF", "traceID": resting, "spanID": spans[SUBMIT]["spanID"]}
        for inner in ("risk gate check", "venue submit"):
            assert server_ref in spans[inner]["references"], f"{inner} is not a child of SubmitOrder"
            assert order["processes"][spans[inner]["processID"]]["serviceName"] == "tradingdesk-routing"

        # Across the journal stream: compliance recording the order's events in the audit log, and risk applying
        # them, are spans in the same trace (routing sends the order's trace context with its journal events).
        def downstream() -> dict | None:
            whole = found(resting, "audit record")
            return whole if whole and any(s["operationName"] == "real-time risk" for s in whole["spans"]) else None

        try:
            order = await wait_for(downstream, timeout=30, interval=0.5)
        except WaitTimeout:
            seen = found(resting, "venue submit")
            spans = services_of(seen) if seen else None
            raise AssertionError(f"the order's trace lacks a downstream span; it has {spans}") from None
        names = services_of(order)
        assert "audit record" in names["tradingdesk-compliance"]
        assert "real-time risk" in names["tradingdesk-risk"]
        for span in order["spans"]:
            if span["operationName"] in ("audit record", "real-time risk"):
                tags = {t["key"]: t["value"] for t in span["tags"]}
                assert tags["tradingdesk.journal.seq"] >= 1 and tags["tradingdesk.journal.kind"]
                assert span["references"][0]["traceID"] == resting

        # A hop between two of the desk's services: monitoring's call and feeds' answer in one trace.
        def hop() -> dict | None:
            answer = get_json(
                f"{query}/api/traces",
                service="tradingdesk-feeds",
                operation="/tradingdesk.v1.MarketDataService/GetFeedStatus",
                limit="5",
            )
            return next((t for t in answer["data"] if "tradingdesk-monitoring" in services_of(t)), None)

        both = await wait_for(hop, timeout=30, interval=0.5)
        names = services_of(both)
        assert "/tradingdesk.v1.MarketDataService/GetFeedStatus" in names["tradingdesk-feeds"]
        assert "/tradingdesk.v1.MarketDataService/GetFeedStatus" in names["tradingdesk-monitoring"]
    finally:
        await desk.stop()
