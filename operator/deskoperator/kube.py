"""A small REST layer over the official client: get, server-side apply, list, delete, status patch.

Why not the typed APIs: the operator handles eight kinds the same way; one path table and plain dicts keep
rendering, comparison and applying in one shape (what ``kubectl get -o json`` shows), without per-kind methods.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote, urlencode

from kubernetes import client, config

from deskoperator.names import API_GROUP, API_VERSION, FIELD_MANAGER

# kind -> (apiVersion, plural) for everything the operator creates or reads
KINDS: dict[str, tuple[str, str]] = {
    "ServiceAccount": ("v1", "serviceaccounts"),
    "ConfigMap": ("v1", "configmaps"),
    "Service": ("v1", "services"),
    "Event": ("v1", "events"),
    "Pod": ("v1", "pods"),
    "Deployment": ("apps/v1", "deployments"),
    "Job": ("batch/v1", "jobs"),
    "PodDisruptionBudget": ("policy/v1", "poddisruptionbudgets"),
    "NetworkPolicy": ("networking.k8s.io/v1", "networkpolicies"),
    "Role": ("rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings"),
    "TradingDesk": (f"{API_GROUP}/{API_VERSION}", "tradingdesks"),
    # the Prometheus Operator's, when installed (listing them where they are not finds none)
    "PrometheusRule": ("monitoring.coreos.com/v1", "prometheusrules"),
    "ServiceMonitor": ("monitoring.coreos.com/v1", "servicemonitors"),
}
CHILD_KINDS = tuple(k for k in KINDS if k not in ("Event", "Pod", "TradingDesk"))  # pods: their Deployments'/Jobs'


class KubeError(RuntimeError):
    """A request the API server refused; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"HTTP {status}: {message}")


def load_api_client(pool_size: int = 32) -> client.ApiClient:
    """In-cluster credentials when running in a pod, else $KUBECONFIG / ~/.kube/config."""
    cfg = client.Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        config.load_incluster_config(client_configuration=cfg)
    else:
        config.load_kube_config(client_configuration=cfg)
    cfg.connection_pool_maxsize = pool_size
    return client.ApiClient(cfg)


def path(kind: str, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
    api_version, plural = KINDS[kind]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    out = f"{prefix}/namespaces/{quote(namespace)}/{plural}"
    if name:
        out += f"/{quote(name)}"
    if subresource:
        out += f"/{subresource}"
    return out


class Kube:
    def __init__(self, api: client.ApiClient, timeout: float = 10.0) -> None:
        self.api = api
        self.timeout = timeout

    def request(
        self,
        method: str,
        url_path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any] | None:
        """One request; None for 404 on GET/DELETE, KubeError for any other failure."""
        url = self.api.configuration.host + url_path + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept": "application/json", "Content-Type": content_type}
        self.api.update_params_for_auth(headers, None, ["BearerToken"], url_path, method, body)
        # dict bodies: the REST client serialises JSON (and JSON-as-YAML for apply patches) itself
        resp = self.api.rest_client.request(method, url, headers=headers, body=body, _request_timeout=self.timeout)
        raw = resp.read() if hasattr(resp, "read") else resp.data
        text = raw.decode() if isinstance(raw, bytes) else (raw or "")
        if resp.status == 404 and method in ("GET", "DELETE"):
            return None
        if resp.status >= 400:
            try:
                message = json.loads(text).get("message", text)
            except ValueError:
                message = text
            raise KubeError(resp.status, message)
        return json.loads(text) if text else {}

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.request("GET", path(kind, namespace, name))

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply as the operator's field manager; ``force`` takes back fields someone else edited."""
        meta = obj["metadata"]
        out = self.request(
            "PATCH",
            path(obj["kind"], meta["namespace"], meta["name"]),
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            body=obj,
            content_type="application/apply-patch+yaml",
        )
        return out or {}

    def list(self, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        out = self.request("GET", path(kind, namespace), query={"labelSelector": selector}) or {}
        return list(out.get("items", []))

    def served(self, api_version: str) -> set[str]:
        """The resources (plurals) the API server serves under ``api_version`` (a discovery GET, which RBAC's
        ``system:discovery`` grants every client); empty when the group is not installed."""
        found = self.request("GET", f"/apis/{api_version}") or {}
        return {r["name"] for r in found.get("resources", []) if "name" in r}

    def delete(self, kind: str, namespace: str, name: str) -> None:
        self.request("DELETE", path(kind, namespace, name), body={"propagationPolicy": "Background"})

    def ensure_peering(self, name: str, namespaces: tuple[str, ...] = ()) -> None:
        """Create kopf's peering object(s) if missing: kopf waits for them but never creates them itself."""
        if not namespaces:
            targets = [("/apis/kopf.dev/v1/clusterkopfpeerings", "ClusterKopfPeering", {})]
        else:
            targets = [
                (f"/apis/kopf.dev/v1/namespaces/{quote(ns)}/kopfpeerings", "KopfPeering", {"namespace": ns})
                for ns in namespaces
            ]
        for url_path, kind, meta in targets:
            body = {"apiVersion": "kopf.dev/v1", "kind": kind, "metadata": {"name": name, **meta}}
            try:
                self.request("POST", url_path, body=body)
            except KubeError as exc:
                if exc.status != 409:  # 409: it exists already
                    raise

    def patch_status(self, kind: str, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any] | None:
        """Merge-patch the status subresource (the spec is never touched by the operator)."""
        return self.request(
            "PATCH",
            path(kind, namespace, name, "status"),
            body={"status": status},
            content_type="application/merge-patch+json",
        )
