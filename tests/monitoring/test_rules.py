"""The desk's alert rules, checked and unit-tested with the real promtool.

For every alert: series that must fire it (with the exact labels and rendered annotations it must carry) and,
where a threshold or a ``for`` is involved, a moment when it must not fire yet, or series that must not fire
it at all. The rule file is generated from the example desk's spec, so a change in the generator or in the
spec's defaults is caught here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.desk_runner import EXAMPLE, REPO
from tests.monitoring.tools import run
from tradingdesk.spec import load_desk
from tradingdesk.spec.alerting import alerts, rule_groups

DESK = load_desk(EXAMPLE)
D = DESK.name
RULES = {a.name: a for a in alerts(DESK)}
TARGET = {"instance": "127.0.0.1:9464", "job": "tradingdesk-us-equities"}


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    all_labels = {"desk": D, **TARGET, **labels}
    text = ",".join(f'{k}="{v}"' for k, v in sorted(all_labels.items()))
    return {"series": f"{name}{{{text}}}", "values": values}


def render(template: str, labels: dict[str, str], value: str) -> str:
    """The few template forms the rules use, rendered as Prometheus does."""
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)
    return re.sub(r"\{\{ \$value[^}]*\}\}", value, text)


@dataclass
class Case:
    alert: str
    input_series: list[dict[str, str]]
    fires_at: str
    labels: dict[str, str] = field(default_factory=dict)
    """Series labels the alert keeps (beyond severity, desk and the rule's service)."""
    value: str = ""
    """``$value`` as the annotations render it."""
    quiet_at: str | None = None
    """A moment when it must not fire yet (``for`` not elapsed, or the condition not met yet)."""

    def test(self) -> dict[str, Any]:
        rule = RULES[self.alert]
        labels = {"alertname": rule.name, "severity": rule.severity, "desk": D, **self.labels}
        if rule.service:
            labels["service"] = rule.service
        runbook = DESK.spec.monitoring.alerts.runbook_base_url + rule.runbook
        annotations = {
            "summary": render(rule.summary, labels, self.value),
            "description": render(rule.description, labels, self.value),
            "runbook_url": runbook,
        }
        checks = [
            {
                "eval_time": self.fires_at,
                "alertname": rule.name,
                "exp_alerts": [{"exp_labels": labels, "exp_annotations": annotations}],
            }
        ]
        if self.quiet_at is not None:
            checks.insert(0, {"eval_time": self.quiet_at, "alertname": rule.name, "exp_alerts": []})
        return {"interval": "1s", "input_series": self.input_series, "alert_rule_test": checks}


def quiet(alert: str, input_series: list[dict[str, str]], at: str) -> dict[str, Any]:
    """Series that must not fire ``alert`` at ``at``."""
    return {
        "interval": "1s",
        "input_series": input_series,
        "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": []}],
    }


SERVICES = ("feeds", "routing", "risk", "compliance", "monitoring")
ORDER_SERVICE = {"grpc_service": "tradingdesk.v1.OrderService", "grpc_type": "unary"}
MONITORING = {"service": "monitoring"}
STANDBY = "127.0.0.2:9464"


def submit_histogram(*, calls_per_min: int, fast_per_min: int, minutes: int) -> list[dict[str, str]]:
    """SubmitOrder's duration histogram: ``calls_per_min`` calls a minute, ``fast_per_min`` within 10 ms."""
    labels = {"service": "routing", "grpc_method": "SubmitOrder", **ORDER_SERVICE}
    values_fast = f"0+{fast_per_min}x{minutes}"
    values_all = f"0+{calls_per_min}x{minutes}"
    return [
        series("grpc_server_handling_seconds_bucket", values_fast, le="0.01", **labels),
        series("grpc_server_handling_seconds_bucket", values_all, le="+Inf", **labels),
        series("grpc_server_handling_seconds_count", values_all, **labels),
    ]


