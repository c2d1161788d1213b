"""The local Kubernetes control plane that the operator's tests run against.

Why a real control plane: the operator's behaviour (owner references, status subresource, finalizers,
scheduling onto colocated nodes, eviction when a node is lost) is enforced by the API server and the
controllers, not by the operator, so a fake client would test our assumptions instead of Kubernetes.
There is no Docker here, so ``build.sh`` compiles etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok from the Go module proxy (cached by version), and ``up.sh`` runs them as plain
processes on 127.0.0.1, with kwok standing in for the kubelets of three fake colocated nodes.

This module only wraps the shell scripts (so ``make cluster-up`` and the tests run the very same
steps) and adds what tests need on top: the node-ready switch used by failover tests and the
tolerations a desk pod needs. It imports nothing outside the standard library, so it works whether or
not the ``kubernetes`` client is installed; it calls ``kubectl`` for the few things it does itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BUILD_SH = HERE / "build.sh"
UP_SH = HERE / "up.sh"
DOWN_SH = HERE / "down.sh"

#: Fake nodes that up.sh registers: name -> colocation (also their topology.kubernetes.io/zone).
NODES: dict[str, str] = {"ny4-node-1": "ny4", "ny4-node-2": "ny4", "ld4-node-1": "ld4"}

#: Node labels a desk selects on.
COLOCATION_LABEL = "tradingdesk.io/colocation"
ROLE_LABEL = "tradingdesk.io/role"
ZONE_LABEL = "topology.kubernetes.io/zone"

#: Taints on every fake node: ours keeps non-desk pods off desk nodes; kwok's is its own default
#: marker for fake nodes. A desk pod must tolerate both.
DESK_TAINT = {"key": "tradingdesk.io/desk", "value": "true", "effect": "NoSchedule"}
KWOK_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}

#: Label that switches kwok's "node-not-ready" chaos stage on for a node (kwok's own convention).
NOT_READY_LABEL = "node-not-ready.stage.kwok.x-k8s.io"

#: Seconds a desk pod stays bound to a NotReady/unreachable node before the taint-eviction
#: controller evicts it. Kubernetes' default (added by the DefaultTolerationSeconds admission
#: plugin) is 300 s, far too slow for a failover test.
DEFAULT_EVICTION_SECONDS = 5


class ClusterError(RuntimeError):
    """The control plane could not be built, started, stopped or driven."""


def default_state_dir() -> Path:
    """State dir shared with up.sh/down.sh: $TD_CLUSTER_DIR or ~/.cache/tradingdesk/cluster."""
    return Path(os.environ.get("TD_CLUSTER_DIR", "~/.cache/tradingdesk/cluster")).expanduser()


def desk_tolerations(eviction_seconds: int = DEFAULT_EVICTION_SECONDS) -> list[dict[str, Any]]:
    """Tolerations a desk pod needs on the test nodes, as plain dicts for a pod spec.

    The two NoSchedule taints of the fake nodes, plus NoExecute tolerations for NotReady and
    unreachable nodes with a short ``tolerationSeconds`` so that the pod is evicted (and its
    Deployment reschedules it elsewhere) ``eviction_seconds`` after its node is lost.
    """
    tolerations: list[dict[str, Any]] = [
        {"key": DESK_TAINT["key"], "operator": "Equal", "value": DESK_TAINT["value"], "effect": "NoSchedule"},
        {"key": KWOK_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"},
    ]
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        tolerations.append(
            {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": eviction_seconds}
        )
    return tolerations


def _run(
    cmd: list[str], *, env: dict[str, str] | None = None, timeout: float | None = None, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cmd, env=env, timeout=timeout, input=input_text, text=True, capture_output=True, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ClusterError(f"{' '.join(cmd)} timed out after {timeout}s") from exc


def ensure_built(timeout: float | None = None) -> Path:
    """Build (or reuse) the control-plane binaries and return their directory.

    Instant when the cache for the pinned versions exists; a cold build takes tens of minutes on two
    cores (see README.md), so CI should run ``make cluster-build`` as its own step first.
    """
    proc = _run(["bash", str(BUILD_SH)], timeout=timeout)
    if proc.returncode != 0:
        raise ClusterError(f"build.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def is_built() -> bool:
    """True when every binary of the pinned versions is already in the cache (no build needed)."""
    proc = _run(["bash", str(BUILD_SH), "--check"])
    return proc.returncode == 0


@dataclass
class Cluster:
    """A running control plane: its admin kubeconfig and helpers to drive its fake nodes."""

    state_dir: Path
    kubeconfig: Path
    #: False when start() found the cluster already running (e.g. from ``make cluster-up``).
    started_here: bool = True

    def _env(self) -> dict[str, str]:
        return {**os.environ, "TD_CLUSTER_DIR": str(self.state_dir), "KUBECONFIG": str(self.kubeconfig)}

    def stop(self) -> None:
        """Stop every process of this cluster (down.sh) and drop its etcd data."""
        proc = _run(["bash", str(DOWN_SH)], env=self._env(), timeout=120)
        if proc.returncode != 0:
            raise ClusterError(f"down.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}")

    def kubectl(self, *args: str, input_text: str | None = None, timeout: float = 60, check: bool = True) -> str:
        """Run kubectl against this cluster and return its stdout; raise ClusterError on failure
        unless ``check`` is False (``kubectl auth can-i`` exits 1 for "no")."""
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise ClusterError("kubectl is not on PATH")
        proc = _run([kubectl, *args], env=self._env(), timeout=timeout, input_text=input_text)
        if check and proc.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def node_ready(self, name: str) -> bool:
        """Whether the node's Ready condition is True right now."""
        node = json.loads(self.kubectl("get", "node", name, "-o", "json"))
        for cond in node.get("status", {}).get("conditions", []):
            if cond.get("type") == "Ready":
                return bool(cond.get("status") == "True")
        return False

    def wait_node_ready(self, name: str, ready: bool, timeout: float = 30.0) -> None:
        """Wait until the node's Ready condition is ``ready``; ClusterError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            if self.node_ready(name) == ready:
                return
            if time.monotonic() >= deadline:
                raise ClusterError(f"node {name} not {'Ready' if ready else 'NotReady'} after {timeout}s")
            time.sleep(0.25)

    def set_node_ready(self, name: str, ready: bool, *, wait: bool = True, timeout: float = 30.0) -> None:
        """Make a fake node NotReady (``ready=False``) or Ready again, as if its kubelet died/recovered.

        How: the label ``node-not-ready.stage.kwok.x-k8s.io=true`` turns on kwok's "node-not-ready"
        stage for that node, which keeps writing Ready=False (kwok keeps managing the node and its
        pods, so evicted pods are really deleted). Removing the label lets kwok's "node-initialize"
        stage write Ready=True again. The node lifecycle controller then adds (or removes) the
        ``node.kubernetes.io/not-ready`` NoSchedule and NoExecute taints within about a second, and
        the taint-eviction controller evicts pods once their ``tolerationSeconds`` run out.
        Simply patching the status would not stick: kwok re-initialises any node that is not Ready.
        """
        if name not in NODES:
            # still allowed (tests may add nodes), but it must exist
            self.kubectl("get", "node", name)
        if ready:
            self.kubectl("label", "node", name, f"{NOT_READY_LABEL}-", "--overwrite")
        else:
            self.kubectl("label", "node", name, f"{NOT_READY_LABEL}=true", "--overwrite")
        if wait:
            self.wait_node_ready(name, ready, timeout=timeout)

    def node_taints(self, name: str) -> list[dict[str, Any]]:
        """The node's current taints (as dicts)."""
        node = json.loads(self.kubectl("get", "node", name, "-o", "json"))
        return list(node.get("spec", {}).get("taints", []) or [])


