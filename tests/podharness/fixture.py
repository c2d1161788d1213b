"""pytest fixture ``pod_harness``: the harness (tests/podharness) as a process next to the local control plane.

Two nodes of the colocation ``px`` (``px-node-1``, ``px-node-2``); a desk placed there (``placement.colocation:
px``) has its pods run for real. Session-scoped: the nodes stay for the whole session; each test uses its own
namespace. Why a process: the Service proxies carry every byte of the tests' order flow, and must not compete
with the test's own client for one interpreter.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.podharness.kubelet import POWER_ANNOTATION
from tests.podharness.proxy import service_ip

ROOT = Path(__file__).resolve().parents[2]
COLOCATION = "px"
NODES = ("px-node-1", "px-node-2")
MACHINE_LOCK = Path("/tmp/tradingdesk-podharness.lock")
"""Held for a harness's whole session: pods get fixed loopback addresses (one per Service), so two harnesses on
one machine would reach each other's desks. A second test session waits here for the first to finish."""


@dataclass
class PodHarness:
    process: subprocess.Popen
    state_dir: Path
    kubeconfig: Path

    def address(self, namespace: str, service: str, port: int) -> str:
        """Where a client reaches a Service (its loopback IP), as a pod would by its DNS name."""
        return f"{service_ip(namespace, service)}:{port}"

    def power(self, node: str, on: bool) -> None:
        """Power a node off (every process of its pods killed at once, the node NotReady) or on again."""
        self._kubectl("annotate", "node", node, f"{POWER_ANNOTATION}={'on' if on else 'off'}", "--overwrite")

    def log(self) -> str:
        return (self.state_dir / "harness.log").read_text(errors="replace")

    def pod_log(self, namespace: str, pod: str) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-6000:]}"
            for p in sorted((self.state_dir / "pods" / f"{namespace}_{pod}").glob("*.log"))
        )

    def pod_logs(self, namespace: str) -> str:
        dirs = sorted((self.state_dir / "pods").glob(f"{namespace}_*"))
        return "\n".join(self.pod_log(namespace, d.name.split("_", 1)[1]) for d in dirs)

    def _kubectl(self, *args: str) -> None:
        subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args], check=True, capture_output=True)


@pytest.fixture(scope="session")
def pod_harness(k8s_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodHarness]:
    with MACHINE_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if this process dies
        yield from _run_harness(k8s_cluster, tmp_path_factory)


def _run_harness(k8s_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodHarness]:
    state = tmp_path_factory.mktemp("podharness")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    nodes = [arg for n in NODES for arg in ("--node", f"{n}={COLOCATION}")]
    cmd = [sys.executable, "-m", "tests.podharness", "--kubeconfig", str(k8s_cluster.kubeconfig)]
    with (state / "harness.log").open("wb") as out:
        proc = subprocess.Popen([*cmd, "--state-dir", str(state), *nodes], env=env, stdout=out, stderr=out, cwd=ROOT)
    harness = PodHarness(proc, state, Path(k8s_cluster.kubeconfig))
    try:
        deadline = time.monotonic() + 120
        while not all(_ready(k8s_cluster, node) for node in NODES):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the pod harness did not register its nodes:\n{harness.log()[-4000:]}")
            time.sleep(0.5)
        yield harness
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def _ready(cluster, node: str) -> bool:
    out = cluster.kubectl("get", "node", node, "-o", "json", check=False)
    conditions = json.loads(out)["status"].get("conditions", []) if out else []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
