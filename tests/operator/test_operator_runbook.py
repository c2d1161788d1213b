"""Walks docs/runbooks/operator.md: its bash blocks run, in order, against a desk whose halt cannot be delivered."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import ROOT, Kubectl
from tests.operator.process import Operator
from tests.operator.test_node_failure_runbook import run_step, runbook_steps

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(300)]

RUNBOOK = ROOT / "docs" / "runbooks" / "operator.md"
NS, DESK = "trading", "us-equities"


def test_runbook_blocks_are_all_tagged() -> None:
    assert list(runbook_steps(RUNBOOK)) == ["status", "trading", "lease", "events"]


def test_operator_runbook(kube: Kubectl, operator: Operator, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = runbook_steps(RUNBOOK)
    kube.fresh_namespace(NS)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # the plugin
    monkeypatch.setenv("OPERATOR_NAMESPACE", "default")  # an operator outside the cluster keeps its Lease there
    try:
        kube.apply(test_desk_document(DESK), NS)
        kube.wait_ready(NS, DESK, timeout=120)
        kube.run("patch", "desk", DESK, "-n", NS, "--type", "merge", "-p",
                 json.dumps({"spec": {"tradingState": "Halted"}}))  # fmt: skip  # kwok: no RiskService answers
        kube.wait_until(
            "the halt retried",
            lambda: (
                (t := kube.desk(NS, DESK).get("status", {}).get("trading", {})).get("desired") == "Halted"
                and t.get("attempts", 0) >= 1
            ),
            timeout=60,
        )
        screen = run_step(kube, steps["status"])
        assert "PENDING spec Halted: RiskServiceUnreachable" in screen
        trading = run_step(kube, steps["trading"])
        assert trading.startswith("confirmed= wanted=Halted attempts=")
        assert "Unknown RiskServiceUnreachable: spec.tradingState is Halted" in trading
        leader = kube.desk(NS, DESK)["status"]["operator"]["leader"]
        lease = run_step(kube, steps["lease"])
        assert leader in lease and "15" in lease
        assert "TradingStateNotDelivered" in run_step(kube, steps["events"])
    finally:
        kube.run("delete", "desk", DESK, "-n", NS, "--timeout=60s", check=False)
        kube.run("delete", "namespace", NS, "--wait=false", check=False)
