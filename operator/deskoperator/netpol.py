"""NetworkPolicies that admit only the traffic a desk needs.

The call graph (who dials whom) is written once in ``CALLS``; ingress and egress rules are both derived from it
so they cannot disagree. Besides desk-internal calls: clients reach routing (orders) and monitoring (dashboard,
metrics) from anywhere; the operator's pods reach risk (``spec.tradingState`` and the finalizer's halt) and
compliance (its actions on the desk and the finalizer's seal, ``OPERATOR_CALLS``); every
pod resolves DNS; and egress to the outside is opened only on the ports the spec names (database, S3 endpoint,
websocket feeds, OTLP collector). The migration Job's pods may only resolve names and reach the database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from deskoperator import migrations, storage
from deskoperator.names import NAME_LABEL, child_name, labels, selector_labels
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk

# caller -> services it opens gRPC connections to
CALLS: dict[str, tuple[str, ...]] = {
    "routing": ("feeds", "risk"),
    # the audit trail reads the order journal and the risk change journal; surveillance the journal and the market
    "compliance": ("routing", "risk", "feeds"),
    "monitoring": tuple(s for s in SERVICE_NAMES if s != "monitoring"),
    "feeds": ("compliance",),  # its audit records go to compliance (RecordAccess, RecordServiceEvents)
    "risk": ("routing", "feeds"),  # real-time risk reads the journal stream and marks
}
# services that accept connections from outside the desk (order clients, people, Prometheus)
PUBLIC = ("routing", "monitoring")

# services the operator's pods call: risk (spec.tradingState, the finalizer's halt), compliance (RecordOperatorAction,
# the finalizer's Seal)
OPERATOR_CALLS = ("risk", "compliance")

# The operator's pods, as the Helm chart labels them.
OPERATOR_POD_LABELS = {NAME_LABEL: "tradingdesk-operator"}
OPERATOR_DEFAULT_NAMESPACE = "tradingdesk-system"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every namespace by the API server


@dataclass(frozen=True, slots=True)
class OperatorPeer:
    """Where the operator's pods run: the only pods outside the desk's call graph that may call risk and
    compliance."""

    namespace: str
    pod_labels: dict[str, str] = field(default_factory=lambda: dict(OPERATOR_POD_LABELS))

    @classmethod
    def from_environment(cls) -> OperatorPeer:
        """``TD_OPERATOR_NAMESPACE``, else the namespace of the pod the operator runs in, else the chart's."""
        namespace = os.environ.get("TD_OPERATOR_NAMESPACE", "")
        if not namespace and SERVICE_ACCOUNT_NAMESPACE.is_file():
            namespace = SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
        return cls(namespace or OPERATOR_DEFAULT_NAMESPACE)

    def peer(self) -> dict[str, Any]:
        return {
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: self.namespace}},
            "podSelector": {"matchLabels": dict(self.pod_labels)},
        }


DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "https": 443, "http": 80, "wss": 443, "ws": 80}


def _port(url: str, default: int) -> int | None:
    """The TCP port a URL dials; None for URLs that reach no network (sqlite)."""
    if not url:
        return None
    parts = urlsplit(url if "://" in url else f"//{url}")
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "sqlite":
        return None
    try:
        return parts.port or DEFAULT_PORTS.get(scheme, default)
    except ValueError:
        return default


def external_ports(desk: TradingDesk, service: str) -> list[int]:
    """Ports outside the desk that ``service`` must reach, from what the spec configures."""
    spec = desk.spec
    ports: set[int | None] = set()
    if spec.storage.postgres is not None and service in storage.STATEFUL:
        ports.add(spec.storage.postgres.port)
    if service == "compliance" and spec.compliance.audit_bucket.kind == "s3":
        ports.add(_port(spec.compliance.audit_bucket.endpoint, 443) or 443)
    if service == "feeds":
        ports.update(_port(line.url, 443) for f in spec.feeds if f.kind == "websocket" for line in f.lines)
    if service == "monitoring" and spec.monitoring.alertmanager_url:
        ports.add(_port(spec.monitoring.alertmanager_url, 9093))
    if spec.monitoring.otlp_endpoint:
        ports.add(_port(spec.monitoring.otlp_endpoint, 4317))
    return sorted(p for p in ports if p)


