"""Walks docs/runbooks/routing-failover.md and docs/runbooks/switchover.md: their bash blocks run, in order,
against a desk with a standby router whose pods the harness runs on PostgreSQL, while a client trades."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deskoperator import podstate
from tests.operator.kubectl import ROOT, Kubectl
from tests.operator.pods import PodsDesk, pods_desk
from tests.operator.test_failover_e2e import Trader, check_nothing_lost_or_duplicated, ready, routing_pods, start_desk
from tests.operator.test_node_failure_runbook import runbook_steps

__all__ = ["pods_desk"]  # the fixture

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

FAILOVER = ROOT / "docs" / "runbooks" / "routing-failover.md"
SWITCHOVER = ROOT / "docs" / "runbooks" / "switchover.md"


def steps(path: Path, namespace: str) -> dict[str, str]:
    return {k: v.replace("-n trading", f"-n {namespace}") for k, v in runbook_steps(path).items()}


def run_step(script: str, env: dict[str, str], timeout: float = 300) -> str:
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    assert proc.returncode == 0, f"runbook step failed:\n{script}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def run_plugin(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "tradingdesk", *args], env=env, capture_output=True, text=True, timeout=120)


def standbys(kube: Kubectl, desk: PodsDesk) -> list[dict]:
    """Routing pods that replayed the journal (started) and stand by (not ready)."""
    return [p for p in routing_pods(kube, desk) if podstate.started(p) and not ready(p)]


def test_runbook_blocks_are_all_tagged() -> None:
    assert list(runbook_steps(FAILOVER)) == ["observe", "verify", "standby"]
    assert list(runbook_steps(SWITCHOVER)) == ["switchover", "confirm", "find", "step-down", "wait"]


def test_failover_and_switchover_runbooks(kube: Kubectl, pods_desk: PodsDesk) -> None:
    desk = pods_desk
    limit = start_desk(kube, desk)
    env = {
        **os.environ,
        "KUBECONFIG": str(kube.kubeconfig),
        "ROUTING": desk.address("routing"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    trader = Trader(desk, "rb")
    thread = trader.run(limit)
    try:
        trader.wait_for_acks(kube, 30, "orders flowing")

        # the active router dies
        (active,) = [p for p in routing_pods(kube, desk) if ready(p)]
        kube.run("delete", "pod", active["metadata"]["name"], "-n", desk.namespace, "--grace-period=0", "--force")
        trader.wait_for_acks(kube, 30, "orders flowing again")
        failover = steps(FAILOVER, desk.namespace)
        out = run_step(failover["observe"], env)
        rows = [line.split() for line in out.splitlines() if line.startswith(f"{desk.name}-routing-")]
        assert [row[2] for row in rows].count("true") == 1, out  # one active router, the standby not ready
        assert active["metadata"]["name"] not in out
        out = run_step(failover["verify"], env)
        assert "rb-" in out and "NEW" in out, out  # the newest orders, acknowledged by the new active router
        out = run_step(failover["standby"], env)
        assert out.count(f"{desk.name}-routing-") == 2

        # a planned switchover to the new standby, with the plugin
        switchover = steps(SWITCHOVER, desk.namespace)
        (active,) = [p for p in routing_pods(kube, desk) if ready(p)]
        refused = run_plugin(["switchover", desk.name, "-n", desk.namespace, "--to", active["metadata"]["name"]],
                             env)  # fmt: skip
        assert refused.returncode == 1 and refused.stderr == (
            f"error: switchover refused: {active['metadata']['name']} is the active router of desk "
            f"{desk.namespace}/{desk.name} already\n"
        ), refused
        began = time.monotonic()
        out = run_step(switchover["switchover"], env)
        led = re.search(r"(\S+) leads now \(routing SERVING\), (\S+)s after (\S+) was asked to step down", out)
        assert led and led.group(3) == active["metadata"]["name"] != led.group(1), out
        out = run_step(switchover["confirm"], env)
        events = [e["message"] for e in kube.events(desk.namespace, desk.name) if e["reason"] == "Switchover"]
        assert events == [
            f"routing: the active pod {led.group(3)} steps down (kubectl tradingdesk switchover); a ready standby "
            "takes over"
        ], events
        rows = [line.split() for line in out.splitlines()[1:]]
        assert [row[0] for row in rows if row[2] == "true" and row[3] == "<none>"] == [led.group(1)], out
        trader.wait_for_acks(kube, 30, "orders flowing after the switchover")
        gap_ms = max(b - a for a, b in itertools.pairwise(t for t, _ in trader.ack_times) if b >= began) * 1000
        print(
            f"\n[switchover] kubectl tradingdesk switchover: {led.group(1)} SERVING {led.group(2)} s after the step "
            f"down; the client's longest gap between acknowledgements {gap_ms:.0f} ms"
        )

        # and by hand, with kubectl only, once the stepped-down pod's replacement stands by
        kube.wait_until("a started standby", lambda: len(standbys(kube, desk)) == 1, timeout=120)
        out = run_step(switchover["find"], env)
        assert [line.split()[2] for line in out.splitlines()[1:]].count("true") == 1, out
        out = run_step(switchover["step-down"], env)
        stepped_down = re.search(r"stepping down: (\S+)", out).group(1)
        assert stepped_down == led.group(1), out
        out = run_step(switchover["wait"], {**env, "ACTIVE": stepped_down})
        actives = [line.split()[0] for line in out.splitlines()[1:] if line.split()[2] == "true"]
        assert len(actives) == 1 and actives[0] != stepped_down, out
        trader.wait_for_acks(kube, 30, "orders flowing after the second switchover")
    finally:
        trader.stop.set()
        thread.join(10)
    check_nothing_lost_or_duplicated(desk, trader)
