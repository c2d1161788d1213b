"""``kubectl tradingdesk`` against the local control plane, found by kubectl as a plugin on PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from deskoperator.plugin import operator_line
from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl, free_port
from tests.operator.process import DeskTls, Operator, answers, real_risk, real_service, risk_state
from tradingdesk.v1 import common_pb2

DESK = "us-equities"
BIN = Path(sys.executable).parent


def plugin(
    kube: Kubectl, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **(env or {}),
        "KUBECONFIG": str(kube.kubeconfig),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.run([kube.binary, "tradingdesk", *args], env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def test_operator_heartbeat_is_judged_by_its_age() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    beat = {"leader": "op-1", "heartbeatSeconds": 30, "state": "Running"}
    fresh = {"operator": beat | {"heartbeatTime": (now - timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%SZ")}}
    stale = {"operator": beat | {"heartbeatTime": (now - timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%SZ")}}
    assert operator_line(fresh, now).startswith("op-1 (heartbeat 20s ago")
    assert operator_line(stale, now).startswith("NOT RUNNING: last heartbeat 300s ago from op-1")
    assert operator_line({}, now).startswith("NO HEARTBEAT")


@pytest.mark.k8s
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_status_logs_backup_and_an_unconfirmed_halt(
    kube: Kubectl, operator: Operator, namespace: str, tmp_path: Path
) -> None:
    assert (BIN / "kubectl-tradingdesk").exists(), "the console script kubectl-tradingdesk is not installed"
    doc = test_desk_document()
    kube.apply(doc, namespace)
    kube.wait_ready(namespace, DESK, timeout=120)
    port = free_port()
    tls = DeskTls(kube, namespace, DESK)  # the CA the operator made: the feeds process and the plugin use it
    person = tls.client_env(tmp_path, "ops")  # an operations identity of the example desk
    with real_service("feeds", doc, port, tmp_path, tls=tls):

        def screen() -> str:
            args = ("-n", namespace, "status", DESK, "--feeds", f"127.0.0.1:{port}")
            text = plugin(kube, *args, env=person).stdout
            return text if "vendor-a" in text else ""

        out = kube.wait_until("feed lines in the status screen", screen, timeout=60)
        plaintext = plugin(kube, "-n", namespace, "status", DESK, "--feeds", f"127.0.0.1:{port}").stdout
        assert "FEED LINES\nunreachable from here (127.0.0.1:" in plaintext  # no certificate, no answer
    assert "Ready       True AllServicesReady" in out
    assert "Trading     none confirmed yet" in out and "PENDING spec Active" in out
    assert f"Operator    {kube.desk(namespace, DESK)['status']['operator']['leader']} (heartbeat" in out
    assert "routing     1/1" in out and "ny4-node-1" in out
    assert "vendor-a" in out and "A*" in out  # line A active
    assert "HEALTH (monitoring)\nunreachable from here" in out

    logs = plugin(kube, "-n", namespace, "logs", DESK, "--service", "risk", check=False)
    assert f"{DESK}-risk" in logs.stdout + logs.stderr  # kwok runs no containers: kubectl names the pod it asked

    halt = plugin(kube, "-n", namespace, "halt", DESK, "--timeout", "5", check=False)
    assert halt.returncode == 1
    assert "Halted NOT confirmed after 5s: RiskServiceUnreachable" in halt.stdout

    saved = plugin(kube, "-n", namespace, "backup", DESK).stdout
    kube.run("delete", "desk", DESK, "-n", namespace, "--timeout=60s")
    kube.run("apply", "--server-side", "-n", namespace, "-f", "-", stdin=saved)
    restored = kube.desk(namespace, DESK)
    assert restored["spec"]["instruments"] == kube_defaults(doc)["spec"]["instruments"]
    assert restored["spec"]["tradingState"] == "Halted"  # the definition as it was, halt included


def kube_defaults(doc: dict) -> dict:
    """The document with the CRD's defaults filled the way the API server stores it (instruments only)."""
    out = yaml.safe_load(yaml.safe_dump(doc))
    for instrument in out["spec"]["instruments"]:
        instrument.setdefault("currency", "USD")
    return out


