"""spec.monitoring: defaults that work, and every mistake refused with its field named."""

from __future__ import annotations

import copy

import pytest

from tests.unit.test_spec import EXAMPLE, problems
from tradingdesk.spec import parse_desk


def test_defaults_page_within_seconds() -> None:
    spec = parse_desk(copy.deepcopy(EXAMPLE)).spec.monitoring
    assert spec.metrics_ports() == {
        "feeds": 9464,
        "routing": 9465,
        "risk": 9466,
        "compliance": 9467,
        "monitoring": 9468,
    }
    assert spec.alerts.scrape_interval_seconds == spec.alerts.evaluation_interval_seconds == 1
    assert spec.paging.critical_group_wait_seconds == 0 and spec.dashboard_port == 8090
    assert spec.paging.pagerduty_routing_key.name == "pagerduty"


def monitoring(**fields):
    return lambda d: d["spec"].setdefault("monitoring", {}).update(fields)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (monitoring(metricsPort=80), "spec.monitoring: metricsPort: must be 0 (off) or at least 1024"),
        (monitoring(metricsPort=65_533), "metricsPort: at most 65530 (five ports follow it)"),
        (monitoring(metricsPort=50_050), "spec.monitoring.metricsPort: collides with a service's gRPC port"),
        (monitoring(dashboardPort=50_052), "spec.monitoring.dashboardPort: collides with a service's gRPC port"),
        (monitoring(dashboardPort=9466), "spec.monitoring.dashboardPort: collides with metricsPort + 0..4"),
        (monitoring(otlpEndpoint="collector"), "spec.monitoring.otlpEndpoint"),
        (monitoring(alerts={"orderLatencySloMs": 7}), "orderLatencySloMs: must be a latency bucket bound in ms"),
        (monitoring(alerts={"orderLatencyObjectivePercent": "100"}), "orderLatencyObjectivePercent: must be at least"),
        (
            monitoring(alerts={"orderLatencySlowBurnRate": "20"}),
            "orderLatencySlowBurnRate: must be below orderLatencyFastBurnRate",
        ),
        (monitoring(alerts={"certificateExpiryCriticalDays": 30}), "certificateExpiryCriticalDays: must be fewer"),
        (monitoring(alerts={"runbookBaseUrl": "docs/runbooks"}), "spec.monitoring.alerts.runbookBaseUrl"),
        (monitoring(paging={"pagerdutyRoutingKey": {"name": "Bad_Name", "key": "k"}}), "pagerdutyRoutingKey.name"),
        (monitoring(paging={"webhookUrl": "not a url"}), "spec.monitoring.paging.webhookUrl"),
        (monitoring(alertmanagerUrl="alertmanager:9093"), "spec.monitoring.alertmanagerUrl"),
    ],
)
def test_mistakes_name_the_field(mutate, expected: str) -> None:
    found = problems(mutate)
    assert any(expected in p for p in found), found


def test_metrics_off_is_allowed() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["spec"]["monitoring"] = {"metricsPort": 0, "dashboardPort": 0}
    spec = parse_desk(doc).spec.monitoring
    assert spec.metrics_ports() == {} and spec.dashboard_port == 0
