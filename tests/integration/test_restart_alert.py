"""A restart the supervisor made is visible after the fact: the restarted service's count and time in the
monitoring service's status, the ``ServiceRestarted`` alert among the desk's own alerts, and the counter
``tradingdesk_service_restarts_total`` on the monitoring service's /metrics. A restart after 20 ms of backoff (the
default) is over before the next health probe: without this, nothing would show it once the service is back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests import access
from tests.desk_runner import DeskProcess, wait_for, wait_until, write_desk
from tests.integration.test_supervision import restarted, sigkill, status
from tests.integration.test_venue_faults import quick_restarts
from tradingdesk.v1 import monitoring_pb2, monitoring_pb2_grpc

pytestmark = pytest.mark.slow


async def test_a_restarted_service_is_counted_and_alerted(tmp_path: Path) -> None:
    desk = DeskProcess(write_desk(tmp_path, quick_restarts))
    desk.wait_up(timeout=180)
    try:
        wait_until(lambda: len(status(desk).get("services", {})) == 5, timeout=30, what="the supervisor's status")
        async with desk.aio_channel("monitoring") as ch:
            monitoring = monitoring_pb2_grpc.MonitoringServiceStub(ch)
            before = await monitoring.ListAlerts(monitoring_pb2.ListAlertsRequest(), timeout=10)
            assert not [a for a in before.alerts if a.name == "ServiceRestarted"]

            killed_ns = time.time_ns()
            sigkill(desk, "risk")
            await wait_for(lambda: restarted(desk, "risk"), timeout=60, what="risk restarted")

            async def alerted() -> monitoring_pb2.Alert | None:
                listed = await monitoring.ListAlerts(monitoring_pb2.ListAlertsRequest(severity="warning"), timeout=10)
                return next((a for a in listed.alerts if a.name == "ServiceRestarted"), None)

            alert = await wait_for(alerted, timeout=30, what="ServiceRestarted among the desk's alerts")
            assert alert.service == "risk" and alert.labels["service"] == "risk"
            assert "risk restarted 1 time(s)" in alert.summary and alert.starts_ns >= killed_ns
            assert alert.runbook_url.endswith("service-crash.md")

            health = await monitoring.GetHealthSummary(monitoring_pb2.GetHealthSummaryRequest(), timeout=10)
            by_name = {s.service: s for s in health.services}
            assert (by_name["risk"].restarts, by_name["feeds"].restarts) == (1, 0)
            assert by_name["risk"].last_restart_ns >= killed_ns and by_name["feeds"].last_restart_ns == 0

        port = desk.desk.spec.monitoring.metrics_ports()["monitoring"]

        def counted() -> bool:
            text = access.metrics_text(desk.desk, port)
            return 'tradingdesk_service_restarts_total{target_service="risk"} 1.0' in text

        wait_until(counted, timeout=30, what="the restart counted on the monitoring service's /metrics")
        assert 'tradingdesk_service_restarts_total{target_service="routing"} 0.0' in access.metrics_text(
            desk.desk, port
        )
    finally:
        if desk.proc.poll() is None:
            desk.stop()
