"""Repairs that never wedge: what apply cannot merge is replaced, and a repair that fails is loud and retried."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl
from tests.operator.process import Operator

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(300)]

DESK = "us-equities"


def test_an_edited_service_port_is_put_back(kube: Kubectl, operator: Operator, namespace: str) -> None:
    """Apply alone would keep both ports (merged by port number) and the API server refuses two named grpc."""
    kube.apply(test_desk_document(), namespace)
    kube.wait_ready(namespace, DESK, timeout=120)
    svc = f"{DESK}-risk"
    edit = [{"op": "replace", "path": "/spec/ports/0/port", "value": 50099}]
    kube.run("patch", "service", svc, "-n", namespace, "--type", "json", "-p", json.dumps(edit))

    def ports() -> list[tuple[str, int]]:
        spec = kube.json("get", "service", svc, "-n", namespace)["spec"]
        return [(p["name"], p["port"]) for p in spec["ports"]]

    kube.wait_until("the rendered ports back", lambda: ports()[:1] == [("grpc", 50053)], timeout=60)
    assert 50099 not in [p for _, p in ports()]
    repairs = [e["message"] for e in kube.events(namespace, DESK) if e["reason"] == "DriftRepaired"]
    assert any(f"Service/{svc}" in m and "replaced" in m for m in repairs), repairs
    assert "RepairFailed" not in kube.event_reasons(namespace, DESK)

    # later updates are not wedged either
    kube.run("patch", "desk", DESK, "-n", namespace, "--type", "merge", "-p",
             json.dumps({"spec": {"services": {"feeds": {"resources": {"cpu": "600m"}}}}}))  # fmt: skip
    kube.wait_until(
        "generation 2 applied",
        lambda: kube.desk(namespace, DESK)["status"].get("observedGeneration") == 2,
        timeout=60,
    )
    assert kube.condition(namespace, DESK, "Degraded")["status"] == "False"


def test_a_repair_that_fails_is_an_event_a_condition_and_a_metric(
    kube: Kubectl, operator: Operator, namespace: str
) -> None:
    kube.apply(test_desk_document(), namespace)
    kube.wait_ready(namespace, DESK, timeout=120)
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-more-services"},
        "spec": {"hard": {"services": "4"}},
    }
    kube.apply(quota, namespace)
    kube.wait_until(
        "the quota counting the desk's 5 services",
        lambda: (
            kube.json("get", "resourcequota", "no-more-services", "-n", namespace)
            .get("status", {})
            .get("used", {})
            .get("services")
            == "5"
        ),
        timeout=60,
    )
    kube.run("delete", "service", f"{DESK}-feeds", "-n", namespace)

    def degraded() -> dict:
        cond = kube.condition(namespace, DESK, "Degraded")
        return cond if cond.get("reason") == "RepairFailed" else {}

    cond = kube.wait_until("Degraded RepairFailed", degraded, timeout=60)
    assert (
        cond["status"] == "True" and f"Service/{DESK}-feeds" in cond["message"] and "exceeded quota" in cond["message"]
    )
    assert "RepairFailed" in kube.event_reasons(namespace, DESK)
    row = kube.desk_row(namespace, DESK)
    assert (row["DEGRADED"], row["REASON"]) == ("True", "RepairFailed")  # the printer columns
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert 'tradingdesk_operator_repair_failures_total{kind="Service"}' in text
    assert f'tradingdesk_operator_desk_repair_failures_total{{desk="{DESK}",namespace="{namespace}"}}' in text

    kube.run("delete", "resourcequota", "no-more-services", "-n", namespace)  # retried with backoff: it heals
    kube.wait_until(
        "the Service recreated",
        lambda: kube.run("get", "service", f"{DESK}-feeds", "-n", namespace, check=False).ok,
        timeout=60,
    )
    kube.wait_until(
        "Degraded False again",
        lambda: kube.condition(namespace, DESK, "Degraded").get("status") == "False",
        timeout=60,
    )
