"""The monitoring runbooks' commands, run as written against a running embedded desk, and the CLI behind them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.desk_runner import DeskProcess, wait_until, write_desk
from tests.integration.test_feed_runbook import run_step, runbook_steps
from tradingdesk.spec import load_desk
from tradingdesk.spec.alerting import alerts
from tradingdesk.spec.domain import data_dir

pytestmark = pytest.mark.slow

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
EXPECTED = {  # step -> text its output must contain
    "status": "desk: healthy",
    "alerts": "0 active alert(s), from desk",
    "state": "spec.tradingState is Active",
    "snapshot": "daily_pnl",
}


def monitoring_runbooks() -> list[Path]:
    named = {a.runbook for a in alerts(load_desk(RUNBOOKS.parents[1] / "examples" / "desk.yaml"))}
    # tests/integration/test_*_runbook.py; routing-failover.md needs a cluster: tests/operator/test_failover_runbooks.py
    tested_elsewhere = {"feed-failover.md", "kill-switch.md", "routing-failover.md"}
    return sorted(RUNBOOKS / name for name in named - tested_elsewhere)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskProcess]:
    proc = DeskProcess(write_desk(tmp_path_factory.mktemp("monitoring-runbooks")))
    try:
        proc.wait_up()
        # "is up" is each service serving; the monitoring service's picture of them is its last refresh, which
        # on a busy machine can predate the last of them binding its port (CI: routing, risk and compliance
        # listed UNREACHABLE right after the desk was up)
        status = 'tradingdesk monitoring status -f "$DESK_SPEC"'
        wait_until(lambda: "desk: healthy" in run_step(proc, status), 60, what="monitoring to see the desk healthy")
        yield proc
    finally:
        assert proc.stop() == 0


def test_every_block_of_every_monitoring_runbook_runs(desk: DeskProcess) -> None:
    books = monitoring_runbooks()
    assert len(books) >= 9
    for book in books:
        steps = runbook_steps(book)
        assert steps, f"{book.name} has no tested command"
        for name, script in steps.items():
            out = run_step(desk, script)
            assert EXPECTED[name] in out, f"{book.name} step {name}:\n{out}"


def test_the_monitoring_guides_commands(desk: DeskProcess, tmp_path: Path) -> None:
    steps = runbook_steps(RUNBOOKS.parent / "monitoring.md")
    assert list(steps) == ["scrape", "render", "status"]
    tls = data_dir(desk.desk) / "tls"
    routing = desk.desk.spec.monitoring.metrics_ports()["routing"]
    out = run_step(desk, f"TLS={tls}\nMETRICS=https://127.0.0.1:{routing}\n" + steps["scrape"])
    assert out.startswith("tradingdesk_tls_certificate_expiry_timestamp_seconds ")
    out = run_step(desk, f"OUT={tmp_path}\n" + steps["render"])
    assert {p.name for p in tmp_path.iterdir()} == {"rules.yml", "prometheus.yml", "alertmanager.yml"}
    assert "alertmanager.yml" in out
    out = run_step(desk, steps["status"])
    assert "desk: healthy" in out and "active alert(s), from desk" in out
    host, port = desk.desk.spec.services.monitoring.host, desk.desk.spec.monitoring.dashboard_port
    assert f"dashboard   https://{host}:{port}/" in desk.log.read_text()  # what `tradingdesk up` tells a person


def test_silence_without_alertmanager_is_refused_with_the_reason(desk: DeskProcess) -> None:
    script = (
        'tradingdesk monitoring silence -f "$DESK_SPEC" --alertname FeedDown --minutes 30 '
        '--author jane.doe --comment "INC-1"'
    )
    out = run_step(desk, script + " 2>&1", ok=(1,))
    assert "FAILED_PRECONDITION: no Alertmanager: set spec.monitoring.alertmanagerUrl" in out
