"""The operator and real desk service processes (risk, compliance) for the end-to-end tests (conftest.py, tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.operator.kubectl import ROOT, Kubectl
from tradingdesk.v1 import common_pb2, risk_pb2, risk_pb2_grpc

# Desks whose RiskService is a real process on the host: the operator, outside the cluster, is told where.
KILL_SWITCH_NS = "td-e2e-killswitch"
KILL_SWITCH_DESK = "ks-desk"
REAL_RISK_DESKS = (
    (KILL_SWITCH_NS, KILL_SWITCH_DESK),
    ("td-e2e-invalid", "ks-invalid"),  # a refused spec with a halt in it
    ("td-e2e-late", "ks-late"),  # a risk service that comes up late
    ("td-e2e-large", "ks-large"),  # the largest desk the CRD admits
    ("td-e2e-limits", "ks-limits"),  # live limits
    ("td-e2e-plugin", "ks-plugin"),  # kubectl tradingdesk halt and resume
)
# The desk whose pods the harness runs (tests/podharness): the operator reaches its risk Service through the
# harness's proxy.
PODS_NS = "td-pods"
PODS_DESK = "us-equities"


@dataclass
class Operator:
    process: subprocess.Popen
    log: Path
    metrics_port: int
    health_port: int
    compliance_port: int
    """Where the kill-switch desk's real ComplianceService listens (the finalizer seals through it)."""
    risk_ports: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def risk_port(self) -> int:
        return self.risk_ports[(KILL_SWITCH_NS, KILL_SWITCH_DESK)]


def child_env(kube: Kubectl) -> dict[str, str]:
    env = {**os.environ, "KUBECONFIG": str(kube.kubeconfig), "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "services"), str(ROOT / "operator"), env.get("PYTHONPATH", "")])
    return env


def start_operator(kube: Kubectl, tmp: Path, *extra: str, name: str = "operator") -> tuple[subprocess.Popen, Path]:
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deskoperator", *extra], env=child_env(kube), stdout=out, stderr=out
        )
    return proc, log


def stop(proc: subprocess.Popen, grace: float = 30) -> None:
    """TERM, then KILL if it has not exited within ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def risk_state(address: str) -> risk_pb2.TradingStateInfo:
    with grpc.insecure_channel(address) as channel:
        stub = risk_pb2_grpc.RiskServiceStub(channel)
        return stub.GetTradingState(risk_pb2.GetTradingStateRequest(scope=common_pb2.Scope()), timeout=5)


def risk_limits(address: str) -> risk_pb2.RiskLimits:
    with grpc.insecure_channel(address) as channel:
        return risk_pb2_grpc.RiskServiceStub(channel).GetLimits(risk_pb2.GetLimitsRequest(), timeout=5)


def answers(address: str) -> bool:
    """The service at ``address`` is up (its process reports SERVING on the standard gRPC health service)."""
    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@contextmanager
def real_service(
    service: str, doc: dict[str, Any], port: int, tmp: Path, *, env: dict[str, str] | None = None
) -> Iterator[str]:
    """``tradingdesk serve <service>`` for ``doc`` on 127.0.0.1:port; yields its address. ``env`` adds to the
    process's environment (peer addresses: ``TD_ADDR_RISK``).

    Each process has its own data dir and runs in ``tmp`` (compliance's filesystem audit bucket, the spec's
    relative ``var/audit``, lands in ``tmp/var/audit``).
    """
    spec_file = tmp / f"{doc['metadata']['name']}.yaml"
    spec_file.write_text(yaml.safe_dump(doc))
    address = f"127.0.0.1:{port}"
    env = {**os.environ, "TD_DATA_DIR": str(tmp / f"data-{port}"), **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "services"), env.get("PYTHONPATH", "")])
    with (tmp / f"{service}-{port}.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tradingdesk.cli.main", "serve", service, "-f", str(spec_file), "--bind", address],
            env=env, stdout=log, stderr=log, cwd=tmp,
        )  # fmt: skip
    try:
        yield address
    finally:
        stop(proc)


def real_risk(doc: dict[str, Any], port: int, tmp: Path) -> AbstractContextManager[str]:
    """``tradingdesk serve risk`` for ``doc`` on 127.0.0.1:port (its own data dir); yields its address."""
    return real_service("risk", doc, port, tmp)
