"""The verdict's ``restarts_unscheduled``: a restart the fault schedule did not cause is a failure of the desk."""

from __future__ import annotations

import json
from pathlib import Path

from tradingdesk.simulate.restarts import unscheduled_restarts


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
