"""The image's HEALTHCHECK command against a real gRPC health server and a real HTTP endpoint."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tradingdesk.runtime.healthcheck import OPERATOR_LIVENESS, Unhealthy, check, target


@pytest.fixture
def grpc_health() -> Iterator[tuple[int, health.HealthServicer]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port, servicer
    finally:
        server.stop(None)


@pytest.fixture
def http_endpoint() -> Iterator[tuple[int, list[int]]]:
    status = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status[0])
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], status
    finally:
        server.shutdown()
        server.server_close()


def test_target_follows_the_container_environment() -> None:
    assert target({"TD_HEALTHCHECK_URL": "http://x:1/healthz", "TD_BIND": "0.0.0.0:50052"}) == "http://x:1/healthz"
    assert target({"TD_BIND": "0.0.0.0:50052"}) == "grpc://127.0.0.1:50052"  # a service pod
    assert target({}) == OPERATOR_LIVENESS  # the operator


def test_grpc_serving_passes_and_not_serving_fails(grpc_health) -> None:
    port, servicer = grpc_health
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    check(f"grpc://127.0.0.1:{port}")
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    with pytest.raises(Unhealthy, match=rf"grpc://127.0.0.1:{port}: NOT_SERVING"):
        check(f"grpc://127.0.0.1:{port}")


def test_http_200_passes_and_an_error_fails(http_endpoint) -> None:
    port, status = http_endpoint
    check(f"http://127.0.0.1:{port}/healthz")
    status[0] = 500
    with pytest.raises(Unhealthy, match=r"HTTP 500"):
        check(f"http://127.0.0.1:{port}/healthz")


def test_a_bad_url_is_refused_with_the_reason() -> None:
    with pytest.raises(Unhealthy, match="must be http"):
        check("tcp://127.0.0.1:1")


def test_the_command_exits_1_with_the_reason_when_nothing_listens() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tradingdesk.runtime.healthcheck"],
        env={"TD_BIND": "0.0.0.0:1", "PATH": ""}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("unhealthy: grpc://127.0.0.1:1: UNAVAILABLE")


def test_the_command_asks_for_one_services_health_with_service(grpc_health) -> None:
    """A standby's process is SERVING while its OrderService is NOT_SERVING: only ``--service`` sees the latter."""
    port, servicer = grpc_health
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    servicer.set("tradingdesk.v1.OrderService", health_pb2.HealthCheckResponse.NOT_SERVING)

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tradingdesk.runtime.healthcheck", *argv],
            env={"TD_BIND": f"0.0.0.0:{port}", "PATH": ""}, capture_output=True, text=True, timeout=30,
        )  # fmt: skip

    assert run().returncode == 0
    refused = run("--service", "tradingdesk.v1.OrderService")
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"unhealthy: grpc://127.0.0.1:{port}: NOT_SERVING"
