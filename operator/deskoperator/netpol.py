"""NetworkPolicies that admit only the traffic a desk needs.

The call graph (who dials whom) is written once in ``CALLS``; ingress and egress rules are both derived from it
so they cannot disagree. Besides desk-internal calls: clients reach routing (orders) and monitoring (dashboard,
metrics) from anywhere; every pod resolves DNS; and egress to the outside is opened only on the ports the spec
names (database, S3 endpoint, websocket feeds, OTLP collector).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from deskoperator.names import child_name, labels, selector_labels
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk

# caller -> services it opens gRPC connections to
CALLS: dict[str, tuple[str, ...]] = {
    "routing": ("feeds", "risk"),
    "compliance": ("routing", "feeds"),  # the audit log and surveillance read the journal; surveillance the market
    "monitoring": tuple(s for s in SERVICE_NAMES if s != "monitoring"),
    "feeds": (),
    "risk": ("routing", "feeds"),  # real-time risk reads the journal stream and marks
}
# services that accept connections from outside the desk (order clients, people, Prometheus)
PUBLIC = ("routing", "monitoring")

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
    if service in ("routing", "risk", "compliance"):
        ports.add(_port(spec.storage.dsn, 5432))
    if service == "compliance" and spec.compliance.audit_bucket.kind == "s3":
        ports.add(_port(spec.compliance.audit_bucket.endpoint, 443) or 443)
    if service == "feeds":
        ports.update(_port(line.url, 443) for f in spec.feeds if f.kind == "websocket" for line in f.lines)
    if spec.monitoring.otlp_endpoint:
        ports.add(_port(spec.monitoring.otlp_endpoint, 4317))
    return sorted(p for p in ports if p)


def _tcp(port: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}


def policy(desk: TradingDesk, namespace: str, service: str, owner_ref: dict[str, Any]) -> dict[str, Any]:
    services = desk.spec.services
    port = services.port_of(service)
    callers = [c for c, callees in CALLS.items() if service in callees]
    ingress: list[dict[str, Any]] = []
    if service in PUBLIC:
        public_ports = [_tcp(port)]
        if service == "monitoring":
            public_ports.append(_tcp(desk.spec.monitoring.metrics_port))
        ingress.append({"ports": public_ports})
    if service == "risk" and desk.spec.risk.http_port > 0:
        ingress.append({"ports": [_tcp(desk.spec.risk.http_port)]})  # the HTTP kill switch, for operations
    if callers:
        ingress.append(
            {
                "from": [{"podSelector": {"matchLabels": selector_labels(desk.name, c)}} for c in callers],
                "ports": [_tcp(port)],
            }
        )
    egress: list[dict[str, Any]] = [{"ports": [{"protocol": "UDP", "port": 53}, _tcp(53)]}]
    for callee in CALLS[service]:
        egress.append(
            {
                "to": [{"podSelector": {"matchLabels": selector_labels(desk.name, callee)}}],
                "ports": [_tcp(services.port_of(callee))],
            }
        )
    if ext := external_ports(desk, service):
        egress.append({"ports": [_tcp(p) for p in ext]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": child_name(desk.name, service),
            "namespace": namespace,
            "labels": labels(desk.name, service),
            "ownerReferences": [owner_ref],
        },
        "spec": {
            "podSelector": {"matchLabels": selector_labels(desk.name, service)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def policies(desk: TradingDesk, namespace: str, owner_ref: dict[str, Any]) -> list[dict[str, Any]]:
    return [policy(desk, namespace, s, owner_ref) for s in SERVICE_NAMES]