@pytest.mark.k8s
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_halt_and_resume_wait_for_the_risk_service(kube: Kubectl, operator: Operator, tmp_path: Path) -> None:
    ns, name = "td-e2e-plugin", "ks-plugin"
    doc = test_desk_document(name)
    kube.fresh_namespace(ns)
    try:
        with real_risk(doc, operator.risk_ports[(ns, name)], tmp_path, tls=DeskTls(kube, ns, name)) as address:
            kube.wait_until("risk service", lambda: answers(address), timeout=30)
            kube.apply(doc, ns)
            kube.wait_ready(ns, name, timeout=120)
            out = plugin(kube, "-n", ns, "halt", name).stdout
            assert f"{name}: Halted confirmed by the RiskService" in out
            assert risk_state(address).state == common_pb2.TRADING_STATE_HALTED
            out = plugin(kube, "-n", ns, "resume", name).stdout
            assert f"{name}: Active confirmed by the RiskService" in out
            assert risk_state(address).state == common_pb2.TRADING_STATE_ACTIVE
            screen = plugin(kube, "-n", ns, "status", name).stdout
            assert "Trading     Active (confirmed by the RiskService" in screen
    finally:
        kube.run("delete", "desk", "--all", "-n", ns, "--timeout=60s", check=False)
        kube.run("delete", "namespace", ns, "--wait=false", check=False)


@pytest.mark.k8s
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_switchover_is_refused_without_a_standby_and_while_the_desk_is_deleted(
    kube: Kubectl, operator: Operator, namespace: str
) -> None:
    kube.apply(test_desk_document(), namespace)
    kube.wait_ready(namespace, DESK, timeout=120)
    routing = [
        "get",
        "pods",
        "-n",
        namespace,
        "-l",
        f"app.kubernetes.io/instance={DESK},app.kubernetes.io/component=routing",
    ]
    (active,) = kube.json(*routing)["items"]
    name = active["metadata"]["name"]

    out = plugin(kube, "-n", namespace, "switchover", DESK, check=False)
    assert out.returncode == 1, out
    assert out.stderr == (
        f"error: switchover refused: no ready standby to take over from {name} on desk {namespace}/{DESK}: {name} is "
        "the only routing pod (spec.services.routing.replicas: 2 or more gives standbys); a switchover now would "
        "stop order entry\n"
    )
    assert [(p["metadata"]["uid"], p["metadata"].get("deletionTimestamp")) for p in kube.json(*routing)["items"]] == [
        (active["metadata"]["uid"], None)
    ]  # the active router untouched

    hold = "tradingdesk.io/test-hold"  # keeps the desk in deletion while the plugin looks at it
    kube.run("patch", "desk", DESK, "-n", namespace, "--type", "json", "-p",
             json.dumps([{"op": "add", "path": "/metadata/finalizers/-", "value": hold}]))  # fmt: skip
    kube.run("delete", "desk", DESK, "-n", namespace, "--wait=false")
    try:
        out = plugin(kube, "-n", namespace, "switchover", DESK, check=False)
        assert out.returncode == 1, out
        assert out.stderr == (
            f"error: switchover refused: desk {namespace}/{DESK} is being deleted (its finalizer halts trading and "
            "stops its pods)\n"
        )
    finally:

        def released() -> bool:
            finalizers = kube.desk(namespace, DESK)["metadata"].get("finalizers", [])
            if hold not in finalizers:
                return True
            at = f"/metadata/finalizers/{finalizers.index(hold)}"
            patch = [{"op": "test", "path": at, "value": hold}, {"op": "remove", "path": at}]
            return kube.run("patch", "desk", DESK, "-n", namespace, "--type", "json", "-p", json.dumps(patch),
                            check=False).ok  # fmt: skip

        kube.wait_until("the test's finalizer removed", released, timeout=30)
