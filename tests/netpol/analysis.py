"""Who may reach whom under a desk's NetworkPolicies, answered by cyclonus's matcher (tests/netpol/build.sh).

The expectation is written here, independently of ``deskoperator.netpol.CALLS``: a table of every caller, callee
and port of a desk with the answer the desk's design gives, so a policy that admits more (or less) than the
call graph fails the table, whatever the operator's own idea of the graph is.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BUILD = Path(__file__).resolve().parent / "build.sh"
DESK_NS = "trading"
OPERATOR_NS = "tradingdesk-system"
DB_IP = "10.20.30.40"  # a PostgreSQL server outside the cluster
CLIENT_IP = "192.0.2.10"  # an order client outside the cluster

SERVICES = ("feeds", "routing", "risk", "compliance", "monitoring")


def netpol_query() -> Path:
    """The analyser's binary; fails the test with a pointer when it is not built (``make netpol-build``)."""
    check = subprocess.run(["bash", str(BUILD), "--check"], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.fail("the NetworkPolicy analyser is not built: run `make netpol-build` (tests/netpol/build.sh)")
    return Path(check.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class Peer:
    """A pod (namespace and labels) or an address outside the cluster."""

    name: str
    namespace: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    ip: str = ""

    def traffic_peer(self) -> dict[str, Any]:
        if not self.namespace:
            return {"IP": self.ip}
        return {
            "Internal": {
                "PodLabels": dict(self.labels),
                "NamespaceLabels": {"kubernetes.io/metadata.name": self.namespace},
                "Namespace": self.namespace,
            },
            "IP": self.ip or "10.244.0.9",
        }


def desk_pod(desk: str, component: str, namespace: str = DESK_NS) -> Peer:
    labels = {
        "app.kubernetes.io/name": "tradingdesk",
        "app.kubernetes.io/instance": desk,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "tradingdesk-operator",
    }
    return Peer(component, namespace, tuple(sorted(labels.items())))


def operator_pod(namespace: str = OPERATOR_NS, name: str = "operator") -> Peer:
    labels = {"app.kubernetes.io/name": "tradingdesk-operator", "app.kubernetes.io/instance": "desk-operator"}
    return Peer(name, namespace, tuple(sorted(labels.items())))


@dataclass(frozen=True)
class Connection:
    source: Peer
    destination: Peer
    port: int

    def traffic(self) -> dict[str, Any]:
        return {
            "Source": self.source.traffic_peer(),
            "Destination": self.destination.traffic_peer(),
            "ResolvedPort": self.port,
            "ResolvedPortName": "",
            "Protocol": "TCP",
        }

    def __str__(self) -> str:
        return f"{self.source.name} -> {self.destination.name}:{self.port}"


def allowed(policies: list[dict[str, Any]], connections: list[Connection]) -> dict[Connection, bool]:
    """cyclonus's answer for each connection (ingress of the destination and egress of the source)."""
    query = json.dumps({"policies": policies, "traffic": [c.traffic() for c in connections]})
    run = subprocess.run([str(netpol_query())], input=query, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    answers = json.loads(run.stdout)
    return {c: a["allowed"] for c, a in zip(connections, answers, strict=True)}
