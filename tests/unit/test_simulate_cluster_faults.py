"""The cluster's fault kinds (``pod_kill``, ``node_down``): refused for the embedded desk before it starts, the
embedded kinds refused for a cluster's desk, and read by the verdict as applied faults that routing's failover alert
detects (another service's: no alert yet, said why) whose lost node excuses a gap in market data when feeds or
compliance had a pod there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.desk_runner import write_desk
from tradingdesk.simulate.detection import expected_alert, injected
from tradingdesk.simulate.market_data import outages_of, recorder_kills
from tradingdesk.simulate.run import SimulationConfig, SimulationError, prepare


def _schedule(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "faults.yaml"
    path.write_text("faults:\n" + "".join(f"  - {line}\n" for line in lines))
    return path


def test_the_embedded_desk_refuses_pod_and_node_faults_before_it_starts(tmp_path: Path) -> None:
    spec = write_desk(tmp_path)
    faults = _schedule(tmp_path, "{at: 10, kind: pod_kill, service: routing}", "{at: 20, kind: node_down, for: 5}")
    with pytest.raises(SimulationError, match="node_down, pod_kill: these need a desk on the local Kubernetes"):
        prepare(SimulationConfig(spec_path=spec, out_dir=tmp_path / "run", faults_path=faults))
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_a_cluster_desk_refuses_the_embedded_kinds_and_keeps_its_own_storage(tmp_path: Path) -> None:
    spec = write_desk(tmp_path)
    sigkill = _schedule(tmp_path, "{at: 10, kind: sigkill, service: risk}")
    with pytest.raises(SimulationError, match="sigkill: these need the embedded desk"):
        prepare(SimulationConfig(spec_path=spec, out_dir=tmp_path / "a", faults_path=sigkill, on_cluster=True))
    pod = _schedule(tmp_path, "{at: 10, kind: pod_kill}")
    plan = prepare(SimulationConfig(spec_path=spec, out_dir=tmp_path / "b", faults_path=pod, on_cluster=True))
    assert [f.kind for f in plan.faults] == ["pod_kill"]
    assert not str(plan.desk.spec.storage.data_dir).startswith(str(tmp_path / "b"))


def test_the_cluster_faults_of_routing_expect_its_failover_and_of_another_service_no_alert_yet() -> None:
    killed = {"kind": "pod_kill", "what": "pod killed", "target": {"service": "routing"}}
    off = {"kind": "node_down", "what": "node powered off", "target": {"service": "routing"}}
    on = {"kind": "node_down", "what": "node powered on", "target": {"service": "routing"}}
    assert injected(killed) and injected(off) and not injected(on)
    for event in (killed, off):
        assert expected_alert(event) == ("RoutingFailover", {"service": "routing"}, "")
        alert, _, note = expected_alert({**event, "target": {"service": "risk"}})
        assert alert == "" and note.startswith("not yet: ")


def test_a_lost_node_with_feeds_or_compliance_on_it_excuses_the_gap_that_holds_it() -> None:
    def off(at: int, services: list[str]) -> dict:
        done = at + 5  # the power-off began at its stamp; its pods' processes were dead once it was done
        return {
            "kind": "node_down",
            "what": "node powered off",
            "market_ns": at,
            "done_market_ns": done,
            "services": services,
        }

    faults = [off(100, ["routing", "risk"]), off(200, ["routing", "feeds"]), off(300, ["compliance"])]
    assert [o.start_ns for o in outages_of(faults, lines_of={})] == [205, 305]
    # the tape compliance wrote between the stamp and its death is not its return after the node's loss
    assert recorder_kills(faults) == [305]
