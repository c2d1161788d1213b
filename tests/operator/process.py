"""The operator and real desk service processes (risk, compliance) for the end-to-end tests (conftest.py, tests).

A real service of a desk with ``spec.access.tls`` (the default) serves mutual TLS under the desk's CA, the one
the operator keeps in the Secret ``<desk>-tls-ca``: ``DeskTls`` gives it its certificate and the test a client
certificate, and the operator dials it with its own (``deskoperator.certificates``), whichever starts first.
"""

from __future__ import annotations

import base64
import json
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
from tradingdesk.security import channels
from tradingdesk.security.channels import ClientCredentials
from tradingdesk.security.pki import LOCAL_HOSTS, CertificateAuthority, service_identity
from tradingdesk.security.tls import TLS_DIR_ENV
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

    def log_text(self) -> str:
        """Everything the operator has logged so far."""
        return self.log.read_text(errors="replace")


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


def secret_data(kube: Kubectl, namespace: str, name: str) -> dict[str, bytes] | None:
    found = kube.run("get", "secret", name, "-n", namespace, "-o", "json", check=False)
    if not found.ok:
        return None
    return {k: base64.b64decode(v) for k, v in json.loads(found.out).get("data", {}).items()}


class DeskTls:
    """A test desk's CA: the one in ``<desk>-tls-ca``, made by the test when the desk is not applied yet (the
    operator then issues from it), else the operator's. Call after ``fresh_namespace``."""

    def __init__(self, kube: Kubectl, namespace: str, desk: str) -> None:
        self.kube, self.namespace, self.desk = kube, namespace, desk
        name = f"{desk}-tls-ca"
        if not kube.run("get", "tradingdesk", desk, "-n", namespace, check=False).ok:
            ca = CertificateAuthority.create(desk)
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/tls",
                "metadata": {"name": name, "namespace": namespace},
                "data": {
                    k: base64.b64encode(v).decode() for k, v in (("tls.crt", ca.cert_pem), ("tls.key", ca.key_pem))
                },
            }
            kube.run("create", "-f", "-", stdin=json.dumps(secret), check=False)  # the operator may have made one
        found = kube.wait_until(f"the CA Secret {name}", lambda: secret_data(kube, namespace, name), timeout=60)
        self.ca = CertificateAuthority(found["tls.crt"], found["tls.key"])

    def client(self, identity: str = "svc:e2e-test") -> ClientCredentials:
        """A client certificate from the desk's CA (``svc:`` names are the service role; ``auditor`` etc. are the
        example desk's identities)."""
        issued = self.ca.issue(identity, days=1)
        return ClientCredentials(pem=(self.ca.cert_pem, issued.cert_pem, issued.key_pem))

    def client_env(self, tmp: Path, identity: str) -> dict[str, str]:
        """A client certificate of ``identity`` on disk, as the CLI and ``kubectl tradingdesk`` take it
        (``TD_TLS_CA``, ``TD_TLS_CERT``, ``TD_TLS_KEY``)."""
        directory = tmp / f"{self.desk}-client-{identity}"
        directory.mkdir(exist_ok=True)
        issued = self.ca.issue(identity, days=1)
        files = {"ca.crt": self.ca.cert_pem, "tls.crt": issued.cert_pem, "tls.key": issued.key_pem}
        for key, data in files.items():
            (directory / key).write_bytes(data)
        return {
            "TD_TLS_CA": str(directory / "ca.crt"),
            "TD_TLS_CERT": str(directory / "tls.crt"),
            "TD_TLS_KEY": str(directory / "tls.key"),
        }

    def service_dir(self, tmp: Path, service: str, *, from_operator: bool = False) -> Path:
        """``TD_TLS_DIR`` for a service process: the certificate the operator issued into its Secret (the desk
        must be applied), or one the test issues for loopback."""
        directory = tmp / f"{self.desk}-{service}-tls"
        directory.mkdir(exist_ok=True)
        if from_operator:
            name = f"{self.desk}-{service}-tls"
            found = self.kube.wait_until(
                f"the {service} certificate", lambda: secret_data(self.kube, self.namespace, name), 60
            )
            files = {key: found[key] for key in ("ca.crt", "tls.crt", "tls.key")}
        else:
            issued = self.ca.issue(service_identity(service), hosts=LOCAL_HOSTS, days=1)
            files = {"ca.crt": self.ca.cert_pem, "tls.crt": issued.cert_pem, "tls.key": issued.key_pem}
        for key, data in files.items():
            (directory / key).write_bytes(data)
        return directory


# The client certificate to dial each real service with (``real_service`` registers it).
_CLIENTS: dict[str, ClientCredentials | None] = {}


def risk_state(address: str) -> risk_pb2.TradingStateInfo:
    with channels.channel(address, credentials=_CLIENTS.get(address)) as channel:
        stub = risk_pb2_grpc.RiskServiceStub(channel)
        return stub.GetTradingState(risk_pb2.GetTradingStateRequest(scope=common_pb2.Scope()), timeout=5)


def risk_limits(address: str) -> risk_pb2.RiskLimits:
    with channels.channel(address, credentials=_CLIENTS.get(address)) as channel:
        return risk_pb2_grpc.RiskServiceStub(channel).GetLimits(risk_pb2.GetLimitsRequest(), timeout=5)


def answers(address: str) -> bool:
    """The service at ``address`` is up (its process reports SERVING on the standard gRPC health service)."""
    try:
        with channels.channel(address, credentials=_CLIENTS.get(address)) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@contextmanager
def real_service(
    service: str,
    doc: dict[str, Any],
    port: int,
    tmp: Path,
    *,
    tls: DeskTls | None,
    env: dict[str, str] | None = None,
    from_operator: bool = False,
) -> Iterator[str]:
    """``tradingdesk serve <service>`` for ``doc`` on 127.0.0.1:port; yields its address. ``env`` adds to the
    process's environment (peer addresses: ``TD_ADDR_RISK``). With ``tls`` it serves mutual TLS with a
    certificate from the desk's CA (the operator's own with ``from_operator``), and the helpers here dial it
    with a client certificate from the same CA; without, the desk must have ``spec.access.tls: false``.

    Each process has its own data dir and runs in ``tmp`` (compliance's filesystem audit bucket, the spec's
    relative ``var/audit``, lands in ``tmp/var/audit``).
    """
    spec_file = tmp / f"{doc['metadata']['name']}.yaml"
    spec_file.write_text(yaml.safe_dump(doc))
    address = f"127.0.0.1:{port}"
    env = {**os.environ, "TD_DATA_DIR": str(tmp / f"data-{port}"), **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "services"), env.get("PYTHONPATH", "")])
    if tls is not None:
        env[TLS_DIR_ENV] = str(tls.service_dir(tmp, service, from_operator=from_operator))
    _CLIENTS[address] = tls.client() if tls is not None else None
    with (tmp / f"{service}-{port}.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tradingdesk.cli.main", "serve", service, "-f", str(spec_file), "--bind", address],
            env=env, stdout=log, stderr=log, cwd=tmp,
        )  # fmt: skip
    try:
        yield address
    finally:
        stop(proc)
        _CLIENTS.pop(address, None)


def real_risk(doc: dict[str, Any], port: int, tmp: Path, *, tls: DeskTls | None) -> AbstractContextManager[str]:
    """``tradingdesk serve risk`` for ``doc`` on 127.0.0.1:port (its own data dir); yields its address."""
    return real_service("risk", doc, port, tmp, tls=tls)
