"""The local cluster's desk (its pods run by the harness) as the desk under test of a simulation
(``tradingdesk.simulate.target``): the simulation's own clients, probe, injector and verdict run against it, and
its pod and node faults are done the way the failover test does them by hand (test_failover_e2e.py).

It lives under tests/ because the harness is a test oracle, never a dependency of the product.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.operator.pods import PodsDesk
from tradingdesk.core.clock import NS_PER_SECOND
from tradingdesk.edge.clock import REPLAY_ORIGIN_ENV
from tradingdesk.simulate.restarts import POD_RESTARTS_FILE, pod_restart_record
from tradingdesk.spec.model import SERVICE_NAMES

NOT_JUDGED = {
    "desk_ran_to_the_end": "no supervisor runs a cluster's desk: Kubernetes restarts or replaces its pods and never "
    "gives up on it",
    "audit_trail_verified": "the audit bucket and its signing key live in the compliance pod's volumes, not in the "
    "run directory; not read yet",
}
"""The verdict lines that cannot apply to the cluster's desk, and why (left out of its verdict, said in its notes)."""
ACTIVE_POD_WAIT_S = 60.0
"""How long a fault waits for exactly one Ready pod of the service (a failover or a new pod may be under way)."""
NODE_WAIT_S = 30.0
"""How long a power change may take to show in the node's Ready condition."""


class ClusterDesk:
    """A started pods desk, as ``DeskUnderTest`` and ``ClusterActions`` at once."""

    not_judged: Mapping[str, str] = NOT_JUDGED

    def __init__(self, desk: PodsDesk) -> None:
        self.desk = desk
        self.kube = desk.kube
        self.env: Mapping[str, str] = {"TD_DSN": desk.dsn}  # the verdict reads the pods' database
        self.cluster = self

    # -- DeskUnderTest ------------------------------------------------------------------------------------------
    def address(self, service: str) -> str:
        return self.desk.address(service)

    def sigkill(self, service: str) -> int | None:
        raise AssertionError("a cluster's desk has no process of this machine to SIGKILL (prepare refuses sigkill)")

    async def watch(self) -> str:
        await asyncio.Event().wait()  # nothing gives up on a cluster's desk: the run's length ends the session
        return ""

    async def stop(self, *, say: Callable[[str], None], log_dir: Path) -> None:
        """The verdict's ``restarts_unscheduled`` reads the restart counts of the desk's pods' containers now."""
        pods = await asyncio.to_thread(self.pods)
        (log_dir / POD_RESTARTS_FILE).write_text(json.dumps(pod_restart_record(pods), indent=2) + "\n")
        say("the cluster's desk stays up: the test's fixture deletes it")

    # -- ClusterActions -----------------------------------------------------------------------------------------
    def kill_active_pod(self, service: str) -> dict[str, str]:
        pod = self._active_pod(service)
        name = pod["metadata"]["name"]
        self.kube.run("delete", "pod", name, "-n", self.desk.namespace, "--grace-period=0", "--force", "--wait=false")
        return {"pod": name, "node": pod["spec"]["nodeName"]}

    def node_of_active_pod(self, service: str) -> str:
        return self._active_pod(service)["spec"]["nodeName"]

    def services_on(self, node: str) -> list[str]:
        components = {p["metadata"]["labels"].get("app.kubernetes.io/component", "") for p in self.pods(node=node)}
        return sorted(components & set(SERVICE_NAMES))  # not the schema migration's Job

    def power(self, node: str, *, on: bool) -> None:
        """The harness kills a node's processes before it marks the node NotReady: read back, it is done."""
        self.desk.harness.power(node, on=on)
        self.kube.wait_until(
            f"{node} {'Ready' if on else 'NotReady'}", lambda: self._node_ready(node) == on, timeout=NODE_WAIT_S
        )

    def _node_ready(self, node: str) -> bool:
        conditions = self.kube.json("get", "node", node)["status"].get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    # -- reading the cluster ------------------------------------------------------------------------------------
    def replay_origin_ns(self) -> int:
        """The wall time of the replay's open that the desk's pods count their clock from: ``TD_REPLAY_ORIGIN_NS``
        of the rendered routing Deployment, else (an operator that renders none: each pod then counts from its own
        start) the desk's creation."""
        deployment = self.kube.json("get", "deployment", f"{self.desk.name}-routing", "-n", self.desk.namespace)
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for var in container.get("env", []):
                if var["name"] == REPLAY_ORIGIN_ENV and var.get("value"):
                    return int(var["value"])
        created = self.kube.desk(self.desk.namespace, self.desk.name)["metadata"]["creationTimestamp"]
        return calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ")) * NS_PER_SECOND

    def pods(self, component: str = "", *, node: str = "") -> list[dict[str, Any]]:
        """The desk's pods not being deleted: of one component, on one node."""
        selector = ["-l", f"app.kubernetes.io/component={component}"] if component else []
        items = self.kube.json("get", "pods", "-n", self.desk.namespace, *selector)["items"]
        return [
            p
            for p in items
            if not p["metadata"].get("deletionTimestamp") and (not node or p["spec"].get("nodeName") == node)
        ]

    def _active_pod(self, service: str) -> dict[str, Any]:
        """The one Ready pod of ``service`` (its standbys are started but not Ready)."""

        def one_ready() -> dict[str, Any] | None:
            active = [p for p in self.pods(service) if ready(p)]
            return active[0] if len(active) == 1 else None

        return self.kube.wait_until(f"one ready {service} pod", one_ready, timeout=ACTIVE_POD_WAIT_S)


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
