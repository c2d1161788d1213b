"""The desk's monitoring children: rendered as a ConfigMap without the Prometheus Operator, plus a PrometheusRule
and a ServiceMonitor with it (the real CRDs installed into the local control plane); pods carry /metrics."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from deskoperator.monitoring import config_map_name, monitoring_objects
from deskoperator.render import Owner, render
from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl
from tests.operator.process import Operator
from tradingdesk.spec import parse_desk
from tradingdesk.spec.alerting import rule_groups

NS = "trading"
BUILD = Path(__file__).resolve().parents[1] / "monitoring" / "build.sh"


def rendered(prometheus_operator: bool, **overrides) -> list[dict]:
    desk = parse_desk(test_desk_document(**overrides))
    return render(desk, NS, Owner("us-equities", "uid-1"), "img", prometheus_operator=prometheus_operator)


def kinds(objs: list[dict]) -> dict[str, dict]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objs}


def test_without_the_prometheus_operator_a_config_map_holds_rules_scrape_and_routing() -> None:
    objs = kinds(rendered(False))
    assert not [k for k in objs if k.startswith(("PrometheusRule/", "ServiceMonitor/"))]
    cm = objs[f"ConfigMap/{config_map_name('us-equities')}"]
    rules = yaml.safe_load(cm["data"]["rules.yml"])
    assert rules == rule_groups(parse_desk(test_desk_document()))
    scrape = yaml.safe_load(cm["data"]["scrape.yml"])["scrape_configs"][0]
    targets = {c["labels"]["service"]: c["targets"][0] for c in scrape["static_configs"]}
    assert targets["routing"] == "us-equities-routing.trading.svc:9464"
    assert scrape["scheme"] == "https"  # with Prometheus' certificate, mounted from its Secret
    secret = "/etc/prometheus/secrets/us-equities-prometheus-tls"
    assert scrape["tls_config"] == {
        "ca_file": f"{secret}/ca.crt",
        "cert_file": f"{secret}/tls.crt",
        "key_file": f"{secret}/tls.key",
        "server_name": "us-equities-metrics.trading.svc",
    }
    assert "route" in yaml.safe_load(cm["data"]["alertmanager.yml"])
    assert cm["metadata"]["ownerReferences"][0]["uid"] == "uid-1"


def test_with_the_prometheus_operator_a_rule_and_a_service_monitor() -> None:
    objs = kinds(rendered(True))
    rule = objs["PrometheusRule/us-equities"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"][0]["rules"][0]["alert"] == "DeskDown"
    monitor = objs["ServiceMonitor/us-equities"]["spec"]
    assert monitor["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "tradingdesk",
        "app.kubernetes.io/instance": "us-equities",
    }
    (endpoint,) = monitor["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["interval"] == "1s"
    targets = {r["targetLabel"] for r in endpoint["relabelings"]}
    assert targets == {"desk", "service"}  # what every rule selects on
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {
        "ca": {"secret": {"name": "us-equities-prometheus-tls", "key": "ca.crt"}},
        "cert": {"secret": {"name": "us-equities-prometheus-tls", "key": "tls.crt"}},
        "keySecret": {"name": "us-equities-prometheus-tls", "key": "tls.key"},
        "serverName": "us-equities-metrics.trading.svc",
    }


def test_a_desk_without_tls_is_scraped_in_plaintext() -> None:
    objs = kinds(rendered(True, access={"tls": False}))
    (endpoint,) = objs["ServiceMonitor/us-equities"]["spec"]["endpoints"]
    assert "scheme" not in endpoint and "tlsConfig" not in endpoint
    scrape = yaml.safe_load(objs["ConfigMap/us-equities-monitoring"]["data"]["scrape.yml"])["scrape_configs"][0]
    assert "scheme" not in scrape and "tls_config" not in scrape


def test_every_pod_and_service_carries_the_metrics_port() -> None:
    objs = kinds(rendered(False))
    for service in ("feeds", "routing", "risk", "compliance", "monitoring"):
        container = objs[f"Deployment/us-equities-{service}"]["spec"]["template"]["spec"]["containers"][0]
        assert {"name": "metrics", "containerPort": 9464, "protocol": "TCP"} in container["ports"]
        assert {"name": "TD_METRICS_BIND", "value": "0.0.0.0:9464"} in container["env"]
        ports = objs[f"Service/us-equities-{service}"]["spec"]["ports"]
        assert {"name": "metrics", "port": 9464, "targetPort": "metrics", "protocol": "TCP"} in ports
    monitoring = objs["Service/us-equities-monitoring"]["spec"]["ports"]
    assert {"name": "dashboard", "port": 8090, "targetPort": "dashboard", "protocol": "TCP"} in monitoring


def test_metrics_off_renders_no_monitoring_objects() -> None:
    desk = parse_desk(test_desk_document(monitoring={"metricsPort": 0}))
    assert monitoring_objects(desk, NS, lambda name: {"name": name}, prometheus_operator=True) == []


@pytest.mark.k8s
@pytest.mark.slow
def test_prometheus_rule_and_service_monitor_in_a_real_cluster(
    kube: Kubectl, operator: Operator, namespace: str
) -> None:
    done = subprocess.run(["bash", str(BUILD), "--check", "prometheus-operator"], capture_output=True, text=True)
    if done.returncode:
        pytest.fail("the Prometheus Operator CRDs are not fetched: run `make monitoring-build`")
    crds = Path(done.stdout.strip().splitlines()[-1])
    for name in ("prometheusrules", "servicemonitors"):
        kube.run("apply", "--server-side", "--force-conflicts", "-f", str(crds / f"monitoring.coreos.com_{name}.yaml"))
        kube.run("wait", "--for=condition=Established", f"crd/{name}.monitoring.coreos.com", "--timeout=60s")
    kube.apply(test_desk_document(), namespace)
    kube.wait_until(
        "the desk's PrometheusRule",
        lambda: kube.run("get", "prometheusrule", "us-equities", "-n", namespace, check=False).ok,
        timeout=90,
    )
    live = kube.json("get", "prometheusrule", "us-equities", "-n", namespace)
    assert {r["alert"] for r in live["spec"]["groups"][0]["rules"]} >= {"DeskDown", "FeedDown", "KillSwitchFired"}
    assert live["metadata"]["ownerReferences"][0]["kind"] == "TradingDesk"
    monitor = kube.json("get", "servicemonitor", "us-equities", "-n", namespace)
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    # the CRD's schema keeps the TLS settings (it prunes what it does not know), naming a Secret the operator wrote
    tls = monitor["spec"]["endpoints"][0]["tlsConfig"]
    assert monitor["spec"]["endpoints"][0]["scheme"] == "https" and tls["keySecret"]["key"] == "tls.key"
    kube.wait_until(
        "Prometheus' client certificate",
        lambda: kube.run("get", "secret", tls["keySecret"]["name"], "-n", namespace, check=False).ok,
        timeout=90,
    )
    cm = kube.json("get", "configmap", config_map_name("us-equities"), "-n", namespace)
    assert "alertmanager.yml" in cm["data"]
    svc = kube.json("get", "service", "us-equities-feeds", "-n", namespace)
    assert "metrics" in {p["name"] for p in svc["spec"]["ports"]}
    kube.run("delete", "prometheusrule", "us-equities", "-n", namespace)  # drift repair brings it back
    assert kube.wait_until(
        "the PrometheusRule restored",
        lambda: kube.run("get", "prometheusrule", "us-equities", "-n", namespace, check=False).ok,
        timeout=90,
    )
