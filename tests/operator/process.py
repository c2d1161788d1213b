"""The operator as a process, for the end-to-end tests (shared by conftest.py and the tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.operator.kubectl import ROOT, Kubectl

# The kill-switch test runs a real RiskService on the host; the operator, outside the cluster, is told where.
KILL_SWITCH_NS = "td-e2e-killswitch"
KILL_SWITCH_DESK = "ks-desk"
# The desk whose pods the harness runs (tests/podharness): the operator reaches its risk Service through the
# harness's proxy.
PODS_NS = "td-pods"
PODS_DESK = "us-equities"


@dataclass
class Operator:
    process: subprocess.Popen
    log: Path
    metrics_port: int
    health_port: int
    risk_port: int
    compliance_port: int

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_operator(kube: Kubectl, tmp: Path, *extra: str, name: str = "operator") -> tuple[subprocess.Popen, Path]:
    log = tmp / f"{name}.log"
    env = {**os.environ, "KUBECONFIG": str(kube.kubeconfig), "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "services"), str(ROOT / "operator"), env.get("PYTHONPATH", "")])
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "deskoperator", *extra], env=env, stdout=out, stderr=out)
    return proc, log


def stop_operator(proc: subprocess.Popen, grace: float = 30) -> None:
    """TERM, then KILL if it has not exited within ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
