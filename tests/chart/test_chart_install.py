"""`helm install` into the local control plane, then a desk run by an operator holding only the chart's grants.

The operator process runs here (as `make cluster-up` runs it), authenticated with a token of the chart's
ServiceAccount: if the ClusterRole or Roles miss anything the operator calls, the desk never becomes Ready or is
never deleted, and the operator log shows the 403. The operator Deployment's pods are kwok's (they run no image):
the test checks their rendered spec and that they are scheduled and Running on the tainted nodes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.helm import CHART, helm, values_args
from tests.operator.helpers import test_desk_document
from tests.operator.kubectl import Kubectl, free_port, wait_for_http
from tests.operator.process import start_operator, stop

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(300)]

RELEASE = "desk-operator"
SA = f"{RELEASE}-tradingdesk-operator"
FORBIDDEN = re.compile(r"\b403\b|[Ff]orbidden")
LOG_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")  # its milliseconds may read 403
# Every node of the test cluster carries these taints; without tolerations both operator pods stay Pending.
NODE_TOLERATIONS = [
    {"key": "tradingdesk.io/desk", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"},
]


def token_kubeconfig(admin: Path, token: str, out: Path) -> Path:
    """A kubeconfig for the same API server that authenticates as the chart's ServiceAccount."""
    config = yaml.safe_load(admin.read_text())
    cluster = config["clusters"][0]["cluster"]
    out.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "local", "cluster": cluster}],
                "users": [{"name": "operator", "user": {"token": token}}],
                "contexts": [{"name": "operator", "context": {"cluster": "local", "user": "operator"}}],
                "current-context": "operator",
            }
        )
    )
    return out


@pytest.fixture(scope="module")
def admin(k8s_cluster) -> Kubectl:
    return Kubectl(Path(k8s_cluster.kubeconfig))


def install(admin: Kubectl, namespace: str, values: dict[str, Any], tmp: Path) -> None:
    # cluster-scoped leftovers of an interrupted earlier run would make helm refuse to adopt them
    selector = f"app.kubernetes.io/instance={RELEASE}"
    admin.run("delete", "clusterrole,clusterrolebinding", "-l", selector, "--ignore-not-found")
    helm(
        "install", RELEASE, str(CHART), "--kubeconfig", str(admin.kubeconfig), "--namespace", namespace,
        "--wait", "--timeout", "120s", *values_args(values, tmp),
        timeout=180,
    )  # fmt: skip


@pytest.fixture(params=["cluster-wide", "namespaced"])
def release(request: pytest.FixtureRequest, admin: Kubectl, tmp_path: Path) -> Iterator[dict[str, Any]]:
    mode = request.param
    system_ns, desk_ns = f"td-chart-{mode}", f"td-chart-desks-{mode}"
    for ns in (system_ns, desk_ns):
        admin.fresh_namespace(ns)
    values: dict[str, Any] = {"tolerations": NODE_TOLERATIONS, "rpcTimeoutSeconds": 1}
    if mode == "namespaced":
        values["namespaces"] = [desk_ns]
    try:
        install(admin, system_ns, values, tmp_path)
        yield {"mode": mode, "system": system_ns, "desks": desk_ns, "values": values}
    finally:
        admin.run("delete", "desk", "--all", "-n", desk_ns, "--timeout=30s", check=False)
        helm("uninstall", RELEASE, "--kubeconfig", str(admin.kubeconfig), "--namespace", system_ns, check=False)
        for ns in (system_ns, desk_ns):
            admin.run("delete", "namespace", ns, "--wait=false", check=False)


