"""The verdict's ``restarts_unscheduled``: a restart the fault schedule did not cause is a failure of the desk."""

from __future__ import annotations

import json
from pathlib import Path

from tradingdesk.simulate.restarts import POD_RESTARTS_FILE, pod_restart_record, unscheduled_restarts


def write_status(log_dir: Path, **services: tuple[int, str]) -> None:
    doc = {"services": {name: {"restarts": n, "lastExit": last} for name, (n, last) in services.items()}}
    (log_dir / "supervision.json").write_text(json.dumps(doc))


def killed(service: str) -> dict:
    return {"kind": "sigkill", "what": "killed", "target": {"service": service}, "market_ns": 1}


def test_a_restart_beyond_the_kills_of_its_service_is_named_with_its_last_exit(tmp_path: Path) -> None:
    write_status(tmp_path, risk=(2, "exit code 75"), routing=(1, "killed by SIGKILL"), feeds=(0, ""))
    events = [killed("risk"), killed("routing"), {"kind": "burst", "what": "started", "market_ns": 2}]
    assert unscheduled_restarts(tmp_path, events) == ["risk: 2 restart(s), 1 SIGKILL(s) (last exit: exit code 75)"]


def test_restarts_the_schedule_caused_pass_and_a_kill_the_injector_skipped_accounts_for_none(tmp_path: Path) -> None:
    write_status(tmp_path, routing=(1, "killed by SIGKILL"), compliance=(1, "killed by SIGKILL"))
    assert unscheduled_restarts(tmp_path, [killed("routing"), killed("compliance")]) == []
    skipped = {**killed("compliance"), "what": "skipped"}
    assert unscheduled_restarts(tmp_path, [killed("routing"), skipped]) == [
        "compliance: 1 restart(s), 0 SIGKILL(s) (last exit: killed by SIGKILL)"
    ]


def test_a_run_without_a_supervisor_has_nothing_to_say(tmp_path: Path) -> None:
    assert unscheduled_restarts(tmp_path, [killed("routing")]) == []


def pod(name: str, node: str, *, restarts: int, terminated: dict | None = None) -> dict:
    """A Kubernetes Pod object as ``kubectl get pods -o json`` gives it, with one container."""
    status = {"name": "service", "restartCount": restarts, "state": {"running": {}}}
    if terminated:
        status["lastState"] = {"terminated": terminated}
    return {
        "metadata": {"name": name, "labels": {"app.kubernetes.io/component": name.split("-")[0]}},
        "spec": {"nodeName": node},
        "status": {"containerStatuses": [status]},
    }


def powered_off(node: str) -> dict:
    return {"kind": "node_down", "what": "node powered off", "node": node, "market_ns": 1}


def write_pods(log_dir: Path, *pods: dict) -> None:
    (log_dir / POD_RESTARTS_FILE).write_text(json.dumps(pod_restart_record(list(pods))))


def test_a_cluster_container_restarted_beyond_its_nodes_power_offs_is_named_with_its_last_exit(tmp_path: Path) -> None:
    fenced = {"exitCode": 75, "reason": "Error"}
    write_pods(
        tmp_path,
        pod("risk-a", "node-1", restarts=1, terminated=fenced),
        pod("routing-b", "node-2", restarts=1, terminated={"exitCode": 137, "reason": "Error"}),
        pod("feeds-c", "node-1", restarts=0),
    )
    assert unscheduled_restarts(tmp_path, [powered_off("node-2")]) == [
        "risk-a/service on node-1: 1 restart(s), 0 power-off(s) of its node (last exit: exit code 75 (Error))"
    ]
    record = json.loads((tmp_path / POD_RESTARTS_FILE).read_text())
    assert [(p["service"], p["node"]) for p in record["pods"]] == [
        ("risk", "node-1"),
        ("routing", "node-2"),
        ("feeds", "node-1"),
    ]


def test_each_power_off_of_a_node_accounts_for_one_restart_of_its_containers(tmp_path: Path) -> None:
    write_pods(tmp_path, pod("routing-b", "node-2", restarts=2))
    assert unscheduled_restarts(tmp_path, [powered_off("node-2"), powered_off("node-2")]) == []
    assert unscheduled_restarts(tmp_path, [powered_off("node-2")]) == [
        "routing-b/service on node-2: 2 restart(s), 1 power-off(s) of its node (last exit: unknown)"
    ]


def test_the_supervisors_record_is_read_before_a_pod_record(tmp_path: Path) -> None:
    write_status(tmp_path, risk=(0, ""))
    write_pods(tmp_path, pod("risk-a", "node-1", restarts=3))
    assert unscheduled_restarts(tmp_path, []) == []
