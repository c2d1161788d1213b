"""A small REST layer over the official client: get, server-side apply, list, delete, status patch.

Why not the typed APIs: the operator handles eight kinds the same way; one path table and plain dicts keep
rendering, comparison and applying in one shape (what ``kubectl get -o json`` shows), without per-kind methods.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
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
# Spec fields the API server assigns at creation and refuses to change: kept when an object is replaced.
SERVER_ASSIGNED: dict[str, tuple[str, ...]] = {
    "Service": ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"),
}
LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
CHILD_KINDS = tuple(k for k in KINDS if k not in ("Event", "Pod", "TradingDesk"))  # pods: their Deployments'/Jobs'


class KubeError(RuntimeError):
    """A request the API server refused; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str, *, kind: str = "") -> None:
        self.status = status
        self.message = message
        self.kind = kind
        """The kind of the object the request was about, when known (for metrics)."""
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
    def __init__(self, api: client.ApiClient, timeout: float = 30.0) -> None:
        # 30 s: one write of the largest desk (1.25 MB with its managedFields) took 13-19 s on a loaded test machine
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
        try:
            resp = self.api.rest_client.request(method, url, headers=headers, body=body, _request_timeout=self.timeout)
        except urllib3.exceptions.HTTPError as exc:  # no answer (timeout, connection refused, reset)
            raise KubeError(503, f"the API server did not answer {method} {url_path}: {exc}") from None
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

    def get_at(self, url_path: str) -> dict[str, Any] | None:
        """GET an object outside ``KINDS`` by its path (a desk's certificate Secrets, cert-manager's objects,
        API discovery); None when it does not exist."""
        return self.request("GET", url_path)

    def apply_at(self, url_path: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply of an object outside ``KINDS`` by its path."""
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        return self.request("PATCH", url_path, query=query, body=obj, content_type="application/apply-patch+yaml") or {}

    def replace(self, obj: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
        """PUT ``obj`` over ``live``: every field becomes what is rendered (what apply cannot merge, e.g. a list
        entry someone re-keyed). Fields the server assigns once (a Service's cluster IPs) are kept from ``live``."""
        body = copy.deepcopy(obj)
        body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        for key in SERVER_ASSIGNED.get(obj["kind"], ()):
            if key in live.get("spec", {}):
                body["spec"].setdefault(key, live["spec"][key])
        meta = obj["metadata"]
        out = self.request(
            "PUT", path(obj["kind"], meta["namespace"], meta["name"]), query={"fieldManager": FIELD_MANAGER}, body=body
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

    def delete(self, kind: str, namespace: str, name: str, *, orphan: bool = False) -> None:
        """Delete one object; ``orphan`` leaves its dependents (a Deployment's ReplicaSets and pods) running."""
        policy = "Orphan" if orphan else "Background"
        self.request("DELETE", path(kind, namespace, name), body={"propagationPolicy": policy})

    # -- the leadership Lease (coordination.k8s.io/v1) -----------------------------------------------------------
    def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.request("GET", f"{LEASES.format(namespace=quote(namespace))}/{quote(name)}")

    def create_lease(self, lease: dict[str, Any]) -> dict[str, Any] | None:
        return self.request("POST", LEASES.format(namespace=quote(lease["metadata"]["namespace"])), body=lease)

    def update_lease(self, lease: dict[str, Any]) -> dict[str, Any] | None:
        """PUT with the Lease's resourceVersion: of two writers, one wins and the other gets 409."""
        meta = lease["metadata"]
        url = f"{LEASES.format(namespace=quote(meta['namespace']))}/{quote(meta['name'])}"
        return self.request("PUT", url, body=lease)

    def apply_webhook_configuration(self, config: dict[str, Any]) -> dict[str, Any] | None:
        """Server-side apply of a ValidatingWebhookConfiguration (cluster-scoped), by its name."""
        name = quote(config["metadata"]["name"])
        return self.request(
            "PATCH",
            f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{name}",
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            body=config,
            content_type="application/apply-patch+yaml",
        )

    def patch_status(self, kind: str, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any] | None:
        """Merge-patch the status subresource (the spec is never touched by the operator)."""
        return self.request(
            "PATCH",
            path(kind, namespace, name, "status"),
            body={"status": status},
            content_type="application/merge-patch+json",
        )
