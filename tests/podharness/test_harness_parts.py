"""The harness's own moving parts, without a cluster: what a pod's strings become here, and a Service port that
forwards to ready endpoints and refuses connections while there is none."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.podharness.kubelet import _rewriter
from tests.podharness.proxy import PortProxy, service_ip


def test_paths_names_and_the_wildcard_address_are_rewritten() -> None:
    mounts = {"/etc/tradingdesk": "/r/etc/tradingdesk", "/etc/tradingdesk/db": "/r/etc/tradingdesk/db"}
    rewrite = _rewriter(mounts, "ns", ["desk-risk", "desk-risk-http"], "127.10.0.7")
    assert rewrite("/etc/tradingdesk/db/dsn") == "/r/etc/tradingdesk/db/dsn"  # the longest mount wins
    assert rewrite("/etc/tradingdesk/desk.yaml") == "/r/etc/tradingdesk/desk.yaml"
    assert rewrite("/etc/tradingdeskother") == "/etc/tradingdeskother"  # not a path under the mount
    risk = service_ip("ns", "desk-risk")
    assert rewrite("desk-risk.ns.svc:50053") == f"{risk}:50053"
    assert rewrite("desk-risk.ns.svc.cluster.local:50053") == f"{risk}:50053"
    assert rewrite("desk-risk:50053") == f"{risk}:50053"
    assert rewrite("desk-risk-http.ns.svc:8053") == f"{service_ip('ns', 'desk-risk-http')}:8053"
    assert rewrite("desk-risk.other.svc:50053") == "desk-risk.other.svc:50053"  # another namespace's Service
    assert rewrite("0.0.0.0:50052") == "127.10.0.7:50052"
    assert rewrite("10.0.0.0:1") == "10.0.0.0:1"


def test_service_ips_are_loopback_and_distinct() -> None:
    ips = {service_ip("trading", f"us-equities-{s}") for s in ("feeds", "routing", "risk", "compliance", "monitoring")}
    assert len(ips) == 5 and all(ip.startswith("127.") and 64 <= int(ip.split(".")[1]) < 128 for ip in ips)


@pytest.fixture
def backend() -> tuple[str, int]:
    server = socket.socket()
    server.bind(("127.10.200.1", 0))
    server.listen()

    def echo() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(conn.recv(100).upper())
            conn.close()

    threading.Thread(target=echo, daemon=True).start()
    yield server.getsockname()
    server.close()


def test_a_service_port_forwards_to_a_ready_endpoint_and_refuses_without_one(backend: tuple[str, int]) -> None:
    proxy = PortProxy("127.90.0.9", backend[1], "test")
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.90.0.9", backend[1]), timeout=2)  # no ready endpoint: closed
        proxy.set_backends([backend])
        with socket.create_connection(("127.90.0.9", backend[1]), timeout=2) as client:
            client.sendall(b"hello")
            assert client.recv(100) == b"HELLO"
        proxy.set_backends([])
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.90.0.9", backend[1]), timeout=2)
    finally:
        proxy.close()
