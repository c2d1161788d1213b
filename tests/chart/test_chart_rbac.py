"""The chart's RBAC is exactly what the operator calls: every grant is used, every call is granted, no wildcards.

What the operator calls is read from the code, not restated: the kinds ``deskoperator.kube.Kube`` reads and
writes (``KINDS``), the resources kopf watches and handles (kopf's handler registry, filled by importing
``deskoperator.handlers``), and the HTTP verbs each ``Kube`` method sends. A new ``Kube`` method, a new child
kind or a new watched resource fails here until the chart grants it (and a grant nothing uses fails too).
The install test (test_chart_install.py) runs the operator with the chart's ServiceAccount token: the grants
are also enough in fact.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import kopf
import pytest

import deskoperator
from deskoperator import admission, certificates, handlers, kube  # noqa: F401  (importing handlers registers them)
from deskoperator.crd import PLURAL
from deskoperator.names import API_GROUP
from tests.chart.helm import find, template

Grant = tuple[str, str, str, str]  # (apiGroup, resource, verb, resourceName or "")

# RBAC verbs of each Kube method. apply is a server-side apply PATCH, which creates a missing object: the API
# server then also checks `create`. Extend this table when Kube grows a method; the test below insists.
KUBE_METHOD_VERBS: dict[str, tuple[str, ...]] = {
    "get": ("get",),
    "apply": ("patch", "create"),
    "list": ("list",),
    "delete": ("delete",),
    "replace": ("update",),  # a child apply cannot merge is replaced whole (reconcile.put_back)
    "patch_status": ("patch",),  # on the status subresource
    "get_at": ("get",),  # objects outside KINDS: the desks' certificate Secrets, cert-manager's objects
    "apply_at": ("patch", "create"),
    "served": (),  # API discovery (a non-resource URL every authenticated client may read)
    "get_lease": ("get",),  # the leadership Lease, in the operator's own namespace (leader.py)
    "create_lease": ("create",),
    "update_lease": ("update",),
    "apply_webhook_configuration": ("patch", "create"),  # server-side apply by name (admission.py)
    "request": (),  # the primitive the others use; never called directly outside kube.py (checked below)
}
LEASE_METHODS = ("get_lease", "create_lease", "update_lease")


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def operator_calls(*, clusterwide: bool, webhook: bool) -> set[Grant]:
    """Every (group, resource, verb) the operator and kopf on its behalf use, derived from the code."""
    calls: set[Grant] = set()
    for kind in kube.CHILD_KINDS:  # children: read, apply, list for pruning, delete
        api_version, plural = kube.KINDS[kind]
        for method in ("get", "apply", "replace", "list", "delete"):
            calls |= {(group_of(api_version), plural, verb, "") for verb in KUBE_METHOD_VERBS[method]}
    pod_version, pods = kube.KINDS["Pod"]  # the switchover of a rolling upgrade lists pods and deletes one
    calls |= {(group_of(pod_version), pods, verb, "") for m in ("list", "delete") for verb in KUBE_METHOD_VERBS[m]}
    desk_version, desk_plural = kube.KINDS["TradingDesk"]
    calls |= {(group_of(desk_version), desk_plural, verb, "") for verb in KUBE_METHOD_VERBS["get"]}  # drift repair
    calls |= {(group_of(desk_version), f"{desk_plural}/status", v, "") for v in KUBE_METHOD_VERBS["patch_status"]}
    registry = kopf.get_default_registry()
    for handler in registry._watching.get_all_handlers() + registry._indexing.get_all_handlers():
        calls |= {(handler.selector.group, handler.selector.any_name, verb, "") for verb in ("list", "watch")}
    for handler in registry._changing.get_all_handlers():  # desk handlers: watch, and patch the finalizer in
        calls |= {(handler.selector.group, PLURAL, verb, "") for verb in ("list", "watch", "patch")}
    for group, resource in certificates.RESOURCES:  # each desk's CA and service certificates
        calls |= {
            (group, resource, verb, "") for verb in (*KUBE_METHOD_VERBS["get_at"], *KUBE_METHOD_VERBS["apply_at"])
        }
    event_version, event_plural = kube.KINDS["Event"]
    calls.add((group_of(event_version), event_plural, "create", ""))  # kopf.info/warn post core/v1 Events
    if clusterwide:  # kopf watches CRDs to notice resources appearing (namespaced: scanning is off, handlers.py)
        calls |= {("apiextensions.k8s.io", "customresourcedefinitions", verb, "") for verb in ("list", "watch")}
        calls |= {("", "nodes", verb, "") for verb in ("list", "watch")}  # handlers.watch_nodes, cluster-wide only
    if webhook:  # every replica applies its webhook configuration by name (created the first time)
        calls.add(("admissionregistration.k8s.io", "validatingwebhookconfigurations", "create", ""))
        name = admission.CONFIGURATION
        calls.add(("admissionregistration.k8s.io", "validatingwebhookconfigurations", "patch", name))
    return calls


def lease_calls() -> set[Grant]:
    """The leadership Lease, granted by a Role in the release namespace in either mode."""
    return {("coordination.k8s.io", "leases", v, "") for m in LEASE_METHODS for v in KUBE_METHOD_VERBS[m]}


def grants(rules: list[dict[str, Any]]) -> set[Grant]:
    out: set[Grant] = set()
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(field, []), f"wildcard in {field}: {rule}"
        assert "nonResourceURLs" not in rule, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    for name in rule.get("resourceNames") or [""]:
                        out.add((group, resource, verb, name))
    return out


def test_every_kube_method_has_its_verbs() -> None:
    methods = {name for name, _ in inspect.getmembers(kube.Kube, inspect.isfunction) if not name.startswith("_")}
    assert methods == set(KUBE_METHOD_VERBS), "a Kube method was added or removed: update KUBE_METHOD_VERBS"
    # outside kube.py nobody sends raw requests (they would bypass the table above)
    package = Path(deskoperator.__file__).parent
    for path in package.glob("*.py"):
        if path.name == "kube.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "request" and isinstance(node.value, ast.Attribute):
                assert node.value.attr != "kube", f"{path.name}:{node.lineno} calls Kube.request directly"


def test_the_desk_kinds_are_the_ones_kopf_watches() -> None:
    watched = {h.selector.any_name for h in kopf.get_default_registry()._watching.get_all_handlers()}
    assert watched == {kube.KINDS[k][1] for k in kube.CHILD_KINDS} | {"pods", PLURAL}  # and the desks themselves
    assert group_of(kube.KINDS["TradingDesk"][0]) == API_GROUP


@pytest.mark.parametrize("webhook", [False, True], ids=["plain", "webhook"])
def test_cluster_role_grants_exactly_what_the_operator_calls(tmp_path: Path, webhook: bool) -> None:
    values = {"webhook": {"enabled": True, "certSecret": "tls"}} if webhook else None
    objects = template(tmp_path, values)
    (role,) = find(objects, "ClusterRole")
    granted = grants(role["rules"])
    needed = operator_calls(clusterwide=True, webhook=webhook)
    assert granted - needed == set(), f"granted but never used: {sorted(granted - needed)}"
    assert needed - granted == set(), f"used but not granted: {sorted(needed - granted)}"
    (lease_role,) = find(objects, "Role")
    assert lease_role["metadata"]["namespace"] == "tradingdesk-system"
    assert grants(lease_role["rules"]) == lease_calls()
    (binding,) = find(objects, "ClusterRoleBinding")
    (sa,) = find(objects, "ServiceAccount")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": "tradingdesk-system"}]  # fmt: skip


@pytest.mark.parametrize("webhook", [False, True], ids=["plain", "webhook"])
def test_namespaced_roles_grant_exactly_what_the_operator_calls(tmp_path: Path, webhook: bool) -> None:
    values: dict[str, Any] = {"namespaces": ["desks-a", "desks-b"]}
    if webhook:
        values["webhook"] = {"enabled": True, "certSecret": "tls"}
    objects = template(tmp_path, values)
    needed = operator_calls(clusterwide=False, webhook=webhook)
    webhook_calls = {g for g in needed if g[1] == "validatingwebhookconfigurations"}
    roles = find(objects, "Role")
    (lease_role,) = [r for r in roles if r["metadata"]["name"].endswith("-lease")]
    assert lease_role["metadata"]["namespace"] == "tradingdesk-system"
    assert grants(lease_role["rules"]) == lease_calls()
    for role in roles:
        if role is lease_role:
            continue
        granted = grants(role["rules"])
        assert granted == needed - webhook_calls, f"Role in {role['metadata']['namespace']}"
    cluster_roles = find(objects, "ClusterRole")
    if webhook:
        (cluster_role,) = cluster_roles
        assert grants(cluster_role["rules"]) == webhook_calls
    else:
        assert cluster_roles == []
    bindings = [b for b in find(objects, "RoleBinding") if not b["metadata"]["name"].endswith("-lease")]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["desks-a", "desks-b"]
    assert all(b["roleRef"]["kind"] == "Role" for b in bindings)
