"""Restarts the fault schedule did not ask for: a service the supervisor restarted more often than it was killed.

The supervisor counts every restart of a service (``supervision.json``, ``monitoring.restarts``), whatever ended
the process: a SIGKILL of the schedule, a crash, or an exit of its own (a writer fenced off exits 75). Each SIGKILL
the injector applied (``faults.jsonl``, ``what: killed``) accounts for one restart of its service; any restart
beyond that is the desk failing on its own, which the verdict must not let pass as a survived fault. The full day
found one this way: risk fenced off by a database outage it should have ridden through.

A cluster's desk has no supervisor: Kubernetes restarts its containers. There the desk under test writes its pods'
containers' restart counts at the end of the run (``pod_restart_record``, ``POD_RESTARTS_FILE``), and each power-off
of a node the injector applied (``faults.jsonl``, ``what: node powered off``) accounts for one restart of each
container on it (a kubelet coming back may start them again as restarts). A pod the schedule deleted
(``pod_kill``) is replaced by a new pod, not restarted; a deleted pod's restarts before its deletion are not read.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from tradingdesk.monitoring.restarts import SUPERVISION_STATUS_FILE

POD_RESTARTS_FILE = "pod_restarts.json"
"""The log directory's record of a cluster desk's pods at the end of the run (``pod_restart_record``)."""
COMPONENT_LABEL = "app.kubernetes.io/component"


def unscheduled_restarts(log_dir: Path, fault_events: list[dict]) -> list[str]:
    """One line per service restarted more often than the schedule killed it, with the last exit the supervisor
    saw ("risk: 2 restarts, 1 SIGKILL (last exit: exit code 75)"); empty when every restart was a kill's. A cluster's
    run (a pod record and no supervisor) is judged by its containers (``unscheduled_pod_restarts``); a run with
    neither record has nothing to say."""
    path = log_dir / SUPERVISION_STATUS_FILE
    if not path.exists():
        pods = log_dir / POD_RESTARTS_FILE
        return unscheduled_pod_restarts(json.loads(pods.read_text()), fault_events) if pods.exists() else []
    services = json.loads(path.read_text()).get("services", {})
    killed = Counter(
        e.get("target", {}).get("service", "")
        for e in fault_events
        if e.get("kind") == "sigkill" and e.get("what") == "killed"
    )
    found = []
    for name, entry in sorted(services.items()):
        restarts = int(entry.get("restarts", 0))
        if restarts > killed[name]:
            found.append(
                f"{name}: {restarts} restart(s), {killed[name]} SIGKILL(s) "
                f"(last exit: {entry.get('lastExit') or 'unknown'})"
            )
    return found


def pod_restart_record(pods: list[dict[str, Any]]) -> dict[str, Any]:
    """What the verdict reads of a cluster desk's pods (Kubernetes Pod objects as JSON): each pod's service, node
    and containers, with each container's restart count and its last exit (``lastState.terminated``, else a
    terminated ``state``)."""
    record = []
    for pod in pods:
        containers = []
        for status in pod.get("status", {}).get("containerStatuses") or []:
            last = status.get("lastState", {}).get("terminated") or status.get("state", {}).get("terminated") or {}
            exit_ = f"exit code {last['exitCode']} ({last.get('reason', '')})" if "exitCode" in last else ""
            containers.append(
                {"name": status["name"], "restarts": int(status.get("restartCount", 0)), "lastExit": exit_}
            )
        record.append(
            {
                "pod": pod["metadata"]["name"],
                "service": (pod["metadata"].get("labels") or {}).get(COMPONENT_LABEL, ""),
                "node": pod.get("spec", {}).get("nodeName", ""),
                "containers": containers,
            }
        )
    return {"pods": record}


def unscheduled_pod_restarts(record: dict[str, Any], fault_events: list[dict]) -> list[str]:
    """One line per container of the record restarted more often than its node was powered off by the schedule
    ("routing-5f7c/routing on node-a: 1 restart(s), 0 power-off(s) of its node (last exit: exit code 75 (Error))")."""
    powered_off = Counter(e.get("node", "") for e in fault_events if e.get("what") == "node powered off")
    found = []
    for pod in record.get("pods", []):
        allowed = powered_off[pod["node"]]
        for container in pod["containers"]:
            if container["restarts"] > allowed:
                found.append(
                    f"{pod['pod']}/{container['name']} on {pod['node']}: {container['restarts']} restart(s), {allowed} "
                    f"power-off(s) of its node (last exit: {container['lastExit'] or 'unknown'})"
                )
    return found


__all__ = ["POD_RESTARTS_FILE", "pod_restart_record", "unscheduled_pod_restarts", "unscheduled_restarts"]
