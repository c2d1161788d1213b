"""The metrics: RED per RPC from the gRPC interceptors, and a live desk exporting every series its alert rules
read, with Prometheus names and bounded labels."""

from __future__ import annotations

import http.server
import re
import threading
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests import access
from tests.desk_runner import RunningDesk, wait_for, write_desk
from tests.monitoring.orders import buy_filled
from tests.monitoring.tools import points
from tradingdesk.monitoring.latency import LatencyWindow, quantile
from tradingdesk.spec import load_desk
from tradingdesk.spec.alerting import alerts
from tradingdesk.telemetry.histogram import latency_histogram
from tradingdesk.telemetry.rpc import ServerMetricsInterceptor, client_metrics_interceptors
from tradingdesk.v1 import market_data_pb2, market_data_pb2_grpc


class Feeds(market_data_pb2_grpc.MarketDataServiceServicer):
    async def GetQuote(self, request, context):
        await context.abort(grpc.StatusCode.NOT_FOUND, f"symbol: {request.symbol} is not traded by the desk")

    async def SubscribeBatches(self, request, context):
        for _ in range(3):
            yield market_data_pb2.MarketDataBatch()


async def test_red_metrics_per_rpc_on_both_sides() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    registry = CollectorRegistry()
    server = grpc.aio.server(interceptors=[ServerMetricsInterceptor(meter, registry)])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    market_data_pb2_grpc.add_MarketDataServiceServicer_to_server(Feeds(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", interceptors=client_metrics_interceptors(meter, registry)
        ) as ch:
            for _ in range(2):
                await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            feeds = market_data_pb2_grpc.MarketDataServiceStub(ch)
            with pytest.raises(grpc.aio.AioRpcError):
                await feeds.GetQuote(market_data_pb2.GetQuoteRequest(symbol="ZZZ"))
            batches = [b async for b in feeds.SubscribeBatches(market_data_pb2.SubscribeRequest())]
            assert len(batches) == 3
        found = await wait_for(lambda: (p := points(reader)) and len(p.get("grpc_client_handled", [])) == 3 and p)
    finally:
        await server.stop(0)

    def by(name: str, **labels: str) -> list:
        return [p for p in found[name] if all(p.attributes.get(k) == v for k, v in labels.items())]

    for side in ("server", "client"):
        (ok,) = by(f"grpc_{side}_handled", grpc_method="Check", grpc_code="OK", grpc_type="unary")
        assert ok.value == 2 and ok.attributes["grpc_service"] == "grpc.health.v1.Health"
        (refused,) = by(f"grpc_{side}_handled", grpc_method="GetQuote")
        assert refused.attributes["grpc_code"] == "NOT_FOUND" and refused.value == 1
        (stream,) = by(f"grpc_{side}_handled", grpc_method="SubscribeBatches", grpc_type="server_stream")
        assert stream.attributes["grpc_code"] == "OK"
        (started,) = by(f"grpc_{side}_started", grpc_method="Check")
        assert started.value == 2
        check = {"grpc_type": "unary", "grpc_service": "grpc.health.v1.Health", "grpc_method": "Check"}
        count = registry.get_sample_value(f"grpc_{side}_handling_seconds_count", check)
        within = registry.get_sample_value(f"grpc_{side}_handling_seconds_bucket", {**check, "le": "+Inf"})
        assert count == within == 2 and registry.get_sample_value(f"grpc_{side}_handling_seconds_sum", check) > 0
    (sent,) = by("grpc_server_msg_sent", grpc_method="SubscribeBatches")
    assert sent.value == 3


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    bounds = (0.001, 0.005, 0.01, float("inf"))
    assert quantile(0.5, bounds, (0.0, 100.0, 100.0, 100.0)) == pytest.approx(0.003)
    assert quantile(0.99, bounds, (10.0, 20.0, 90.0, 100.0)) == 0.01  # in +Inf: the last finite bound
    assert quantile(0.5, bounds, (0.0, 0.0, 0.0, 0.0)) != quantile(0.5, bounds, (0.0, 0.0, 0.0, 0.0))  # NaN


ORDER_PATH = {
    "tradingdesk_risk_check_duration_seconds_bucket",
    "tradingdesk_order_submit_to_ack_duration_seconds_bucket",
    "tradingdesk_order_ack_to_first_fill_duration_seconds_bucket",
    "tradingdesk_order_fill_to_execution_report_duration_seconds_bucket",
    "tradingdesk_orders_open",
}
LABELS_ALLOWED = {
    "feed", "line", "state", "scope", "cause", "limit", "severity", "target_service", "venue", "reason",
    "grpc_type", "grpc_service", "grpc_method", "grpc_code", "le",
    # prometheus_client's own process and runtime metrics
    "generation", "implementation", "major", "minor", "patchlevel", "version",
    # target_info: the OpenTelemetry resource
    "service_name", "service_namespace", "service_instance_id", "service_version",
    "telemetry_sdk_language", "telemetry_sdk_name", "telemetry_sdk_version",
}  # fmt: skip


@pytest.mark.slow
async def test_a_live_desk_exports_what_its_rules_read(tmp_path: Path) -> None:
    desk = await RunningDesk(write_desk(tmp_path)).start()
    try:
        ports = desk.desk.spec.monitoring.metrics_ports()

        def scrape() -> dict[str, set[str]]:
            names: dict[str, set[str]] = {}
            for port in ports.values():
                text = access.metrics_text(desk.desk, port)
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        names.setdefault(sample.name, set()).update(sample.labels)
            return names

        # a filled order makes routing's order-path histograms; monitoring's desk-level series appear after its
        # first round
        await buy_filled(desk, account="ACC-EQ-1", strategy="manual", symbol="MSFT", quantity="10")
        names = await wait_for(
            lambda: (n := scrape()) and ORDER_PATH | {"tradingdesk_pnl_daily"} <= n.keys() and n, timeout=30
        )
    finally:
        await desk.stop()
    spec = load_desk(desk.spec_path)
    for alert in alerts(spec):
        if alert.not_yet:
            continue
        for metric in set(re.findall(r"\b((?:tradingdesk|grpc)_[a-z_]+)\{", alert.expr)):
            if metric.startswith("grpc_server_handl") or metric == "tradingdesk_trading_halted":
                continue  # exist once an order call was made / a scope halted (test_paging_e2e sees them)
            assert metric in names, f"{alert.name} reads {metric}, which no service exports"
    for name, labels in names.items():
        assert name.islower() and re.fullmatch(r"[a-z_:][a-z0-9_:]*", name), name
        assert labels <= LABELS_ALLOWED, f"{name} has unexpected labels {labels - LABELS_ALLOWED}"
    counters = [n for n in names if n.startswith("tradingdesk_") and n.endswith("_total")]
    assert "tradingdesk_feed_gaps_total" in counters and "tradingdesk_journal_commits_total" in counters
    assert "tradingdesk_feed_line_lag_seconds" in names


def test_a_latency_histogram_reads_like_prometheus_client_s_own() -> None:
    """Buckets are ``le`` (inclusive) and cumulative, ``+Inf`` equals ``_count``: the same page prometheus_client's
    own Histogram gives for the same observations; a name asked for twice is one histogram."""
    registry = CollectorRegistry()
    mine = latency_histogram(registry, "t_seconds", description="d", buckets=(0.01, 0.001), label_names=("venue",))
    theirs = Histogram("p_seconds", "d", ["venue"], buckets=(0.001, 0.01), registry=registry)
    again = latency_histogram(registry, "t_seconds", description="d", buckets=(0.001, 0.01), label_names=("venue",))
    assert again is mine
    with pytest.raises(ValueError, match="other labels or buckets"):
        latency_histogram(registry, "t_seconds", description="d", buckets=(0.5,), label_names=("venue",))
    for value in (0.0005, 0.001, 0.002, 0.5):
        mine.record(value, "XNAS")
        theirs.labels("XNAS").observe(value)

    def page(prefix: str) -> dict[tuple, float]:
        return {
            (s.name.removeprefix(prefix), tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(generate_latest(registry).decode())
            for s in family.samples
            if s.name.startswith(prefix) and not s.name.endswith("_created")
        }

    assert page("t_") == page("p_")
    bucket = page("t_")
    assert bucket[("seconds_bucket", (("le", "0.001"), ("venue", "XNAS")))] == 2, "0.001 falls in le=0.001"
    everything = bucket[("seconds_bucket", (("le", "+Inf"), ("venue", "XNAS")))]
    assert everything == 4 == bucket[("seconds_count", (("venue", "XNAS"),))]


async def test_the_dashboard_reads_routing_s_metrics_at_most_every_five_seconds() -> None:
    """Rendering routing's /metrics takes routing's CPU from orders: the status refreshes every second, the
    latency window scrapes at most every ``scrape_every_s``."""
    registry = CollectorRegistry()
    handling = latency_histogram(
        registry,
        "grpc_server_handling_seconds",
        description="d",
        buckets=(0.001, 0.01),
        label_names=("grpc_type", "grpc_service", "grpc_method"),
    )
    scrapes = []

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            scrapes.append(self.path)
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    window = LatencyWindow(f"http://127.0.0.1:{server.server_port}/metrics")
    try:
        async with httpx.AsyncClient() as client:
            for at_s, value in ((100.0, 0.0005), (101.0, 0.005), (104.9, 0.005), (105.0, 0.005)):
                handling.record(value, "unary", "tradingdesk.v1.OrderService", "SubmitOrder")
                await window.refresh(client, at_s)
    finally:
        server.shutdown()
        server.server_close()
    assert len(scrapes) == 2, "at 100 s and at 105 s, not in between"
    (submit,) = window.summaries()
    assert submit.count == 3 and submit.window_s == 5, "the orders between the two scrapes"