def minute_test(case_series: list[dict[str, str]], alert: str, at: str, fires: bool) -> dict[str, Any]:
    exp = []
    if fires:
        rule = RULES[alert]
        labels = {"alertname": alert, "severity": rule.severity, "desk": D, "service": rule.service}
        exp = [
            {
                "exp_labels": labels,
                "exp_annotations": {
                    "summary": rule.summary,
                    "description": rule.description,
                    "runbook_url": DESK.spec.monitoring.alerts.runbook_base_url + rule.runbook,
                },
            }
        ]
    return {
        "interval": "1m",
        "input_series": case_series,
        "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": exp}],
    }


CASES = [
    Case(
        "DeskDown",
        [series("up", "0x10", service=s) for s in SERVICES],
        fires_at="5s",
        quiet_at="1s",
        labels={},
    ),
    Case(
        "ServiceDown",
        [series("up", "1 1 0x10", service="risk"), series("up", "1x12", service="feeds")],
        fires_at="6s",
        quiet_at="3s",
        labels={"service": "risk", **TARGET},
    ),
    Case(
        "ServiceRestarted",
        [
            series("process_start_time_seconds", "1000x3 1010x10", service="risk"),
            series("process_start_time_seconds", "900x13", service="feeds"),
        ],
        fires_at="4s",
        quiet_at="3s",
        labels={"service": "risk", **TARGET},
        value="1",
    ),
    Case(
        # the standby took over at 3 s (its gauge was 0 until then); the other replica never did
        "RoutingFailover",
        [
            series("tradingdesk_routing_took_over_timestamp_seconds", "0x3 3x10", service="routing"),
            series("tradingdesk_routing_took_over_timestamp_seconds", "0x13", service="routing", instance=STANDBY),
        ],
        fires_at="5s",
        quiet_at="3s",
        labels={**TARGET},
        value="2s",
    ),
    Case(
        "DeskNotReady",
        [series("tradingdesk_desk_ready", "0x20", **MONITORING)],
        fires_at="12s",
        quiet_at="5s",
        labels={**TARGET},
    ),
    Case(
        "FeedLineDown",
        [series("tradingdesk_feed_line_up", "0x10", service="feeds", feed="vendor-a", line="B")],
        fires_at="6s",
        quiet_at="3s",
        labels={"feed": "vendor-a", "line": "B", **TARGET},
    ),
    Case(
        "FeedDown",
        [series("tradingdesk_feed_up", "1 0x5", service="feeds", feed="vendor-a")],
        fires_at="1s",
        quiet_at="0s",
        labels={"feed": "vendor-a", **TARGET},
    ),
    Case(
        "StaleSymbols",
        [series("tradingdesk_market_stale_symbols", "3x10", service="feeds")],
        fires_at="6s",
        quiet_at="3s",
        labels={**TARGET},
        value="3",
    ),
    Case(
        "ClockSkew",
        [
            series("tradingdesk_clock_skew_seconds", "0 -2.5x10", service="monitoring", target_service="routing"),
            series("tradingdesk_clock_skew_seconds", "0x10", service="monitoring", target_service="risk"),
        ],
        fires_at="7s",
        quiet_at="4s",
        labels={"service": "routing", "target_service": "routing", **TARGET},
        value="2.5",
    ),
    Case(
        "JournalWriteFailing",
        [series("tradingdesk_journal_healthy", "0x10", service="routing")],
        fires_at="6s",
        quiet_at="3s",
        labels={**TARGET},
    ),
    Case(
        "TradingHalted",
        [series("tradingdesk_trading_halted", "1x5", scope="ACC-EQ-2", cause="manual", **MONITORING)],
        fires_at="1s",
        labels={"scope": "ACC-EQ-2", "cause": "manual", **TARGET},
    ),
    Case(
        "KillSwitchFired",
        [series("tradingdesk_trading_halted", "1x5", scope="desk", cause="kill_switch", **MONITORING)],
        fires_at="0s",
        labels={"scope": "desk", "cause": "kill_switch", **TARGET},
    ),
    Case(
        "CircuitBreakerOpen",
        [series("tradingdesk_trading_halted", "1x5", scope="ACC-EQ-1", cause="circuit_breaker", **MONITORING)],
        fires_at="0s",
        labels={"scope": "ACC-EQ-1", "cause": "circuit_breaker", **TARGET},
    ),
    Case(
        "DailyLossNearLimit",
        [
            series(
                "tradingdesk_risk_limit_utilization_ratio", "0.5 0.85x5", scope="desk", limit="daily_loss", **MONITORING
            )
        ],
        fires_at="1s",
        quiet_at="0s",
        labels={"scope": "desk", "limit": "daily_loss", **TARGET},
        value="85%",
    ),
    Case(
        "DailyLossLimitBreached",
        [
            series(
                "tradingdesk_risk_limit_utilization_ratio",
                "0.9 1.2x5",
                scope="ACC-EQ-2",
                limit="daily_loss",
                **MONITORING,
            )
        ],
        fires_at="1s",
        quiet_at="0s",
        labels={"scope": "ACC-EQ-2", "limit": "daily_loss", **TARGET},
    ),
    Case(
        "DrawdownNearLimit",
        [
            series(
                "tradingdesk_risk_limit_utilization_ratio", "0.79 0.8x5", scope="desk", limit="drawdown", **MONITORING
            )
        ],
        fires_at="1s",
        quiet_at="0s",
        labels={"scope": "desk", "limit": "drawdown", **TARGET},
        value="80%",
    ),
    Case(
        "DrawdownLimitBreached",
        [series("tradingdesk_risk_limit_utilization_ratio", "0.99 1x5", scope="desk", limit="drawdown", **MONITORING)],
        fires_at="1s",
        quiet_at="0s",
        labels={"scope": "desk", "limit": "drawdown", **TARGET},
    ),
    Case(
        "ComplianceLagging",
        [
            series("tradingdesk_journal_last_seq", "0+1000x60", service="routing"),
            series("tradingdesk_compliance_mirrored_seq", "0x60", service="compliance"),
        ],
        fires_at="45s",
        quiet_at="20s",  # over 10,000 behind from 11 s, and 30 s more before it fires
        labels={},
        value="45000",
    ),
    Case(
        "ComplianceRefusing",
        [
            series("tradingdesk_service_serving", "0x10", target_service="compliance", **MONITORING),
            series("up", "1x10", service="compliance"),
        ],
        fires_at="6s",
        quiet_at="3s",
        labels={"target_service": "compliance", **TARGET},
    ),
    Case(
        "AuditSealFailing",
        [series("tradingdesk_audit_seal_failures_total", "0 0 1x5", service="compliance", reason="unavailable")],
        fires_at="3s",
        quiet_at="1s",
        labels={"reason": "unavailable", **TARGET},
    ),
    Case(
        "VenueDisconnected",
        [series("tradingdesk_venue_connected", "1 1 0x5", service="routing", venue="bats")],
        fires_at="3s",
        quiet_at="1s",
        labels={"venue": "bats", **TARGET},
    ),
    Case(
        # one reject a second: past venueRejectsPerMinute (10) once ten seconds of it are in the minute
        "VenueRejecting",
        [series("tradingdesk_venue_rejects_total", "0+1x120", service="routing", venue="xnys")],
        fires_at="30s",
        quiet_at="5s",
        labels={"venue": "xnys", **TARGET},
    ),
    Case(
        "VenueNotAcknowledging",
        [series("tradingdesk_venue_ack_timeouts_total", "0 0 1x5", service="routing", venue="xnas")],
        fires_at="3s",
        quiet_at="1s",
        labels={"venue": "xnas", **TARGET},
    ),
    Case(
        "CertificateExpiringSoon",
        [series("tradingdesk_tls_certificate_expiry_timestamp_seconds", "864000x5", service="routing")],
        fires_at="0s",
        labels={"service": "routing", **TARGET},
        value="10d 0h 0m 0s",
    ),
    Case(
        "CertificateExpiryImminent",
        [series("tradingdesk_tls_certificate_expiry_timestamp_seconds", "172800x5", service="routing")],
        fires_at="0s",
        labels={"service": "routing", **TARGET},
        value="2d 0h 0m 0s",
    ),
]

