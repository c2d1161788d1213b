"""Storage through the real API server: state on an emptyDir refused with a condition naming the field, one
migration Job per desk version (a new image tag: a new Job, the old one pruned). Pods are kwok's here;
tests/operator/test_pods_e2e.py runs them."""

from __future__ import annotations

import json

import pytest

from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl
from tests.operator.process import Operator

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(300)]

DESK = "us-equities"


def jobs(kube: Kubectl, ns: str) -> list[str]:
    items = kube.json("get", "jobs", "-n", ns, "-l", f"app.kubernetes.io/instance={DESK}")["items"]
    return sorted(j["metadata"]["name"] for j in items if not j["metadata"].get("deletionTimestamp"))


def test_state_on_an_emptydir_is_refused_until_the_desk_says_ephemeral(
    kube: Kubectl, operator: Operator, namespace: str
) -> None:
    doc = test_desk_document(DESK)
    doc["spec"]["storage"] = {"dataDir": "var"}
    kube.apply(doc, namespace)
    ready = kube.wait_until(
        "Ready=False UnsafeStorage",
        lambda: (c := kube.condition(namespace, DESK, "Ready")).get("reason") == "UnsafeStorage" and c,
        timeout=60,
    )
    assert ready["status"] == "False"
    assert ready["message"].startswith("spec.storage.postgres: not set, so routing, risk and compliance would keep")
    assert kube.condition(namespace, DESK, "Degraded")["reason"] == "UnsafeStorage"
    assert "UnsafeStorage" in kube.event_reasons(namespace, DESK)
    assert kube.json("get", "deployments", "-n", namespace)["items"] == []

    patch = {"spec": {"storage": {"ephemeral": True}}}
    kube.run("patch", "desk", DESK, "-n", namespace, "--type", "merge", "-p", json.dumps(patch))
    kube.wait_ready(namespace, DESK, timeout=120)
    assert jobs(kube, namespace) == []  # SQLite pods migrate their own files


def test_one_migration_job_per_desk_version(kube: Kubectl, operator: Operator, namespace: str) -> None:
    kube.apply(test_desk_document(DESK), namespace)
    kube.wait_ready(namespace, DESK, timeout=120)
    (first,) = jobs(kube, namespace)
    assert first.startswith(f"{DESK}-db-")
    job = kube.json("get", "job", first, "-n", namespace)
    assert job["metadata"]["ownerReferences"][0]["kind"] == "TradingDesk"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"][:3] == ["migrate", "-f", "/etc/tradingdesk/desk.yaml"]
    kube.wait_until("the Job complete", lambda: kube.json("get", "job", first, "-n", namespace)["status"].get(
        "succeeded") == 1, timeout=60)  # fmt: skip

    # a change no migration depends on: the same Job
    kube.run(
        "patch", "desk", DESK, "-n", namespace, "--type", "merge", "-p", '{"spec":{"risk":{"maxOrderQuantity":"9"}}}'
    )
    kube.wait_until("generation 2 applied", lambda: kube.desk(namespace, DESK)["status"].get("observedGeneration") == 2)
    assert jobs(kube, namespace) == [first]
    # a new image for a service that keeps state: a new desk version, a new Job; the old one is pruned
    image = {"spec": {"services": {"routing": {"image": "ghcr.io/tradingdesk/tradingdesk:9.9.9"}}}}
    kube.run("patch", "desk", DESK, "-n", namespace, "--type", "merge", "-p", json.dumps(image))
    (second,) = kube.wait_until("a new Job alone", lambda: (j := jobs(kube, namespace)) != [first] and len(j) == 1
                                and j, timeout=60)  # fmt: skip
    assert second != first
    images = {
        c["image"] for c in kube.json("get", "job", second, "-n", namespace)["spec"]["template"]["spec"]["containers"]
    }
    assert "ghcr.io/tradingdesk/tradingdesk:9.9.9" in images
