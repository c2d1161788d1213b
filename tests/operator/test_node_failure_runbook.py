"""Walks docs/runbooks/node-failure.md: its bash blocks run, in order, against a real node failure.

The node failure is kwok's NotReady stage on a fake ny4 node; the control plane's node lifecycle and
taint-eviction controllers do the rest, as they would for a dead kubelet.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import ROOT, Kubectl
from tests.operator.process import Operator

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(300)]

RUNBOOK = ROOT / "docs" / "runbooks" / "node-failure.md"
NS, DESK = "trading", "us-equities"
NY4 = ("ny4-node-1", "ny4-node-2")


def runbook_steps(path: Path = RUNBOOK) -> dict[str, str]:
    """``# step: <name>`` first line of each ```bash block -> the block's script."""
    steps = {}
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.S):
        first, _, rest = block.partition("\n")
        match = re.fullmatch(r"# step: (\S+)", first.strip())
        assert match, f"bash block without a '# step:' line: {block[:80]!r}"
        steps[match.group(1)] = rest
    return steps


def run_step(kube: Kubectl, script: str) -> str:
    env = {**os.environ, "KUBECONFIG": str(kube.kubeconfig)}
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True,
                          timeout=180)  # fmt: skip
    assert proc.returncode == 0, f"runbook step failed:\n{script}\n{proc.stderr}"
    return proc.stdout


def test_runbook_blocks_are_all_tagged() -> None:
    assert list(runbook_steps()) == ["observe", "events", "nodes", "pods", "wait", "recovered"]


def test_node_failure_runbook(k8s_cluster, kube: Kubectl, operator: Operator) -> None:
    steps = runbook_steps()
    kube.fresh_namespace(NS)
    try:
        kube.apply(test_desk_document(DESK), NS)
        kube.wait_ready(NS, DESK, timeout=120)
        pods = kube.json("get", "pods", "-n", NS, "-l", f"app.kubernetes.io/instance={DESK}")["items"]
        on = [p["spec"]["nodeName"] for p in pods]
        victim = max(NY4, key=on.count)
        survivor = next(n for n in NY4 if n != victim)

        k8s_cluster.set_node_ready(victim, False)
        try:
            degraded = lambda: "ReplicasUnavailable" in kube.event_reasons(NS, DESK)  # noqa: E731

            def moved() -> bool:
                current = kube.json("get", "pods", "-n", NS, "-l", f"app.kubernetes.io/instance={DESK}")["items"]
                running = [p for p in current if p["status"].get("phase") == "Running" and
                           not p["metadata"].get("deletionTimestamp")]  # fmt: skip
                return len(running) == 5 and all(p["spec"]["nodeName"] == survivor for p in running)

            # kwok keeps evicted pods Ready until they are gone and starts their replacements at once, so the
            # Degraded window can be shorter than the operator's reaction on a busy machine: wait for either.
            kube.wait_until("the desk to report Degraded or its pods to move", lambda: degraded() or moved(), 120)
            saw_degraded = degraded()
            assert DESK in run_step(kube, steps["observe"])
            events = run_step(kube, steps["events"])
            assert not saw_degraded or "ReplicasUnavailable" in events
            nodes = {line.split()[0]: line.split()[1] for line in run_step(kube, steps["nodes"]).splitlines()[1:]}
            assert nodes[victim] in ("False", "Unknown") and nodes[survivor] == "True"
            assert DESK in run_step(kube, steps["pods"])

            kube.wait_until(f"pods to move to {survivor}", moved, timeout=90)
            out = run_step(kube, steps["wait"])
            assert "condition met" in out
            placed = [line.split() for line in out.splitlines() if line.startswith(f"{DESK}-")]
            # a finished schema-migration Job's pod may still be listed, Succeeded, wherever it ran (CI16)
            serving = [(pod, node, phase) for pod, node, phase in placed if phase != "Succeeded"]
            assert len(serving) == 5 and all(node == survivor and phase == "Running" for _, node, phase in serving), out
            assert all(pod.startswith(f"{DESK}-db-") for pod, _, phase in placed if phase == "Succeeded"), out
            if saw_degraded:
                assert "Recovered" in kube.event_reasons(NS, DESK)
        finally:
            k8s_cluster.set_node_ready(victim, True)
        out = run_step(kube, steps["recovered"])
        assert victim in out
        assert "True" in out.splitlines()[-1]  # the desk line: READY True
    finally:
        kube.run("delete", "desk", DESK, "-n", NS, "--timeout=60s", check=False)
        kube.run("delete", "namespace", NS, "--wait=false", check=False)
