"""Rendering a desk into Kubernetes objects: placement, probes, config hashes, network policies, owner refs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from deskoperator.names import CONFIG_HASH_ANNOTATION, MAX_DESK_NAME
from deskoperator.placement import EVICTION_TOLERATION_SECONDS
from deskoperator.render import Owner, config_hash, render
from tests.operator.helpers import example_document
from tradingdesk.spec.access import AccessSpec
from tradingdesk.spec.load import parse_desk
from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk

NS = "trading"
IMAGE = "ghcr.io/tradingdesk/tradingdesk:test"


def desk(**spec: Any) -> TradingDesk:
    doc = example_document()
    doc["spec"].update(spec)
    return parse_desk(doc)


def objects(d: TradingDesk) -> list[dict[str, Any]]:
    return render(d, NS, Owner(d.name, "uid-1"), IMAGE)


def by(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def pod(objs: list[dict[str, Any]], service: str) -> dict[str, Any]:
    return by(objs, "Deployment", f"us-equities-{service}")["spec"]["template"]["spec"]


def test_every_child_is_owned_labelled_and_namespaced() -> None:
    objs = objects(desk())
    kinds = sorted({o["kind"] for o in objs})
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "Job",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
        ]
    )
    assert len([o for o in objs if o["kind"] == "Deployment"]) == 5
    for o in objs:
        meta = o["metadata"]
        assert meta["namespace"] == NS
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "tradingdesk.io/v1alpha1",
                "kind": "TradingDesk",
                "name": "us-equities",
                "uid": "uid-1",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert meta["labels"]["app.kubernetes.io/instance"] == "us-equities"
        assert meta["labels"]["app.kubernetes.io/name"] == "tradingdesk"


def test_deployment_runs_serve_with_directory_env_certificate_and_tls_probes() -> None:
    d = desk()
    spec = pod(objects(d), "risk")
    (c,) = spec["containers"]
    assert c["command"] == ["tradingdesk"]
    assert c["args"] == ["serve", "risk", "-f", "/etc/tradingdesk/desk.yaml"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["TD_BIND"] == "0.0.0.0:50053"
    for s in SERVICE_NAMES:
        assert env[f"TD_ADDR_{s.upper()}"] == f"us-equities-{s}.{NS}.svc:{d.spec.services.port_of(s)}"
    health = ["python", "-m", "tradingdesk.runtime.healthcheck"]  # over the desk's TLS (the kubelet's can't)
    for probe in ("startupProbe", "livenessProbe"):  # the process: a standby is alive too
        assert c[probe]["exec"] == {"command": health}
    # ready: the active replica only (a standby reports its RiskService NOT_SERVING)
    assert c["readinessProbe"]["exec"] == {"command": [*health, "--service", "tradingdesk.v1.RiskService"]}
    assert c["readinessProbe"]["periodSeconds"] == 1
    assert env["TD_TLS_DIR"] == "/etc/tradingdesk/tls"
    assert {"name": "tls", "mountPath": "/etc/tradingdesk/tls", "readOnly": True} in c["volumeMounts"]
    assert {"name": "tls", "secret": {"secretName": "us-equities-risk-tls", "defaultMode": 0o440}} in spec["volumes"]
    assert c["image"] == IMAGE
    assert c["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }
    labels = by(objects(d), "Deployment", "us-equities-risk")["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "risk"


def test_service_image_and_resources_come_from_the_spec() -> None:
    services = {"risk": {"image": "registry.local/risk:2", "resources": {"cpu": "2", "memory": "1Gi"}, "replicas": 2}}
    objs = objects(desk(services=services))
    (c,) = pod(objs, "risk")["containers"]
    assert c["image"] == "registry.local/risk:2"
    assert c["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    dep = by(objs, "Deployment", "us-equities-risk")
    assert dep["spec"]["replicas"] == 2
    # two replicas with required anti-affinity: replace one at a time, no surge pod that may find no node
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    assert by(objs, "Deployment", "us-equities-feeds")["spec"]["strategy"]["rollingUpdate"] == {
        "maxSurge": 1,
        "maxUnavailable": 0,
    }


def test_placement_selects_colocation_tolerates_and_spreads() -> None:
    tolerate = {"key": "tradingdesk.io/desk", "operator": "Exists", "effect": "NoSchedule"}
    d = desk(placement={"colocation": "ny4", "nodeSelector": {"disk": "nvme"}, "tolerations": [tolerate]})
    spec = pod(objects(d), "routing")
    assert spec["nodeSelector"] == {"disk": "nvme", "tradingdesk.io/colocation": "ny4"}
    assert spec["tolerations"][0] == {"key": "tradingdesk.io/desk", "operator": "Exists", "effect": "NoSchedule"}
    failure = {t["key"]: t for t in spec["tolerations"][1:]}
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        assert failure[key] == {
            "key": key,
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": EVICTION_TOLERATION_SECONDS,
        }
    (term,) = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "routing"
    (spread,) = spec["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname" and spread["whenUnsatisfiable"] == "ScheduleAnyway"


def test_placement_options() -> None:
    spec = pod(objects(desk(placement={"antiAffinity": "preferred", "topologySpread": False})), "feeds")
    assert "preferredDuringSchedulingIgnoredDuringExecution" in spec["affinity"]["podAntiAffinity"]
    assert "topologySpreadConstraints" not in spec and "nodeSelector" not in spec
    assert "affinity" not in pod(objects(desk(placement={"antiAffinity": "none"})), "feeds")
    # a spec toleration for node failure replaces the operator's default one
    own = {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 60,
    }
    spec = pod(objects(desk(placement={"tolerations": [own]})), "feeds")
    unreachable = [t for t in spec["tolerations"] if t["key"] == "node.kubernetes.io/unreachable"]
    assert unreachable == [own]


def hashes(d: TradingDesk) -> dict[str, str]:
    return {s: config_hash(d, s) for s in SERVICE_NAMES}


def templates(d: TradingDesk) -> dict[str, Any]:
    return {s: by(objects(d), "Deployment", f"us-equities-{s}")["spec"]["template"] for s in SERVICE_NAMES}


@pytest.mark.parametrize(
    ("change", "rolled"),
    [
        ({"risk": {"maxOrderQuantity": "10", "httpPort": 8053}}, set()),  # delivered live with SetLimits
        ({"risk": {"httpPort": 9000}}, {"risk"}),  # where the risk process listens: its pod rolls
        ({"venues": [{"name": "xnys"}]}, {"routing"}),
        ({"monitoring": {"healthCheckIntervalMs": 500}}, {"monitoring"}),
        ({"compliance": {"auditBucket": {"retentionDays": 10}}}, {"compliance"}),
        # the desk's clock: every service that stamps or judges time by it
        ({"conduct": {"clock": {"source": "wall"}}}, {"feeds", "routing", "risk", "compliance"}),
        ({"tradingState": "Halted"}, set()),  # the kill switch goes over gRPC, never by restarting pods
        ({"services": {"risk": {"resources": {"cpu": "750m"}}}}, {"risk"}),
        ({"services": {"risk": {"port": 6000}}}, set(SERVICE_NAMES)),  # every pod's TD_ADDR_RISK changes
    ],
)
def test_a_spec_change_rolls_only_the_services_that_read_it(change: dict[str, Any], rolled: set[str]) -> None:
    before = templates(desk())
    after = templates(desk(**change))
    assert {s for s in SERVICE_NAMES if before[s] != after[s]} == rolled
    for s in SERVICE_NAMES:
        assert after[s]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION] == config_hash(desk(**change), s)


def test_config_map_holds_a_desk_the_services_can_load() -> None:
    d = desk()
    cm = by(objects(d), "ConfigMap", "us-equities-spec")
    loaded = parse_desk(yaml.safe_load(cm["data"]["desk.yaml"]))
    assert loaded.spec == d.spec
    assert loaded.metadata.namespace == NS


def test_services_pdbs_and_rbac() -> None:
    objs = objects(desk())
    svc = by(objs, "Service", "us-equities-monitoring")
    assert [p["port"] for p in svc["spec"]["ports"]] == [50055, 9464, 8090]  # gRPC, metrics, dashboard
    assert svc["spec"]["selector"]["app.kubernetes.io/component"] == "monitoring"
    pdb = by(objs, "PodDisruptionBudget", "us-equities-routing")
    assert pdb["spec"]["maxUnavailable"] == 1
    role = by(objs, "Role", "us-equities")
    assert all(rule["resourceNames"] for rule in role["rules"])  # only its own objects
    assert by(objs, "RoleBinding", "us-equities")["subjects"][0]["name"] == "us-equities"
    assert pod(objs, "feeds")["serviceAccountName"] == "us-equities"


def netpols(d: TradingDesk) -> dict[str, dict[str, Any]]:
    return {
        o["metadata"]["name"].removeprefix("us-equities-"): o["spec"]
        for o in objects(d)
        if o["kind"] == "NetworkPolicy"
    }


def callers(policy: dict[str, Any]) -> set[str]:
    """Desk components that may call, and "operator" for the operator's pods (in their own namespace)."""
    return {
        "operator" if "namespaceSelector" in peer else peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for rule in policy["ingress"]
        for peer in rule.get("from", [])
    }