QUIET = [
    # a restart is forgotten once it is older than the window
    quiet("ServiceRestarted", [series("process_start_time_seconds", "1000x3 1010x1100", service="risk")], "17m"),
    # so is a takeover (the new active replica's gauge holds its time; 0: never took over)
    quiet(
        "RoutingFailover",
        [series("tradingdesk_routing_took_over_timestamp_seconds", "0x3 3x1100", service="routing")],
        "17m",
    ),
    # one service down is not the desk down
    quiet("DeskDown", [series("up", "0x10", service="risk"), series("up", "1x10", service="feeds")], "8s"),
    # both lines of a feed down with the feed still up cannot happen; a feed with a live line is not down
    quiet("FeedDown", [series("tradingdesk_feed_up", "1x10", service="feeds", feed="vendor-a")], "5s"),
    # refusals under the minimum rate are not a spike
    quiet(
        "RejectRateSpike",
        [
            series(
                "grpc_server_handled_total",
                "0+0.1x200",
                service="routing",
                grpc_method="SubmitOrder",
                grpc_code="FAILED_PRECONDITION",
                **ORDER_SERVICE,
            ),
        ],
        "150s",
    ),
    # compliance NOT_SERVING because it is down is ServiceDown's to report
    quiet(
        "ComplianceRefusing",
        [
            series("tradingdesk_service_serving", "0x10", target_service="compliance", **MONITORING),
            series("up", "0x10", service="compliance"),
        ],
        "8s",
    ),
    # failures counted long ago (the counter flat at 3 for the whole window) are not failing now
    quiet(
        "AuditSealFailing",
        [series("tradingdesk_audit_seal_failures_total", "3x20", service="compliance", reason="unavailable")],
        "15s",
    ),
    # timeouts long ago (the counter flat for the whole window) are not a venue failing now
    quiet(
        "VenueNotAcknowledging",
        [series("tradingdesk_venue_ack_timeouts_total", "4x20", service="routing", venue="xnas")],
        "15s",
    ),
    # rejects long ago, or the odd one of a normal day (six a minute), are not a venue refusing everything
    quiet(
        "VenueRejecting", [series("tradingdesk_venue_rejects_total", "50x200", service="routing", venue="xnys")], "150s"
    ),
    quiet(
        "VenueRejecting",
        [series("tradingdesk_venue_rejects_total", "0+0.1x400", service="routing", venue="xnys")],
        "300s",
    ),
    # a certificate with a month left is no concern
    quiet(
        "CertificateExpiringSoon",
        [series("tradingdesk_tls_certificate_expiry_timestamp_seconds", "2592000x5", service="routing")],
        "1s",
    ),
]

