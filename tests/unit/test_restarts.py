"""Restarts read from the embedded supervisor's status file, and the desk's own ServiceRestarted check."""

from __future__ import annotations

import json
from pathlib import Path

from tradingdesk.monitoring.alerts import DeskChecks
from tradingdesk.monitoring.restarts import RECENT_RESTART_S, Restarts, read_restarts
from tradingdesk.spec.load import load_desk
from tradingdesk.v1 import monitoring_pb2

NS = 1_000_000_000
DESK = load_desk(Path(__file__).resolve().parents[2] / "examples" / "desk.yaml")
NOW = 1_767_225_600 * NS


def write_status(path: Path, services: dict) -> Path:
    path.write_text(json.dumps({"services": services, "haltedBySupervisor": "", "gaveUp": ""}))
    return path


def test_restarts_are_read_per_service(tmp_path: Path) -> None:
    path = write_status(
        tmp_path / "supervision.json",
        {
            "risk": {"pid": 9, "state": "serving", "restarts": 2, "lastRestartNs": NOW, "lastExit": "killed"},
            "feeds": {"pid": 8, "state": "serving", "restarts": 0, "lastRestartNs": 0, "lastExit": ""},
        },
    )
    assert read_restarts(path) == {"risk": Restarts(2, NOW), "feeds": Restarts(0, 0)}


def test_no_file_or_a_bad_one_reads_as_no_restarts(tmp_path: Path) -> None:
    assert read_restarts(None) == {}
    assert read_restarts(tmp_path / "absent.json") == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert read_restarts(tmp_path / "bad.json") == {}
    (tmp_path / "odd.json").write_text(json.dumps({"services": {"risk": {"restarts": "many"}}}))
    assert read_restarts(tmp_path / "odd.json") == {}


def judge(last_restart_ns: int, restarts: int = 1) -> list[monitoring_pb2.Alert]:
    status = monitoring_pb2.DeskStatus(
        services=[
            monitoring_pb2.ServiceHealth(
                service="risk", status="SERVING", restarts=restarts, last_restart_ns=last_restart_ns
            ),
            monitoring_pb2.ServiceHealth(service="feeds", status="SERVING"),
        ]
    )
    return [a for a in DeskChecks(DESK).judge(status, {}, wall_ns=NOW) if a.name == "ServiceRestarted"]


def test_a_recent_restart_is_alerted_for_its_service_until_the_window_ends() -> None:
    (alert,) = judge(NOW - 60 * NS, restarts=3)
    assert (alert.service, alert.severity, alert.starts_ns) == ("risk", "warning", NOW - 60 * NS)
    assert alert.summary == "risk restarted 3 time(s) since the desk started, the last 60s ago"
    assert alert.runbook_url.endswith("runbooks/service-crash.md")
    assert judge(NOW - RECENT_RESTART_S * NS + NS)
    assert not judge(NOW - RECENT_RESTART_S * NS)
    assert not judge(0, restarts=0)