def callees(policy: dict[str, Any]) -> set[tuple[str, int]]:
    return {
        (rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"], rule["ports"][0]["port"])
        for rule in policy["egress"]
        if "to" in rule
    }


def test_network_policies_admit_only_the_desk_call_graph() -> None:
    pols = netpols(desk())
    assert set(pols) == {*SERVICE_NAMES, "migrate"}  # the migration Job's pods: DNS and the database only
    assert callers(pols["feeds"]) == {"routing", "risk", "compliance", "monitoring"}
    assert callers(pols["risk"]) == {"routing", "compliance", "monitoring", "operator"}  # + the change journal
    assert callers(pols["routing"]) == {"compliance", "risk", "monitoring"}
    # feeds' access decisions, and the operator's actions and the finalizer's seal
    assert callers(pols["compliance"]) == {"feeds", "monitoring", "operator"}
    # clients reach routing (orders) and monitoring (dashboard, metrics) from anywhere, on those ports only
    open_rules = [r for r in pols["routing"]["ingress"] if "from" not in r]
    metrics = {"ports": [{"protocol": "TCP", "port": 9464}]}  # Prometheus scrapes every pod
    assert open_rules == [{"ports": [{"protocol": "TCP", "port": 50052}]}, metrics]
    assert [r for r in pols["feeds"]["ingress"] if "from" not in r] == [metrics]
    for name, pol in pols.items():
        assert pol["policyTypes"] == ["Ingress", "Egress"]
        assert {"protocol": "UDP", "port": 53} in pol["egress"][0]["ports"], name
    assert callees(pols["routing"]) == {("feeds", 50051), ("risk", 50053)}
    assert callees(pols["risk"]) == {("routing", 50052), ("feeds", 50051)}  # real-time risk: journal and marks
    # the audit trail (the order journal, risk's change journal) and surveillance (the journal, the market)
    assert callees(pols["compliance"]) == {("routing", 50052), ("risk", 50053), ("feeds", 50051)}
    assert callees(pols["feeds"]) == {("compliance", 50054)}  # access decisions, into the audit trail


def test_network_policies_open_egress_only_to_configured_external_ports() -> None:
    bucket = {"kind": "s3", "bucket": "audit", "endpoint": "https://s3.local:9000"}
    postgres = {"secretRef": {"name": "desk-db"}, "port": 6432}
    pols = netpols(desk(storage={"postgres": postgres}, compliance={"auditBucket": bucket}))

    def external(p: dict[str, Any]) -> set[int]:
        return {port["port"] for r in p["egress"][1:] if "to" not in r for port in r["ports"]}

    assert external(pols["routing"]) == {6432}
    assert external(pols["compliance"]) == {6432, 9000}
    assert external(pols["feeds"]) == set()
    assert external(pols["risk"]) == {6432}
    assert external(netpols(desk(storage={"ephemeral": True}))["routing"]) == set()  # SQLite: no network
    assert pols["migrate"]["ingress"] == []  # the migration Job: DNS and the database, nothing else
    assert pols["migrate"]["egress"][1:] == [{"ports": [{"protocol": "TCP", "port": 6432}]}]


def test_desk_name_limit_fits_service_names() -> None:
    assert len("x" * MAX_DESK_NAME + "-compliance") == 63


def test_rendered_hash_changes_when_a_field_is_removed() -> None:
    """Removing a field keeps 'rendered fields are live' true; the hash annotation makes it drift anyway."""
    from deskoperator.diff import drift

    placement = {**example_document()["spec"]["placement"], "nodeSelector": {"disk": "nvme"}}
    with_key = by(objects(desk(placement=placement)), "Deployment", "us-equities-risk")
    without = by(objects(desk()), "Deployment", "us-equities-risk")
    assert drift(without, with_key) == [
        ".metadata.annotations.tradingdesk.io/rendered-hash",
        ".spec.template.metadata.annotations.tradingdesk.io/pod-version",
    ]
    assert drift(with_key, with_key) == []


def test_risk_http_kill_switch_is_exposed_with_its_credential() -> None:
    objs = objects(desk(risk={"httpPort": 8053}))
    risk_pod = pod(objs, "risk")
    (container,) = risk_pod["containers"]
    assert {"name": "http", "containerPort": 8053, "protocol": "TCP"} in container["ports"]
    assert {"name": "TD_RISK_HTTP_TOKEN_FILE", "value": "/etc/tradingdesk/risk-http/token"} in container["env"]
    (volume,) = [v for v in risk_pod["volumes"] if v["name"] == "risk-http"]
    assert volume["secret"]["secretName"] == "us-equities-risk-http" and volume["secret"]["optional"]
    service_ports = by(objs, "Service", "us-equities-risk")["spec"]["ports"]
    assert any(p["name"] == "http" and p["port"] == 8053 for p in service_ports)
    assert {"ports": [{"protocol": "TCP", "port": 8053}]} in netpols(desk(risk={"httpPort": 8053}))["risk"]["ingress"]
    off = pod(objects(desk(risk={"httpPort": 0})), "risk")
    assert all(v["name"] != "risk-http" for v in off["volumes"])


def test_a_desk_without_tls_keeps_the_kubelets_grpc_probe() -> None:
    d = desk()
    plain = d.model_copy(update={"spec": d.spec.model_copy(update={"access": AccessSpec(tls=False)})})
    (c,) = pod(objects(plain), "routing")["containers"]
    assert c["readinessProbe"]["grpc"] == {"port": 50052, "service": "tradingdesk.v1.OrderService"}
    assert c["livenessProbe"]["grpc"] == {"port": 50052}
    assert "TD_TLS_DIR" not in {e["name"] for e in c["env"]}