SLO = [
    # 10% of submits slower than 10 ms for two hours: 100x the 0.1% budget, both windows over 14.4x
    minute_test(
        submit_histogram(calls_per_min=600, fast_per_min=540, minutes=130), "OrderLatencySLOFastBurn", "70m", True
    ),
    minute_test(
        submit_histogram(calls_per_min=600, fast_per_min=540, minutes=400), "OrderLatencySLOSlowBurn", "6h", True
    ),
    # 0.5% slow: 5x the budget, under both burn rates
    minute_test(
        submit_histogram(calls_per_min=1000, fast_per_min=995, minutes=400), "OrderLatencySLOFastBurn", "6h", False
    ),
    minute_test(
        submit_histogram(calls_per_min=1000, fast_per_min=995, minutes=400), "OrderLatencySLOSlowBurn", "6h", False
    ),
]


def reject_spike() -> dict[str, Any]:
    """Half of 2 submits/s refused for minutes: a spike (RejectRateSpike carries the share as its value)."""
    labels = {"service": "routing", "grpc_method": "SubmitOrder", **ORDER_SERVICE}
    rule = RULES["RejectRateSpike"]
    return {
        "interval": "1s",
        "input_series": [
            series("grpc_server_handled_total", "0+1x600", grpc_code="OK", **labels),
            series("grpc_server_handled_total", "0+1x600", grpc_code="FAILED_PRECONDITION", **labels),
        ],
        "alert_rule_test": [
            {"eval_time": "30s", "alertname": "RejectRateSpike", "exp_alerts": []},  # for 60 s not over
            {
                "eval_time": "400s",
                "alertname": "RejectRateSpike",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            "alertname": "RejectRateSpike",
                            "severity": "warning",
                            "desk": D,
                            "service": "routing",
                        },
                        "exp_annotations": {
                            "summary": render(rule.summary, {"desk": D}, "50%"),
                            "description": rule.description,
                            "runbook_url": DESK.spec.monitoring.alerts.runbook_base_url + rule.runbook,
                        },
                    }
                ],
            },
        ],
    }


