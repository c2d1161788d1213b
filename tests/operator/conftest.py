"""Fixtures for the operator's end-to-end tests: the CRDs installed and the operator running as a process.

Why a subprocess: it is how the operator runs for real (``python -m deskoperator``), with its own event loop,
peering, webhook server and metrics port, against the real API server of ``k8s_cluster``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.operator.kubectl import ROOT, Kubectl, free_port, wait_for_http
from tests.operator.process import (
    KILL_SWITCH_DESK,
    KILL_SWITCH_NS,
    PODS_DESK,
    PODS_NS,
    REAL_RISK_DESKS,
    Operator,
    start_operator,
    stop,
)
from tests.podharness.proxy import service_ip

CRDS = ROOT / "charts" / "tradingdesk-operator" / "crds"


@pytest.fixture(scope="session")
def kube(k8s_cluster) -> Kubectl:
    k = Kubectl(Path(k8s_cluster.kubeconfig))
    k.run("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    k.wait_established("tradingdesks.tradingdesk.io")
    return k


@pytest.fixture(scope="session")
def operator(kube: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    def launch() -> tuple[Operator, str]:
        tmp = tmp_path_factory.mktemp("operator")
        metrics_port, health_port, webhook_port, compliance_port = (free_port() for _ in range(4))
        risk_ports = {desk: free_port() for desk in REAL_RISK_DESKS}
        overrides = [f"--address-override={ns}/{name}/risk=127.0.0.1:{port}" for (ns, name), port in risk_ports.items()]
        kill_switch_compliance = f"{KILL_SWITCH_NS}/{KILL_SWITCH_DESK}/compliance=127.0.0.1:{compliance_port}"
        overrides.append(f"--address-override={kill_switch_compliance}")
        proc, log = start_operator(
            kube,
            tmp,
            "--metrics-port", str(metrics_port),
            "--liveness", f"http://127.0.0.1:{health_port}/healthz",
            # an operator left by `make cluster-up` hands the leadership Lease over to the tests (and exits)
            "--preempt",
            "--webhook", "--webhook-addr", "127.0.0.1", "--webhook-port", str(webhook_port),
            *overrides,
            # desks whose pods the harness runs: their risk and compliance Services, where it proxies them
            "--address-override", f"{PODS_NS}/{PODS_DESK}/risk={service_ip(PODS_NS, PODS_DESK + '-risk')}:50053",
            "--address-override",
            f"{PODS_NS}/{PODS_DESK}/compliance={service_ip(PODS_NS, PODS_DESK + '-compliance')}:50054",
            "--rpc-timeout", "3",
            "--retry-cap", "2",  # retries of a delivery every 2 s at most, so tests see them quickly
        )  # fmt: skip
        op = Operator(proc, log, metrics_port, health_port, compliance_port, risk_ports)
        return op, f"http://127.0.0.1:{health_port}/healthz"

    # Its ports are picked free but not held until it binds them: another process of a busy machine may take one
    # meanwhile ("address already in use"). Then start it again on new ports.
    for attempt in range(3):
        op, healthz = launch()
        try:
            wait_for_http(healthz, timeout=60, process=op.process, log=op.log)
            break
        except AssertionError as exc:
            stop(op.process)
            if "address already in use" not in str(exc) or attempt == 2:
                raise
    proc = op.process
    try:
        kube.wait_until(
            "the webhook configuration",
            lambda: kube.run("get", "validatingwebhookconfiguration", "tradingdesk.io.validating", check=False).ok,
            timeout=60,
        )
        yield op
    finally:
        for ns in kube.namespaces_with_desks():
            kube.run("delete", "desk", "--all", "-n", ns, "--timeout=60s", check=False)
        stop(proc)
        kube.run("delete", "validatingwebhookconfiguration", "tradingdesk.io.validating", "--ignore-not-found")


@pytest.fixture
def namespace(kube: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, removed (with its desks, through the operator) afterwards."""
    name = "td-e2e-" + request.node.name.removeprefix("test_").replace("_", "-")[:40].rstrip("-")
    kube.fresh_namespace(name)
    try:
        yield name
    finally:
        kube.run("delete", "desk", "--all", "-n", name, "--timeout=60s", check=False)
        kube.run("delete", "namespace", name, "--wait=false", check=False)
