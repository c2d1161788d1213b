"""Operator benchmark: time from ``kubectl apply`` to ``Ready`` for 1 desk and for 50 desks.

Baseline, measured in the same run on the same cluster: the API server, controllers and scheduler making a
plain Deployment with the same number of pods Ready (5 for one desk, 250 for fifty). The ratio is what the
operator adds on top of Kubernetes itself: rendering, 24 children per desk, status from the watch streams.

The cluster comes from tests/cluster (built and started, or reused when already running). Pods are kwok's, so
the figures measure control-plane work, not image pulls or process start. Fifty desks do not fit on the two
ny4 nodes (110 pods each), so the benchmark desks leave the colocation empty and spread over all three nodes.

Run alone: ``python -m bench.operator_bench``; ``make bench`` calls ``run()``.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.report import figure
from tests.cluster.control_plane import Cluster, start
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
CRDS = ROOT / "charts" / "tradingdesk-operator" / "crds"
TOLERATIONS = [
    {"key": "tradingdesk.io/desk", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"},
]
RESOURCES = {"cpu": "100m", "memory": "128Mi"}
TIMEOUT_S = 600


def _kubectl(cluster: Cluster, *args: str, stdin: str | None = None, timeout: float = TIMEOUT_S) -> str:
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", str(cluster.kubeconfig), *args],
        input=stdin, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def _desk(name: str, namespace: str) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "examples" / "desk.yaml").read_text())
    doc["metadata"] = {"name": name, "namespace": namespace}
    doc["spec"]["placement"] = {"colocation": "", "tolerations": copy.deepcopy(TOLERATIONS)}
    services = ("feeds", "routing", "risk", "compliance", "monitoring")
    doc["spec"]["services"] = {s: {"resources": dict(RESOURCES)} for s in services}
    return doc


def _deployment(name: str, namespace: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    resources = {"requests": RESOURCES, "limits": RESOURCES}
    container = {"name": "app", "image": "registry.local/plain:1", "resources": resources}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"tolerations": TOLERATIONS, "containers": [container]},
            },
        },
    }


def _namespaces(names: list[str]) -> list[dict[str, Any]]:
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in names]


def _apply(cluster: Cluster, docs: list[dict[str, Any]]) -> None:
    _kubectl(cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))


def _wait(what: str, done: Any, timeout: float = TIMEOUT_S, every: float = 0.1) -> None:
    wait_until(done, timeout, every, what=what)


def _wait_established(cluster: Cluster, crd: str) -> None:
    """Not ``kubectl wait --for=condition=Established``: a CRD just created has no conditions yet, and kubectl then
    fails at once instead of waiting (seen on a fresh cluster)."""
    path = '{.status.conditions[?(@.type=="Established")].status}'
    _wait(f"CRD {crd} established", lambda: _kubectl(cluster, "get", "crd", crd, "-o", f"jsonpath={path}") == "True")


def _ready_desks(cluster: Cluster, prefix: str) -> int:
    items = json.loads(_kubectl(cluster, "get", "desk", "-A", "-o", "json"))["items"]
    return sum(
        1
        for d in items
        if d["metadata"]["namespace"].startswith(prefix)
        and any(c["type"] == "Ready" and c["status"] == "True" for c in d.get("status", {}).get("conditions", []))
    )


def _ready_pods(cluster: Cluster, namespace: str, name: str) -> int:
    out = _kubectl(cluster, "get", "deployment", name, "-n", namespace, "-o", "jsonpath={.status.readyReplicas}")
    return int(out or 0)


def time_desks(cluster: Cluster, count: int, prefix: str) -> float:
    names = [f"{prefix}{i}" for i in range(count)]
    _apply(cluster, _namespaces(names))
    started = time.monotonic()
    _apply(cluster, [_desk("bench", ns) for ns in names])
    _wait(f"{count} desks Ready", lambda: _ready_desks(cluster, prefix) == count, every=0.2)
    return time.monotonic() - started


def time_plain(cluster: Cluster, pods: int, namespace: str) -> float:
    _apply(cluster, _namespaces([namespace]))
    started = time.monotonic()
    _apply(cluster, [_deployment("plain", namespace, pods)])
    _wait(f"{pods} plain pods ready", lambda: _ready_pods(cluster, namespace, "plain") == pods, every=0.2)
    elapsed = time.monotonic() - started
    # free the nodes for the desks: 250 plain pods and 250 desk pods do not fit on three 110-pod nodes together
    _kubectl(cluster, "delete", "deployment", "plain", "-n", namespace)
    _wait("plain pods gone", lambda: not _kubectl(cluster, "get", "pods", "-n", namespace, "-o", "name"), every=0.5)
    return elapsed


def _cleanup(cluster: Cluster, prefixes: tuple[str, ...]) -> None:
    """Delete the benchmark namespaces; the operator (still running) finalizes their desks."""
    items = json.loads(_kubectl(cluster, "get", "namespaces", "-o", "json"))["items"]
    names = [i["metadata"]["name"] for i in items if i["metadata"]["name"].startswith(prefixes)]
    if not names:
        return
    _kubectl(cluster, "delete", "namespace", *names, "--wait=false")

    def gone() -> bool:
        desks = json.loads(_kubectl(cluster, "get", "desk", "-A", "-o", "json"))["items"]
        return not [d for d in desks if d["metadata"]["namespace"].startswith(prefixes)]

    _wait("benchmark desks deleted", gone, timeout=300, every=0.5)


def _start_operator(cluster: Cluster, log: Path) -> subprocess.Popen:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "services"), str(ROOT / "operator"), env.get("PYTHONPATH", "")])
    out = log.open("wb")
    args = ["--metrics-port", "0", "--liveness", "", "--preempt"]  # takes the Lease from a `make cluster-up` operator
    return subprocess.Popen([sys.executable, "-m", "deskoperator", *args], env=env, stdout=out, stderr=out)


def run() -> list[dict]:
    cluster = start()
    log = Path(tempfile.mkdtemp(prefix="operator-bench-")) / "operator.log"
    operator = None
    prefixes = ("bench-one-", "bench-many-", "bench-plain-")
    try:
        _kubectl(cluster, "apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
        _wait_established(cluster, "tradingdesks.tradingdesk.io")
        _cleanup(cluster, prefixes)
        operator = _start_operator(cluster, log)
        time.sleep(3)  # start-up: the Lease, kopf's CRD scan and watch streams
        baseline_1 = time_plain(cluster, 5, "bench-plain-1")
        one = time_desks(cluster, 1, "bench-one-")
        baseline_50 = time_plain(cluster, 250, "bench-plain-50")
        many = time_desks(cluster, 50, "bench-many-")
        return [
            figure("operator_ready_1_s", one, "s", baseline_1),
            figure("operator_ready_50_s", many, "s", baseline_50),
        ]
    except Exception as exc:
        print(f"operator benchmark failed: {exc}; operator log: {log}", file=sys.stderr)
        raise
    finally:
        try:
            _cleanup(cluster, prefixes)
        finally:
            if operator is not None:
                operator.terminate()
                operator.wait(timeout=30)
            if cluster.started_here and os.environ.get("TD_CLUSTER_KEEP", "0") != "1":
                cluster.stop()


if __name__ == "__main__":
    run()