@pytest.fixture(scope="module")
def rule_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "rules.yml"
    path.write_text(yaml.safe_dump(rule_groups(DESK), sort_keys=False, width=1000))
    return path


def test_promtool_accepts_the_rule_file(rule_file: Path) -> None:
    done = run("prometheus", "promtool", "check", "rules", str(rule_file), check=True)
    assert f"SUCCESS: {len(RULES)} rules found" in done.stdout


def promtool_test(rule_file: Path, tests: list[dict[str, Any]], *, every: str, name: str) -> None:
    spec = {"rule_files": [str(rule_file)], "evaluation_interval": every, "tests": tests}
    path = rule_file.parent / f"{name}.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, width=1000))
    done = run("prometheus", "promtool", "test", "rules", str(path))
    assert done.returncode == 0, f"promtool test rules failed:\n{done.stdout}\n{done.stderr}"
    assert "SUCCESS" in done.stdout


def test_every_alert_fires_as_specified(rule_file: Path) -> None:
    assert {c.alert for c in CASES} | {"OrderLatencySLOFastBurn", "OrderLatencySLOSlowBurn", "RejectRateSpike"} == set(
        RULES
    ), "every alert needs a firing case"
    promtool_test(rule_file, [c.test() for c in CASES] + QUIET + [reject_spike()], every="1s", name="alerts")


def test_order_latency_slo_burn(rule_file: Path) -> None:
    """Hours of traffic, evaluated once a minute (evaluating every second would take promtool minutes)."""
    promtool_test(rule_file, SLO, every="1m", name="slo")


def test_every_alert_carries_what_an_sre_needs() -> None:
    for group in rule_groups(DESK)["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
            assert rule["labels"]["desk"] == D
            assert rule["labels"].get("service") or any(
                ("service=~" in rule["expr"], "tls" in rule["expr"], '"service", "$1"' in rule["expr"])
            ), rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]
            url = rule["annotations"]["runbook_url"]
            assert url.startswith(DESK.spec.monitoring.alerts.runbook_base_url)
            runbook = REPO / "docs" / "runbooks" / url.rsplit("/", 1)[1]
            assert runbook.is_file(), f"{rule['alert']} names {runbook.name}, which does not exist"
            assert rule["alert"] in runbook.read_text(), f"{runbook.name} does not mention {rule['alert']}"


def test_thresholds_and_durations_come_from_the_spec() -> None:
    doc = DESK.model_dump(by_alias=True, mode="json")
    doc["spec"]["monitoring"]["alerts"].update(
        {"serviceDownForSeconds": 7, "lossNearLimitPercent": 65, "orderLatencySloMs": 25, "complianceLagRecords": 5}
    )
    from tradingdesk.spec import parse_desk

    tuned = {a.name: a for a in alerts(parse_desk(doc))}
    assert tuned["ServiceDown"].for_s == 7
    assert tuned["DailyLossNearLimit"].expr.endswith(">= 0.65")
    assert 'le="0.025"' in tuned["OrderLatencySLOFastBurn"].expr
    assert tuned["ComplianceLagging"].expr.endswith("> 5")
