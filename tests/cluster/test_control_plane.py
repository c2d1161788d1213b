"""Checks that the local control plane is a cluster the operator can rely on.

What the operator's tests take for granted is checked here once, against the real thing: the API
server answers the Python client with the generated kubeconfig, RBAC is enforced, the three
colocated fake nodes carry the labels and taints desks select on, a Deployment's pods are scheduled
onto ny4 and Running, and a node going NotReady gets its pods evicted and rescheduled on the other
ny4 node (the failover path). Every wait is bounded.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from tests import waiting
from tests.cluster.control_plane import (
    COLOCATION_LABEL,
    DESK_TAINT,
    KWOK_TAINT,
    NODES,
    ROLE_LABEL,
    ZONE_LABEL,
    Cluster,
    desk_tolerations,
)

k8s = pytest.importorskip("kubernetes")
from kubernetes import client, config  # noqa: E402

pytestmark = pytest.mark.k8s

T = TypeVar("T")


def wait_until(what: str, fn: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.25) -> T:
    """Poll ``fn`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    return waiting.wait_until(fn, timeout, interval, what=what)


@pytest.fixture(scope="module")
def api(k8s_cluster: Cluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(k8s_cluster.kubeconfig))


@pytest.fixture()
def namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"td-cp-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # pods need the namespace's default service account, made by the controller-manager
    wait_until(
        "default service account",
        lambda: any(sa.metadata.name == "default" for sa in core.list_namespaced_service_account(name).items),
        30,
    )
    yield name
    core.delete_namespace(name)


def desk_deployment(name: str, colocation: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {COLOCATION_LABEL: colocation, ROLE_LABEL: "desk"},
                    "tolerations": desk_tolerations(eviction_seconds=5),
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "desk", "image": "example.invalid/desk:test"}],
                },
            },
        },
    }


def running_pods(core: client.CoreV1Api, namespace: str, app: str) -> list[client.V1Pod]:
    pods = core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
    return [p for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None]


def test_api_server_answers_python_client_and_kubectl(k8s_cluster: Cluster, api: client.ApiClient) -> None:
    version = client.VersionApi(api).get_code()
    assert version.git_version.startswith("v1."), version.git_version
    assert "serverVersion" in k8s_cluster.kubectl("version", "-o", "json")


def test_rbac_is_enforced(k8s_cluster: Cluster) -> None:
    # the admin is system:masters; a plain service account has no rights until a Role grants them
    assert k8s_cluster.kubectl("auth", "can-i", "create", "deployments").strip() == "yes"
    out = k8s_cluster.kubectl(
        "auth", "can-i", "list", "secrets", "-n", "default", "--as=system:serviceaccount:default:default", check=False
    ).strip()
    assert out == "no"


def test_fake_nodes_labels_taints_ready(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    nodes = {n.metadata.name: n for n in core.list_node().items}
    assert set(NODES) <= set(nodes)
    for name, colo in NODES.items():
        node = nodes[name]
        labels = node.metadata.labels
        assert labels[COLOCATION_LABEL] == colo
        assert labels[ZONE_LABEL] == colo
        assert labels["kubernetes.io/hostname"] == name
        assert labels[ROLE_LABEL] == "desk"
        taints = {(t.key, t.value, t.effect) for t in node.spec.taints or []}
        assert (DESK_TAINT["key"], DESK_TAINT["value"], DESK_TAINT["effect"]) in taints
        assert (KWOK_TAINT["key"], KWOK_TAINT["value"], KWOK_TAINT["effect"]) in taints
        ready = [c.status for c in node.status.conditions if c.type == "Ready"]
        assert ready == ["True"], f"{name} Ready={ready}"


def test_pod_without_desk_tolerations_is_not_scheduled(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="intruder"),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="example.invalid/x")]),
        ),
    )

    def unschedulable() -> bool:
        pod = core.read_namespaced_pod("intruder", namespace)
        return any(c.type == "PodScheduled" and c.reason == "Unschedulable" for c in pod.status.conditions or [])

    wait_until("scheduler to report the pod Unschedulable", unschedulable, timeout=30)
    assert core.read_namespaced_pod("intruder", namespace).spec.node_name is None


def test_deployment_runs_on_ny4(api: client.ApiClient, namespace: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(namespace, desk_deployment("desk", "ny4", replicas=3))
    pods = wait_until(
        "3 Running pods", lambda: (p := running_pods(core, namespace, "desk")) and len(p) == 3 and p, timeout=60
    )
    assert {p.spec.node_name for p in pods} <= {n for n, c in NODES.items() if c == "ny4"}
    assert all(p.status.pod_ip for p in pods)
    dep = wait_until(
        "deployment available",
        lambda: (d := apps.read_namespaced_deployment("desk", namespace)).status.available_replicas == 3 and d,
        timeout=30,
    )
    assert dep.status.ready_replicas == 3


def test_not_ready_node_pods_are_evicted_and_rescheduled(
    k8s_cluster: Cluster, api: client.ApiClient, namespace: str
) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    ny4 = sorted(n for n, c in NODES.items() if c == "ny4")
    apps.create_namespaced_deployment(namespace, desk_deployment("failover", "ny4", replicas=2))
    pods = wait_until(
        "2 Running pods", lambda: (p := running_pods(core, namespace, "failover")) and len(p) == 2 and p, timeout=60
    )
    victim = pods[0].spec.node_name
    survivor = next(n for n in ny4 if n != victim)
    on_victim = {p.metadata.name for p in pods if p.spec.node_name == victim}

    t0 = time.monotonic()
    k8s_cluster.set_node_ready(victim, False)
    try:
        wait_until(
            "not-ready NoExecute taint",
            lambda: any(
                t["key"] == "node.kubernetes.io/not-ready" and t["effect"] == "NoExecute"
                for t in k8s_cluster.node_taints(victim)
            ),
            timeout=30,
        )

        def moved() -> list[client.V1Pod] | None:
            all_pods = core.list_namespaced_pod(namespace, label_selector="app=failover").items
            if any(p.metadata.name in on_victim for p in all_pods):
                return None  # evicted pods must be gone, not only terminating
            running = running_pods(core, namespace, "failover")
            if len(running) == 2 and all(p.spec.node_name == survivor for p in running):
                return running
            return None

        wait_until(f"pods to move from {victim} to {survivor}", moved, timeout=60)
        elapsed = time.monotonic() - t0
        print(f"failover {victim} -> {survivor}: {elapsed:.1f}s")
        # 5 s tolerationSeconds + ~1-2 s for kwok and the node lifecycle controller to react
        assert elapsed < 45, f"failover took {elapsed:.1f}s"
    finally:
        k8s_cluster.set_node_ready(victim, True)
    wait_until(
        "not-ready taints removed",
        lambda: not any(t["key"].startswith("node.kubernetes.io/") for t in k8s_cluster.node_taints(victim)),
        timeout=30,
    )
