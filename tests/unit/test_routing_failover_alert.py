"""RoutingFailover: routing's takeover time (``routing/takeover.py``) and the desk's own check of it, which must
match the Prometheus rule's name, severity, service and runbook."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from tradingdesk.monitoring.alerts import DeskChecks
from tradingdesk.monitoring.restarts import RECENT_RESTART_S
from tradingdesk.routing.takeover import METRIC, Takeover
from tradingdesk.spec.alerting import alerts as rule_alerts
from tradingdesk.spec.load import load_desk
from tradingdesk.v1 import monitoring_pb2

NS = 1_000_000_000
DESK = load_desk(Path(__file__).resolve().parents[2] / "examples" / "desk.yaml")
NOW = 1_767_225_600 * NS


def failovers(took_over_ns: int) -> list[monitoring_pb2.Alert]:
    status = monitoring_pb2.DeskStatus(
        services=[monitoring_pb2.ServiceHealth(service="routing", status="SERVING")],
        routing_took_over_ns=took_over_ns,
    )
    return [a for a in DeskChecks(DESK).judge(status, {}, wall_ns=NOW) if a.name == "RoutingFailover"]


def test_a_recent_takeover_fires_with_the_rules_severity_service_and_runbook() -> None:
    (alert,) = failovers(NOW - 42 * NS)
    (rule,) = [a for a in rule_alerts(DESK) if a.name == "RoutingFailover"]
    assert (alert.severity, alert.service, alert.starts_ns) == (rule.severity, "routing", NOW - 42 * NS)
    assert (rule.severity, rule.service, rule.runbook) == ("warning", "routing", "routing-failover.md")
    assert alert.labels["service"] == "routing" and alert.labels["severity"] == "warning"
    assert alert.runbook_url == DESK.spec.monitoring.alerts.runbook_base_url + "routing-failover.md"
    assert alert.summary == "a routing standby took the journal over 42s ago: the active replica was gone"


def test_an_old_takeover_or_none_does_not_fire() -> None:
    assert failovers(NOW - RECENT_RESTART_S * NS + NS)
    assert not failovers(NOW - RECENT_RESTART_S * NS)
    assert not failovers(0)  # a routing replica active from its start


def test_a_second_takeover_within_the_window_is_a_new_alert() -> None:
    """The alert watch (and a person) must see the second failover, not the first one going on."""
    (first,) = failovers(NOW - 300 * NS)
    (second,) = failovers(NOW - 5 * NS)
    assert first.labels == second.labels and first.fingerprint != second.fingerprint


def test_the_takeover_time_is_the_wall_clocks_and_exported_from_zero() -> None:
    reader = InMemoryMetricReader()
    takeover = Takeover(wall_ns=lambda: NOW)
    takeover.observe(MeterProvider(metric_readers=[reader]).get_meter("test"))

    def exported() -> float:
        data = reader.get_metrics_data()
        metrics = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
        (metric,) = [m for m in metrics if m.name == METRIC]
        (point,) = metric.data.data_points
        return point.value

    assert (takeover.at_ns, exported()) == (0, 0)
    takeover.mark()
    assert (takeover.at_ns, exported()) == (NOW, NOW / NS)