def _tcp(port: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}


def _dns() -> dict[str, Any]:
    return {"ports": [{"protocol": "UDP", "port": 53}, _tcp(53)]}


def _policy_object(
    desk: TradingDesk, namespace: str, component: str, owner_ref: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": child_name(desk.name, component),
            "namespace": namespace,
            "labels": labels(desk.name, component),
            "ownerReferences": [owner_ref],
        },
        "spec": {"podSelector": {"matchLabels": selector_labels(desk.name, component)}, **spec},
    }


def policy(
    desk: TradingDesk, namespace: str, service: str, owner_ref: dict[str, Any], operator: OperatorPeer
) -> dict[str, Any]:
    services = desk.spec.services
    port = services.port_of(service)
    callers = [c for c, callees in CALLS.items() if service in callees]
    ingress: list[dict[str, Any]] = []
    if service in PUBLIC:
        public_ports = [_tcp(port)]
        if service == "monitoring" and desk.spec.monitoring.dashboard_port:
            public_ports.append(_tcp(desk.spec.monitoring.dashboard_port))
        ingress.append({"ports": public_ports})
    if desk.spec.monitoring.metrics_port:  # Prometheus, wherever it runs, scrapes every pod
        ingress.append({"ports": [_tcp(desk.spec.monitoring.metrics_port)]})
    if service == "risk" and desk.spec.risk.http_port > 0:
        ingress.append({"ports": [_tcp(desk.spec.risk.http_port)]})  # the HTTP kill switch, for operations
    if callers:
        peers = [{"podSelector": {"matchLabels": selector_labels(desk.name, c)}} for c in callers]
        if service in OPERATOR_CALLS:
            peers.append(operator.peer())
        ingress.append({"from": peers, "ports": [_tcp(port)]})
    egress: list[dict[str, Any]] = [_dns()]
    for callee in CALLS[service]:
        egress.append(
            {
                "to": [{"podSelector": {"matchLabels": selector_labels(desk.name, callee)}}],
                "ports": [_tcp(services.port_of(callee))],
            }
        )
    if service == "monitoring" and desk.spec.monitoring.metrics_port:  # latency percentiles from routing's /metrics
        egress.append(
            {
                "to": [{"podSelector": {"matchLabels": selector_labels(desk.name, "routing")}}],
                "ports": [_tcp(desk.spec.monitoring.metrics_port)],
            }
        )
    if ext := external_ports(desk, service):
        egress.append({"ports": [_tcp(p) for p in ext]})
    return _policy_object(
        desk,
        namespace,
        service,
        owner_ref,
        {"policyTypes": ["Ingress", "Egress"], "ingress": ingress, "egress": egress},
    )


def migration_policy(desk: TradingDesk, namespace: str, owner_ref: dict[str, Any]) -> dict[str, Any] | None:
    """The migration Job's pods: no ingress at all; egress to DNS and the database only."""
    postgres = desk.spec.storage.postgres
    if postgres is None:
        return None
    spec = {"policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": [_dns(), {"ports": [_tcp(postgres.port)]}]}
    return _policy_object(desk, namespace, migrations.COMPONENT, owner_ref, spec)


def policies(
    desk: TradingDesk, namespace: str, owner_ref: dict[str, Any], operator: OperatorPeer | None = None
) -> list[dict[str, Any]]:
    operator = operator or OperatorPeer.from_environment()
    out = [policy(desk, namespace, s, owner_ref, operator) for s in SERVICE_NAMES]
    if job := migration_policy(desk, namespace, owner_ref):
        out.append(job)
    return out
