"""What a desk pod needs for mutual TLS on Kubernetes: its certificate Secret mounted at ``TD_TLS_DIR``, and
probes that speak TLS (the kubelet's own gRPC probe speaks plaintext only). ``render`` applies it to every
Deployment of a desk whose ``spec.access.tls`` is on; ``certificates`` issues the Secrets it mounts.
"""

from __future__ import annotations

from typing import Any

from deskoperator.names import COMPONENT_LABEL
from tradingdesk.security.tls import TLS_DIR_ENV
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk

TLS_MOUNT = "/etc/tradingdesk/tls"
KEY_MODE = 0o440  # the pod's group (fsGroup) reads its key; nobody else


def service_secret_name(desk: str, service: str) -> str:
    return f"{desk}-{service}-tls"


SCRAPER = "prometheus"
"""The label of Prometheus' client certificate among the desk's certificates (its Secret, its expiry series)."""


def scraper_secret_name(desk: str) -> str:
    """Prometheus' client certificate (``svc:prometheus``), which the desk's ServiceMonitor names."""
    return f"{desk}-{SCRAPER}-tls"


def scrape_server_name(desk: str, namespace: str) -> str:
    """The name Prometheus checks every service's certificate against: it scrapes pod addresses, which no
    certificate names, so each service certificate carries this one name too."""
    return f"{desk}-metrics.{namespace}.svc"


HEALTHCHECK = ["python", "-m", "tradingdesk.runtime.healthcheck"]
EXEC_TIMEOUT_S = 5  # an interpreter starting on a busy node: the kubelet's gRPC probe needed no process


def probe(grpc_probe: dict[str, Any]) -> dict[str, Any]:
    """The kubelet's gRPC probe cannot speak TLS: the same probe (its health service name, its timing) run from
    inside the container with the pod's certificate."""
    command = list(HEALTHCHECK)
    if service := grpc_probe["grpc"].get("service"):
        command += ["--service", service]
    timing = {k: v for k, v in grpc_probe.items() if k != "grpc"}
    timing["timeoutSeconds"] = max(timing.get("timeoutSeconds", 1), EXEC_TIMEOUT_S)
    return {"exec": {"command": command}, **timing}


def secure_deployment(deployment: dict[str, Any], desk: TradingDesk, service: str) -> None:
    """Mount the service's certificate Secret, point ``TD_TLS_DIR`` at it and probe over TLS."""
    if not desk.spec.access.tls:
        return
    pod = deployment["spec"]["template"]["spec"]
    secret = {"secretName": service_secret_name(desk.name, service), "defaultMode": KEY_MODE}
    pod["volumes"].append({"name": "tls", "secret": secret})
    container = pod["containers"][0]
    container["env"].append({"name": TLS_DIR_ENV, "value": TLS_MOUNT})
    container["volumeMounts"].append({"name": "tls", "mountPath": TLS_MOUNT, "readOnly": True})
    for key in ("startupProbe", "readinessProbe", "livenessProbe"):
        if "grpc" in container.get(key, {}):
            container[key] = probe(container[key])


def secure(objects: list[dict[str, Any]], desk: TradingDesk) -> list[dict[str, Any]]:
    """Every rendered Deployment of the desk with its certificate (render calls this last)."""
    for obj in objects:
        if obj.get("kind") == "Deployment":
            service = obj["metadata"]["labels"].get(COMPONENT_LABEL, "")
            if service in SERVICE_NAMES:
                secure_deployment(obj, desk, service)
    return objects
