"""A real `pulumi up` and `pulumi destroy` of the stack's Kubernetes part against the local control plane.

`make infra-up-test` (not part of `make test`: the Pulumi CLI and its Kubernetes provider take ~13 minutes to
build cold). The Pulumi CLI and the Kubernetes provider are built by infra/build-pulumi.sh; the Python language
host is not served here, so the program runs through the Automation API as an inline program: the very
``deskinfra.kube.build`` the full stack calls, with a local file backend. The operator's pods are kwok's, so the
operator itself runs here as a process (as `make cluster-up` runs it), watching the desk's namespace.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from pulumi import automation as auto

from deskinfra import kube
from deskinfra.config import KubernetesConfig
from deskinfra.plan import desk_plans, read_desks
from tests.operator.kubectl import Kubectl, free_port, wait_for_http
from tests.operator.process import start_operator
from tests.operator.process import stop as stop_operator

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(900)]

INFRA = Path(__file__).resolve().parents[1]
BUILD_SH = INFRA / "build-pulumi.sh"
SYSTEM_NS, DESK_NS = "td-pulumi-system", "td-pulumi-desks"
NODE_TOLERATIONS = [
    {"key": "tradingdesk.io/desk", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"},
]


def pulumi_env() -> dict[str, str]:
    check = subprocess.run(["bash", str(BUILD_SH), "--check"], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.fail("the Pulumi CLI and Kubernetes provider are not built: run `make pulumi-build`")
    return dict(line.split("=", 1) for line in check.stdout.split())


def test_pulumi_up_then_destroy_of_the_kubernetes_part(k8s_cluster, tmp_path: Path) -> None:
    env = pulumi_env()
    admin = Kubectl(Path(k8s_cluster.kubeconfig))
    for ns in (SYSTEM_NS, DESK_NS):  # leftovers of an interrupted run; the stack creates both again
        admin.run("delete", "namespace", ns, "--ignore-not-found", "--wait=true", "--timeout=120s", timeout=150)
    kubeconfig = Path(k8s_cluster.kubeconfig).read_text()
    settings = KubernetesConfig(
        operator_namespace=SYSTEM_NS,
        desk_namespace=DESK_NS,
        operator_values={"namespaces": [DESK_NS], "tolerations": NODE_TOLERATIONS, "replicas": 1},
    )

    # The example desk, its state on the pods' emptyDir: the local control plane runs no PostgreSQL, and the
    # operator refuses a desk that names none unless it says ephemeral.
    docs = list(yaml.safe_load_all((INFRA.parent / "examples" / "desk.yaml").read_text()))
    for doc in docs:
        if doc and doc.get("kind") == "TradingDesk":
            doc["spec"]["storage"] = {"ephemeral": True}
    desk_file = tmp_path / "desk.yaml"
    desk_file.write_text(yaml.safe_dump_all(docs))

    def program() -> None:
        provider = k8s.Provider("local", kubeconfig=kubeconfig)
        desks = desk_plans(read_desks([str(desk_file)], INFRA), default_namespace=DESK_NS)
        part = kube.build(settings, desks, provider, base=INFRA)
        pulumi.export("desks", list(part.desks))

    workspace = auto.LocalWorkspaceOptions(
        work_dir=str(tmp_path),
        pulumi_home=env["PULUMI_HOME"],
        pulumi_command=auto.PulumiCommand(root=env["PULUMI_ROOT"], skip_version_check=True),
        env_vars={
            "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": "local test stack",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "KUBECONFIG": str(k8s_cluster.kubeconfig),
        },
        project_settings=auto.ProjectSettings(name="tradingdesk-local", runtime="python"),
    )
    (tmp_path / "state").mkdir()
    stack = auto.create_or_select_stack(
        stack_name="local", project_name="tradingdesk-local", program=program, opts=workspace
    )
    # The CRD first: an operator that watches given namespaces looks for its resources once, at start (the
    # chart's release then finds the CRD there, as Helm does for any CRD already installed).
    admin.run("apply", "--server-side", "-f", str(INFRA.parent / "charts" / "tradingdesk-operator" / "crds"))
    admin.wait_established("tradingdesks.tradingdesk.io")
    health = free_port()
    proc, log = start_operator(
        admin, tmp_path,
        "--namespace", DESK_NS, "--liveness", f"http://127.0.0.1:{health}/healthz", "--metrics-port", "0",
        "--lease-name", "td-pulumi", "--lease-namespace", "default", "--rpc-timeout", "1",
        name="pulumi-operator",
    )  # fmt: skip
    output: list[str] = []
    try:
        wait_for_http(f"http://127.0.0.1:{health}/healthz", timeout=60, process=proc, log=log)
        up = stack.up(on_output=output.append)
        assert up.summary.result == "succeeded", "\n".join(output)
        assert up.outputs["desks"].value == ["us-equities"]
        # what `pulumi up` left in the cluster: the release's operator Deployment, the CRD, a Ready desk
        assert admin.json("get", "deployment", "-n", SYSTEM_NS, "tradingdesk-operator-tradingdesk-operator")
        assert admin.run("get", "role", "-n", DESK_NS, "tradingdesk-operator-tradingdesk-operator", check=False).ok
        ready = admin.condition(DESK_NS, "us-equities", "Ready")
        assert ready["status"] == "True", ready
        assert up.summary.resource_changes.get("create", 0) >= 4  # 2 namespaces, the release, the desk (+ stack)

        preview = stack.preview(on_output=output.append)  # a second look changes nothing
        assert set(preview.change_summary) <= {"same"}, preview.change_summary

        destroy = stack.destroy(on_output=output.append)
        assert destroy.summary.result == "succeeded", "\n".join(output)
        assert not admin.run("get", "desk", "us-equities", "-n", DESK_NS, check=False).ok
        # the desk went first, while the operator still ran: its finalizer handled the deletion
        assert "Handler 'finalize_desk' succeeded" in log.read_text(), log.read_text()[-3000:]
    finally:
        stop_operator(proc)
        stack.workspace.remove_stack("local", force=True)