def test_install_runs_the_operator_and_a_desk_with_only_the_charts_grants(
    admin: Kubectl, release: dict[str, Any], tmp_path: Path
) -> None:
    system_ns, desk_ns = release["system"], release["desks"]
    # The CRDs are installed and served.
    for crd in ("tradingdesks.tradingdesk.io",):
        admin.wait_established(crd)

    # The operator Deployment came up: both replicas scheduled on the tainted nodes and Running (kwok).
    deployment = admin.json("get", "deployment", SA, "-n", system_ns)
    assert deployment["status"].get("readyReplicas") == 2
    pods = admin.json("get", "pods", "-n", system_ns, "-l", f"app.kubernetes.io/instance={RELEASE}")["items"]
    assert len(pods) == 2 and all(p["status"]["phase"] == "Running" and p["spec"].get("nodeName") for p in pods)
    spec = pods[0]["spec"]
    assert spec["serviceAccountName"] == SA
    for toleration in NODE_TOLERATIONS:
        assert toleration in spec["tolerations"]
    (container,) = spec["containers"]
    assert container["command"] == ["python", "-m", "deskoperator"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert ("--namespace=" + desk_ns in container["args"]) == (release["mode"] == "namespaced")
    expected = lambda: admin.json("get", "pdb", SA, "-n", system_ns).get("status", {}).get("expectedPods")  # noqa: E731
    admin.wait_until("the PDB to count both operator pods", lambda: expected() == 2, timeout=30)

    # Run the operator with the ServiceAccount's token: it can do only what the chart granted.
    token = admin.run("create", "token", SA, "-n", system_ns, "--duration=1h").out.strip()
    as_operator = Kubectl(token_kubeconfig(admin.kubeconfig, token, tmp_path / "operator.kubeconfig"))
    denied = as_operator.run("get", "secrets", "-n", desk_ns, check=False)
    assert not denied.ok and "forbidden" in denied.err  # least privilege: no Secrets
    health = free_port()
    args = ["--liveness", f"http://127.0.0.1:{health}/healthz", "--metrics-port", "0", "--rpc-timeout", "1",
            # its own Lease (in the release namespace, as in a pod); the session's operator may act beside it
            "--lease-name", f"td-chart-{release['mode']}", "--lease-namespace", system_ns]  # fmt: skip
    if release["mode"] == "namespaced":
        args += ["--namespace", desk_ns]
    proc, log = start_operator(as_operator, tmp_path, *args, name="chart-operator")
    try:
        wait_for_http(f"http://127.0.0.1:{health}/healthz", timeout=60, process=proc, log=log)
        admin.apply(test_desk_document(), desk_ns)
        admin.wait_ready(desk_ns, "us-equities", timeout=120)
        # the finalizer ran and was removed with the chart's grants (patch on tradingdesks)
        admin.run("delete", "desk", "us-equities", "-n", desk_ns, "--timeout=60s", timeout=90)
        reasons = lambda: {e["reason"] for e in admin.events(desk_ns, "us-equities")}  # noqa: E731
        # kopf posts Events from a queue: the last one may land just after the desk is gone
        admin.wait_until("the desk's Events", lambda: {"Reconciled", "Ready", "Finalized"} <= reasons(), timeout=30)
    finally:
        stop(proc)
    text = log.read_text(errors="replace")
    forbidden = [line for line in text.splitlines() if FORBIDDEN.search(LOG_TIMESTAMP.sub("", line))]
    assert forbidden == [], "\n".join(forbidden[:5])


def test_crd_upgrade_as_documented_then_uninstall_keeps_the_crd(admin: Kubectl, tmp_path: Path) -> None:
    """Helm never upgrades nor deletes crds/: docs/operator.md's upgrade steps work, and desks survive an uninstall."""
    ns = "td-chart-upgrade"
    admin.fresh_namespace(ns)
    kubeconfig = ["--kubeconfig", str(admin.kubeconfig), "--namespace", ns]
    try:
        install(admin, ns, {"tolerations": NODE_TOLERATIONS, "replicas": 1}, tmp_path)
        assert admin.run("get", "clusterrole", SA, check=False).ok
        admin.run("apply", "--server-side", "--force-conflicts", "-f", str(CHART / "crds"))
        admin.wait_established("tradingdesks.tradingdesk.io")
        helm("upgrade", RELEASE, str(CHART), *kubeconfig, "--reuse-values", "--wait", "--timeout", "120s", timeout=180)
        assert "REVISION: 2" in helm("status", RELEASE, *kubeconfig).out
    finally:
        helm("uninstall", RELEASE, *kubeconfig, "--wait", check=False)
        admin.run("delete", "namespace", ns, "--wait=false", check=False)
    assert not admin.run("get", "clusterrole", SA, check=False).ok
    crd = admin.json("get", "crd", "tradingdesks.tradingdesk.io")
    assert crd["spec"]["group"] == "tradingdesk.io"