def start(state_dir: Path | None = None, *, fresh: bool = False, timeout: float = 300) -> Cluster:
    """Start the cluster for ``state_dir`` (building the binaries first if needed) and return it.

    If that cluster is already running and healthy it is reused and ``started_here`` is False, so a
    caller that did not start it can leave it running. ``fresh=True`` restarts it from empty etcd.
    """
    state_dir = (state_dir or default_state_dir()).expanduser()
    state_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TD_CLUSTER_DIR": str(state_dir)}
    if fresh:
        env["TD_CLUSTER_FRESH"] = "1"
    # Ports are picked free by up.sh, then bound by the processes a moment later: another process
    # can take one in between. That is rare and a second attempt (new ports) fixes it.
    for attempt in (1, 2):
        proc = _run(["bash", str(UP_SH)], env=env, timeout=timeout)
        if proc.returncode == 0:
            break
        if attempt == 2:
            raise ClusterError(
                f"up.sh failed ({proc.returncode}); logs in {state_dir / 'logs'}:\n{proc.stderr[-4000:]}"
            )
    last = proc.stdout.strip().splitlines()[-1]
    if not last.startswith("export KUBECONFIG="):
        raise ClusterError(f"unexpected up.sh output: {proc.stdout[-1000:]}")
    kubeconfig = Path(last.split("=", 1)[1])
    return Cluster(state_dir=state_dir, kubeconfig=kubeconfig, started_here="already running" not in proc.stderr)
