"""The chart rendered by real helm: lint, three value sets, the schema's refusals, and what the pods get."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from deskoperator import __version__
from deskoperator.config import parser as operator_parser
from tests.chart.helm import CHART, find, helm, one, template, values_args

# Tainted dedicated nodes, a private registry, a priority class and a ServiceMonitor: what a platform team sets.
PLATFORM_VALUES: dict[str, Any] = {
    "image": {"repository": "registry.example.com/trading/tradingdesk", "tag": "0.1.0-rc1", "pullPolicy": "Always"},
    "imagePullSecrets": ["registry-creds"],
    "nodeSelector": {"node-role.example.com/system": "true"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "system", "effect": "NoSchedule"}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]
            }
        }
    },
    "priorityClassName": "system-cluster-critical",
    "podAnnotations": {"example.com/team": "trading-platform"},
    "serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "prometheus"}},
    "logLevel": "DEBUG",
}
# Namespaced, with the validating webhook and a single replica.
NAMESPACED_VALUES: dict[str, Any] = {
    "namespaces": ["desks-a", "desks-b"],
    "replicas": 1,
    "webhook": {"enabled": True, "certSecret": "operator-webhook-tls"},
    "podDisruptionBudget": {"enabled": False},
    "deskImage": "registry.example.com/trading/tradingdesk:0.1.0",
}
SERVICE_MONITOR_API = ["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"]


def pod_spec(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return one(objects, "Deployment")["spec"]["template"]["spec"]


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (c,) = pod_spec(objects)["containers"]
    return c


def test_chart_version_follows_the_package() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__  # the default image tag is the version of the code it runs


def test_lint_strict_passes_for_every_value_set(tmp_path: Path) -> None:
    # lint has no --api-versions: the ServiceMonitor (which needs its CRD) is rendered by the template tests
    without_monitor = {**PLATFORM_VALUES, "serviceMonitor": {"enabled": False}}
    for values in (None, without_monitor, NAMESPACED_VALUES):
        result = helm("lint", "--strict", str(CHART), *values_args(values, tmp_path))
        assert "0 chart(s) failed" in result.out, result.out


def test_default_values_render_a_cluster_wide_operator(tmp_path: Path) -> None:
    objects = template(tmp_path)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(
        [
            "CustomResourceDefinition",
            *("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment", "PodDisruptionBudget"),
            *("Role", "RoleBinding"),  # the leadership Lease, in the release namespace
        ]
    )
    crds = {o["metadata"]["name"] for o in find(objects, "CustomResourceDefinition")}
    assert crds == {"tradingdesks.tradingdesk.io"}
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    spec = pod_spec(objects)
    assert spec["serviceAccountName"] == "desk-operator-tradingdesk-operator"
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 10001
    assert "tolerations" not in spec and "nodeSelector" not in spec and "priorityClassName" not in spec
    assert "podAntiAffinity" in spec["affinity"]  # replicas prefer different nodes
    c = container(objects)
    assert c["image"] == f"ghcr.io/tradingdesk/tradingdesk:{__version__}"
    assert c["command"] == ["python", "-m", "deskoperator"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}  # ready: it serves the webhook
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["TD_OPERATOR_IMAGE"] == c["image"]
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("values", [None, PLATFORM_VALUES, NAMESPACED_VALUES], ids=["default", "platform", "ns"])
def test_operator_accepts_every_flag_the_chart_passes(tmp_path: Path, values: dict[str, Any] | None) -> None:
    c = container(template(tmp_path, values, *SERVICE_MONITOR_API))
    args = operator_parser().parse_args(c["args"])  # exits (SystemExit) on a flag the operator does not know
    assert args.metrics_port == 8081 and args.rpc_timeout == 3
    assert args.namespace == list((values or {}).get("namespaces", []))


def test_platform_values_reach_the_pod(tmp_path: Path) -> None:
    objects = template(tmp_path, PLATFORM_VALUES, *SERVICE_MONITOR_API)
    spec = pod_spec(objects)
    assert spec["tolerations"] == PLATFORM_VALUES["tolerations"]
    assert spec["nodeSelector"] == PLATFORM_VALUES["nodeSelector"]
    assert spec["affinity"] == PLATFORM_VALUES["affinity"]  # replaces the default anti-affinity
    assert spec["priorityClassName"] == "system-cluster-critical"
    assert spec["imagePullSecrets"] == [{"name": "registry-creds"}]
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["template"]["metadata"]["annotations"] == PLATFORM_VALUES["podAnnotations"]
    c = container(objects)
    assert c["image"] == "registry.example.com/trading/tradingdesk:0.1.0-rc1"
    assert c["imagePullPolicy"] == "Always"
    monitor = one(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s"}]
    service = one(objects, "Service")
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert {"name": "metrics", "port": 8081, "targetPort": "metrics"} in service["spec"]["ports"]


def test_namespaced_values_render_roles_and_the_webhook(tmp_path: Path) -> None:
    objects = template(tmp_path, NAMESPACED_VALUES)
    roles = find(objects, "Role")  # one per watched namespace, and the leadership Lease's in the release namespace
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["desks-a", "desks-b", "tradingdesk-system"]
    bindings = sorted(b["metadata"]["namespace"] for b in find(objects, "RoleBinding"))
    assert bindings == ["desks-a", "desks-b", "tradingdesk-system"]
    # the only cluster-wide grant left is the webhook's own configuration
    (cluster_role,) = find(objects, "ClusterRole")
    assert {r for rule in cluster_role["rules"] for r in rule["resources"]} == {"validatingwebhookconfigurations"}
    assert find(objects, "PodDisruptionBudget") == []
    c = container(objects)
    assert "--namespace=desks-a" in c["args"] and "--namespace=desks-b" in c["args"]
    assert "--webhook" in c["args"]
    assert {"name": "webhook-tls", "mountPath": "/etc/webhook", "readOnly": True} in c["volumeMounts"]
    volumes = {v["name"]: v for v in pod_spec(objects)["volumes"]}
    assert volumes["webhook-tls"]["secret"]["secretName"] == "operator-webhook-tls"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["TD_OPERATOR_IMAGE"] == NAMESPACED_VALUES["deskImage"]


def test_service_monitor_without_its_crd_fails_with_a_reason(tmp_path: Path) -> None:
    result = helm(
        "template", "x", str(CHART), *values_args({"serviceMonitor": {"enabled": True}}, tmp_path), check=False
    )
    assert result.code != 0
    assert "serviceMonitor.enabled needs the Prometheus Operator's ServiceMonitor CRD" in result.err


# (values, what helm's schema error must name): each is a mistake someone will make.
BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"replicas": -1}, "replicas"),
    ({"replicas": "two"}, "replicas"),
    ({"replica": 2}, "replica"),  # a typo is refused, not silently ignored
    ({"image": {"repository": "ghcr.io/x", "pullPolicy": "Sometimes"}}, "pullPolicy"),
    ({"image": {"repository": "ghcr.io/x", "pullPolicy": "Always", "tag": "has space"}}, "tag"),
    ({"namespaces": "desks"}, "namespaces"),
    ({"namespaces": ["Desks_A"]}, "namespaces"),
    ({"metrics": {"port": 70000}}, "port"),
    ({"webhook": {"enabled": True}}, "certSecret"),
    ({"logLevel": "verbose"}, "logLevel"),
    ({"tolerations": {"key": "dedicated"}}, "tolerations"),
    ({"tolerations": [{"key": "dedicated", "operator": "Maybe"}]}, "operator"),
    ({"resources": {"limits": {"cpu": "lots"}}}, "cpu"),
    ({"serviceMonitor": {"enabled": True, "interval": "often"}}, "interval"),
    ({"imagePullSecrets": [{"name": "creds"}]}, "imagePullSecrets"),
]


@pytest.mark.parametrize(("values", "field"), BAD_VALUES, ids=[str(v) for v, _ in BAD_VALUES])
def test_schema_refuses_bad_values_naming_the_field(tmp_path: Path, values: dict[str, Any], field: str) -> None:
    result = helm("template", "x", str(CHART), *values_args(values, tmp_path), check=False)
    assert result.code != 0, f"accepted {values}"
    assert "values don't meet the specifications of the schema" in result.err, result.err
    assert field in result.err, result.err


def test_schema_accepts_every_documented_default(tmp_path: Path) -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert template(tmp_path, defaults)  # the defaults, passed explicitly, validate against the schema
