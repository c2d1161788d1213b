"""Operator benchmark: time from ``kubectl apply`` to ``Ready`` for 1, 50 and 200 desks, and what the operator
spends on 200.

Baseline, measured in the same run on the same cluster: the API server, controllers and scheduler making a
plain Deployment with the same number of pods Ready (5 for one desk, 250 for fifty, 1,000 for two hundred). The
ratio is what the operator adds on top of Kubernetes itself: rendering, 24 children per desk, certificates,
status from the watch streams. For 200 desks also the operator's CPU seconds (against the kube-controller-manager's
for the 1,000 plain pods) and its peak RSS (against its own with one desk).

The cluster comes from tests/cluster (built and started, or reused when already running). Pods are kwok's, so
the figures measure control-plane work, not image pulls or process start. The benchmark desks leave the
colocation empty and spread over every node; for the 200 desks it adds four fake nodes, removed at the end.
A warm-up desk is Ready before anything is timed, so start-up is not. Both kinds of wait are ``kubectl wait``
(a watch), never a polling loop competing with the control plane for the machine.

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
BENCH_LABEL = "tradingdesk.io/bench"
NODE_PREFIX = "bench-node-"
FLEET_NODES, NODE_PODS = 4, 250
"""Added for the 200 desks: 1,000 pods beside the warm-up and one-desk pods, with room to spare."""


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


def _kubectl_wait(cluster: Cluster, *args: str) -> None:
    """``kubectl wait``: a watch, so waiting costs the API server next to nothing (polling a list of 200 large desks
    five times a second took CPU from the very control plane being measured)."""
    _kubectl(cluster, "wait", *args, f"--timeout={TIMEOUT_S}s", timeout=TIMEOUT_S + 30)


def time_desks(cluster: Cluster, count: int, prefix: str) -> float:
    names = [f"{prefix}{i}" for i in range(count)]
    _apply(cluster, _namespaces(names))
    desks = [_desk("bench", ns) for ns in names]
    for desk in desks:
        desk["metadata"]["labels"] = {BENCH_LABEL: prefix.rstrip("-")}
    started = time.monotonic()
    _apply(cluster, desks)
    _kubectl_wait(cluster, "desk", "-A", "-l", f"{BENCH_LABEL}={prefix.rstrip('-')}", "--for=condition=Ready")
    return time.monotonic() - started


def time_plain(cluster: Cluster, pods: int, namespace: str) -> float:
    _apply(cluster, _namespaces([namespace]))
    started = time.monotonic()
    _apply(cluster, [_deployment("plain", namespace, pods)])
    _kubectl_wait(cluster, "deployment/plain", "-n", namespace, f"--for=jsonpath={{.status.readyReplicas}}={pods}")
    elapsed = time.monotonic() - started
    # free the nodes for the desks: the plain pods and the desks' would not fit on the nodes together
    _kubectl(cluster, "delete", "deployment", "plain", "-n", namespace)
    _wait("plain pods gone", lambda: not _kubectl(cluster, "get", "pods", "-n", namespace, "-o", "name"), every=0.5)
    return elapsed


def _add_nodes(cluster: Cluster, count: int) -> list[str]:
    """Fake nodes for the 200 desks (1,000 pods; the cluster's three nodes take 330), tainted like the cluster's
    and with no colocation label, so nothing that selects a colocation lands there. Removed at the end."""
    names = [f"{NODE_PREFIX}{i}" for i in range(count)]
    nodes = []
    for name in names:
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"}
        taints = [
            {"key": "tradingdesk.io/desk", "value": "true", "effect": "NoSchedule"},
            {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"},
        ]
        capacity = {"cpu": "64", "memory": "512Gi", "pods": str(NODE_PODS)}
        nodes.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels, "annotations": {"kwok.x-k8s.io/node": "fake"}},
            "spec": {"taints": taints},
            "status": {"allocatable": capacity, "capacity": capacity},
        })  # fmt: skip
    _apply(cluster, nodes)
    for name in names:
        _kubectl_wait(cluster, f"node/{name}", "--for=condition=Ready")
    return names


def _remove_nodes(cluster: Cluster) -> None:
    items = json.loads(_kubectl(cluster, "get", "nodes", "-o", "json"))["items"]
    names = [n["metadata"]["name"] for n in items if n["metadata"]["name"].startswith(NODE_PREFIX)]
    if names:
        _kubectl(cluster, "delete", "node", *names, "--wait=false")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process from /proc/PID/status; ``VmHWM`` is its peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def reset_peak_rss(pid: int) -> None:
    """Start ``VmHWM`` again from the current RSS (Linux: 5 into /proc/PID/clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _pid(cluster: Cluster, component: str) -> int:
    return int((cluster.state_dir / "run" / f"{component}.pid").read_text())


def _bench_namespaces(cluster: Cluster, prefixes: tuple[str, ...]) -> list[str]:
    items = json.loads(_kubectl(cluster, "get", "namespaces", "-o", "json"))["items"]
    return [i["metadata"]["name"] for i in items if i["metadata"]["name"].startswith(prefixes)]


def _cleanup(cluster: Cluster, prefixes: tuple[str, ...], *, namespaces_gone: bool = False) -> None:
    """Delete the benchmark desks, then their namespaces; the operator (still running) finalizes the desks.

    The desks first, by their label: a namespace's deletion reaches its desk only after the namespace controller has
    gone through every other kind in it, ten namespaces at a time (200 desks took minutes that way)."""
    values = ",".join(p.rstrip("-") for p in prefixes)  # the label time_desks gives each desk
    _kubectl(cluster, "delete", "desk", "-A", "-l", f"{BENCH_LABEL} in ({values})", "--wait=false")

    def gone() -> bool:
        desks = json.loads(_kubectl(cluster, "get", "desk", "-A", "-o", "json"))["items"]
        return not [d for d in desks if d["metadata"]["namespace"].startswith(prefixes)]

    _wait("benchmark desks deleted", gone, timeout=TIMEOUT_S, every=1.0)
    names = _bench_namespaces(cluster, prefixes)
    if names:
        _kubectl(cluster, "delete", "namespace", *names, "--wait=false", "--ignore-not-found")
    if namespaces_gone:  # before a run: its namespaces are created again under the same names
        _wait("benchmark namespaces deleted", lambda: not _bench_namespaces(cluster, prefixes), every=1.0)


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
    prefixes = ("bench-warm-", "bench-one-", "bench-many-", "bench-fleet-", "bench-plain-")
    try:
        _kubectl(cluster, "apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
        _wait_established(cluster, "tradingdesks.tradingdesk.io")
        _cleanup(cluster, prefixes, namespaces_gone=True)
        _add_nodes(cluster, FLEET_NODES)
        operator = _start_operator(cluster, log)
        time_desks(cluster, 1, "bench-warm-")  # the operator is up (Lease, CRD scan, watch streams) once it is Ready
        idle_rss = rss_mb(operator.pid)
        rows = []
        baseline_1 = time_plain(cluster, 5, "bench-plain-1")
        rows.append(figure("operator_ready_1_s", time_desks(cluster, 1, "bench-one-"), "s", baseline_1))
        baseline_50 = time_plain(cluster, 250, "bench-plain-50")
        rows.append(figure("operator_ready_50_s", time_desks(cluster, 50, "bench-many-"), "s", baseline_50))
        _cleanup(cluster, ("bench-many-",))
        controllers = _pid(cluster, "kube-controller-manager")
        before = cpu_seconds(controllers)
        baseline_200 = time_plain(cluster, 1000, "bench-plain-200")
        controllers_cpu = cpu_seconds(controllers) - before
        reset_peak_rss(operator.pid)
        before = cpu_seconds(operator.pid)
        rows.append(figure("operator_ready_200_s", time_desks(cluster, 200, "bench-fleet-"), "s", baseline_200))
        # the operator's CPU for 200 desks against the controller-manager's for the same 1,000 plain pods; its
        # peak memory against its own at rest (one desk)
        rows.append(figure("operator_cpu_s_200", cpu_seconds(operator.pid) - before, "s", controllers_cpu))
        rows.append(figure("operator_rss_mb_200", rss_mb(operator.pid, "VmHWM"), "MB", idle_rss))
        return rows
    except Exception as exc:
        print(f"operator benchmark failed: {exc}; operator log: {log}", file=sys.stderr)
        raise
    finally:
        try:
            _cleanup(cluster, prefixes)
            _remove_nodes(cluster)
        finally:
            if operator is not None:
                operator.terminate()
                operator.wait(timeout=30)
            if cluster.started_here and os.environ.get("TD_CLUSTER_KEEP", "0") != "1":
                cluster.stop()


if __name__ == "__main__":
    run()
