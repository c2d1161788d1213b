"""The Alertmanager configuration generated from the spec: checked by the real amtool, every alert routed to the
right receiver (``amtool config routes test``), and the inhibitions applied by a real Alertmanager."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.desk_runner import EXAMPLE, free_ports
from tests.monitoring.tools import bin_dir, get_json, run
from tests.waiting import WaitTimeout, wait_until
from tradingdesk.spec import load_desk
from tradingdesk.spec.alerting import alertmanager_config, alerts, receiver_names

DESK = load_desk(EXAMPLE)
RECEIVERS = receiver_names(DESK)
SERIES_SERVICE = "risk"  # alerts whose service label comes from the series: route them as risk's


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("am")
    key = tmp / "routing-key"
    key.write_text("0" * 32)
    path = tmp / "alertmanager.yml"
    path.write_text(yaml.safe_dump(alertmanager_config(DESK, routing_key_file_path=str(key)), sort_keys=False))
    return path


def test_amtool_accepts_the_configuration(config_file: Path) -> None:
    done = run("alertmanager", "amtool", "check-config", str(config_file), check=True)
    assert "SUCCESS" in done.stdout and "3 receivers" in done.stdout


@pytest.mark.parametrize("alert", alerts(DESK), ids=lambda a: a.name)
def test_each_alert_reaches_its_receiver(config_file: Path, alert) -> None:
    labels = {"alertname": alert.name, "desk": DESK.name, "severity": alert.severity}
    labels["service"] = alert.service or SERIES_SERVICE
    expected = RECEIVERS[alert.severity]
    args = [f"{k}={v}" for k, v in labels.items()]
    done = run("alertmanager", "amtool", "config", "routes", "test", f"--config.file={config_file}", *args)
    assert done.returncode == 0 and done.stdout.strip() == expected, (done.stdout, done.stderr)
    verified = run(
        "alertmanager", "amtool", "config", "routes", "test",
        f"--config.file={config_file}", f"--verify.receivers={expected}", *args,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout


def test_another_desks_alerts_are_not_routed_here(config_file: Path) -> None:
    done = run(
        "alertmanager", "amtool", "config", "routes", "test", f"--config.file={config_file}",
        "alertname=FeedDown", "desk=other-desk", "severity=critical", "service=feeds",
    )  # fmt: skip
    assert done.stdout.strip() == "unrouted"


def test_the_tree_is_desk_then_severity_then_service(config_file: Path) -> None:
    route = yaml.safe_load(config_file.read_text())["route"]
    (desk,) = route["routes"]
    assert desk["matchers"] == [f'desk="{DESK.name}"']
    critical, other = desk["routes"]
    assert critical["receiver"] == RECEIVERS["critical"] and critical["group_wait"] == "0s"
    assert other["receiver"] == RECEIVERS["warning"]
    services = [r["matchers"][0] for r in critical["routes"]]
    assert services == [f'service="{s}"' for s in ("feeds", "routing", "risk", "compliance", "monitoring", "desk")]
    feeds = critical["routes"][0]
    assert feeds["group_by"] == ["alertname", "desk", "service", "feed"]  # one incident per feed


@pytest.fixture(scope="module")
def alertmanager(config_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    (port,) = free_ports(1)
    data = tmp_path_factory.mktemp("am-data")
    log = (data / "alertmanager.log").open("w")
    proc = subprocess.Popen(
        [
            str(bin_dir("alertmanager") / "alertmanager"),
            f"--config.file={config_file}",
            f"--storage.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if urllib.request.urlopen(f"{url}/-/ready", timeout=1).status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def post_alerts(url: str, *label_sets: dict[str, str]) -> None:
    body = json.dumps([{"labels": {"desk": DESK.name, **labels}} for labels in label_sets]).encode()
    req = urllib.request.Request(
        f"{url}/api/v2/alerts", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    assert urllib.request.urlopen(req, timeout=5).status == 200


def states(url: str) -> dict[str, dict]:
    items = get_json(f"{url}/api/v2/alerts")
    return {"/".join(f"{k}={v}" for k, v in sorted(i["labels"].items()) if k != "desk"): i["status"] for i in items}


def wait_states(url: str, want: int) -> dict[str, dict]:
    deadline = time.monotonic() + 10
    while ((found := states(url)) and len(found) < want) or any(s["state"] == "unprocessed" for s in found.values()):
        assert time.monotonic() < deadline, found
        time.sleep(0.1)
    return found


def test_inhibitions_in_a_real_alertmanager(alertmanager: str) -> None:
    post_alerts(
        alertmanager,
        {"alertname": "FeedDown", "severity": "critical", "service": "feeds", "feed": "vendor-a"},
        {"alertname": "FeedLineDown", "severity": "warning", "service": "feeds", "feed": "vendor-a", "line": "A"},
        {"alertname": "FeedLineDown", "severity": "warning", "service": "feeds", "feed": "vendor-b", "line": "A"},
        {"alertname": "StaleSymbols", "severity": "warning", "service": "feeds"},
        {"alertname": "KillSwitchFired", "severity": "critical", "service": "risk", "scope": "ACC-EQ-1"},
        {"alertname": "TradingHalted", "severity": "warning", "service": "risk", "scope": "ACC-EQ-1"},
        {"alertname": "TradingHalted", "severity": "warning", "service": "risk", "scope": "ACC-EQ-2"},
    )
    expected = {
        "alertname=FeedLineDown/feed=vendor-a/line=A/service=feeds/severity=warning",  # its feed is down
        "alertname=StaleSymbols/service=feeds/severity=warning",  # a feed is down
        "alertname=TradingHalted/scope=ACC-EQ-1/service=risk/severity=warning",  # the kill switch explains it
    }

    def suppressed() -> set[str]:
        found = wait_states(alertmanager, 7)
        return {k for k, s in found.items() if s["state"] == "suppressed" and s["inhibitedBy"]}

    # Alertmanager's inhibitor takes in a source alert a moment after the API accepted it: until then the alert
    # it inhibits reads active, so wait for the inhibitions to settle, then compare.
    with contextlib.suppress(WaitTimeout):
        wait_until(lambda: suppressed() == expected, timeout=10, what="the inhibitions")
    assert suppressed() == expected

    post_alerts(alertmanager, {"alertname": "DeskDown", "severity": "critical", "service": "desk"})

    def active() -> set[str]:
        return {k for k, s in wait_states(alertmanager, 8).items() if s["state"] == "active"}

    desk_down = {"alertname=DeskDown/service=desk/severity=critical"}
    with contextlib.suppress(WaitTimeout):  # the same moment for DeskDown to reach the inhibitor (seen in CI)
        wait_until(lambda: active() == desk_down, timeout=10, what="DeskDown's inhibitions")
    assert active() == desk_down, active()  # desk down silences the rest
