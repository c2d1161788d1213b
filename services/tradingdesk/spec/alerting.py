"""A desk's alert rules, its Alertmanager configuration and its Prometheus scrape configuration, from its spec.

Pure functions of the ``TradingDesk`` (no I/O), so the operator (PrometheusRule, ServiceMonitor, or a ConfigMap),
``tradingdesk monitoring render`` and the embedded ``tradingdesk up --monitoring`` all produce the same files.

Every series the rules read carries ``desk`` and ``service`` labels, added at scrape time (the static labels of
``scrape_config`` here, the relabelings of the operator's ServiceMonitor), so each expression selects
``desk="<name>"``. Every alert carries ``severity`` (critical pages, warning does not), ``desk``, ``service``
(which part of the desk to look at: feeds, routing, risk, compliance, monitoring, or desk) and the annotations
``summary``, ``description`` and ``runbook_url``. docs/monitoring.md explains each alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradingdesk.spec.model import SERVICE_NAMES, TradingDesk
from tradingdesk.spec.monitoring import LATENCY_BUCKETS_S

CRITICAL = "critical"
WARNING = "warning"
SERVICES_RE = "|".join(SERVICE_NAMES)
ORDER_METHODS = "SubmitOrder|ReplaceOrder|CancelOrder"
ROUTE_SERVICES = (*SERVICE_NAMES, "desk")
# Labels that tell one incident of a service from another: each group is one PagerDuty incident (dedup_key).
GROUP_BY: dict[str, list[str]] = {
    "feeds": ["alertname", "desk", "service", "feed"],
    "risk": ["alertname", "desk", "service", "scope"],
}
DEFAULT_GROUP_BY = ["alertname", "desk", "service"]
PAGERDUTY_SECRETS_DIR = "/etc/alertmanager/secrets"
RESTART_WINDOW = "15m"
"""How long a restart keeps ``ServiceRestarted`` firing (``monitoring/restarts.py`` judges the same window)."""
RESTART_WINDOW_S = 15 * 60
"""The same window in seconds: how long a routing standby's takeover keeps ``RoutingFailover`` firing."""


@dataclass(frozen=True, slots=True)
class Alert:
    name: str
    expr: str
    for_s: int
    severity: str
    service: str
    summary: str
    description: str
    runbook: str
    """File in docs/runbooks/."""
    not_yet: str = ""
    """Why the series it reads is not exported yet (the issue that adds it); empty when it works today."""


def _ratio(value: Decimal | int) -> str:
    return format(Decimal(value) / 100, "f")


def _le(bound_ms: int) -> str:
    """The ``le`` label of a histogram bucket as Prometheus 3 stores it (floats, normalised: ``0.01``, ``1.0``)."""
    value = next(b for b in LATENCY_BUCKETS_S if round(b * 1000, 6) == bound_ms)
    return repr(float(value))


def alerts(desk: TradingDesk) -> list[Alert]:
    """Every alert rule of the desk, in the order of docs/monitoring.md."""
    d = desk.name
    a = desk.spec.monitoring.alerts
    skew = desk.spec.monitoring.clock_skew
    sel = f'desk="{d}"'
    budget = (Decimal(100) - a.order_latency_objective_percent) / 100
    le = _le(a.order_latency_slo_ms)
    submit = f'{sel},grpc_service="tradingdesk.v1.OrderService",grpc_method="SubmitOrder"'

    def slow_share(window: str) -> str:
        fast = f'sum by (desk) (rate(grpc_server_handling_seconds_bucket{{{submit},le="{le}"}}[{window}]))'
        total = f"sum by (desk) (rate(grpc_server_handling_seconds_count{{{submit}}}[{window}]))"
        return f"(1 - {fast} / {total})"

    def burn(rate: Decimal, long: str, short: str) -> str:
        limit = format(rate * budget, "f")
        return f"{slow_share(long)} > {limit} and {slow_share(short)} > {limit}"

    orders = f'{sel},grpc_service="tradingdesk.v1.OrderService",grpc_method=~"{ORDER_METHODS}"'
    requests = f"sum by (desk) (rate(grpc_server_handled_total{{{orders}}}[5m]))"
    refused = f'sum by (desk) (rate(grpc_server_handled_total{{{orders},grpc_code!="OK"}}[5m]))'
    near = _ratio(a.loss_near_limit_percent)
    cert = f"tradingdesk_tls_certificate_expiry_timestamp_seconds{{{sel}}} - time()"
    took_over = f"tradingdesk_routing_took_over_timestamp_seconds{{{sel}}}"
    halted = f"tradingdesk_trading_halted{{{sel}"
    limit_use = f"tradingdesk_risk_limit_utilization_ratio{{{sel}"
    slo = f"{a.order_latency_objective_percent}% of SubmitOrder calls within {a.order_latency_slo_ms} ms"
    return [
        Alert(
            "DeskDown",
            f'(sum by (desk) (up{{{sel},service=~"{SERVICES_RE}"}}) == 0) or absent(up{{{sel}}})',
            a.desk_down_for_seconds,
            CRITICAL,
            "desk",
            "Desk {{ $labels.desk }} is down: no service answers",
            "Prometheus reaches none of the desk's five services. Orders cannot be placed or managed.",
            "desk-down.md",
        ),
        Alert(
            "ServiceDown",
            f'up{{{sel},service=~"{SERVICES_RE}"}} == 0',
            a.service_down_for_seconds,
            CRITICAL,
            "",  # the series' own service label
            "{{ $labels.service }} of desk {{ $labels.desk }} is down",
            "Prometheus cannot scrape {{ $labels.instance }}: the process is gone or hung.",
            "service-down.md",
        ),
        Alert(
            "ServiceRestarted",
            f'changes(process_start_time_seconds{{{sel},service=~"{SERVICES_RE}"}}[{RESTART_WINDOW}]) > 0',
            0,
            WARNING,
            "",  # the series' own service label
            "{{ $labels.service }} of desk {{ $labels.desk }} restarted",
            "Its process started again {{ $value }} time(s) within " + RESTART_WINDOW + " at the same address: a "
            "crash the embedded supervisor or the kubelet recovered from. More crashes than "
            "spec.supervision.maxRestarts within its window stop an embedded desk.",
            "service-crash.md",
        ),
        Alert(
            "RoutingFailover",
            f"(time() - {took_over} < {RESTART_WINDOW_S}) and {took_over} > 0",
            0,
            WARNING,
            "routing",
            "Routing of desk {{ $labels.desk }} failed over to a standby",
            "A routing standby took the order journal over {{ $value | humanizeDuration }} ago: the active replica "
            "was gone (its process, pod or node lost). There is no standby until a replacement has replayed the "
            "journal.",
            "routing-failover.md",
        ),
        Alert(
            "DeskNotReady",
            f"tradingdesk_desk_ready{{{sel}}} == 0",
            a.desk_not_ready_for_seconds,
            WARNING,
            "desk",
            "Desk {{ $labels.desk }} is not ready",
            "The monitoring service sees at least one service not SERVING on gRPC health.",
            "desk-down.md",
        ),
        Alert(
            "FeedLineDown",
            f"tradingdesk_feed_line_up{{{sel}}} == 0",
            a.feed_line_down_for_seconds,
            WARNING,
            "feeds",
            "Line {{ $labels.line }} of feed {{ $labels.feed }} is not live",
            "The feed runs on its other line; one more failure and its market data stops.",
            "feed-failover.md",
        ),
        Alert(
            "FeedDown",
            f"tradingdesk_feed_up{{{sel}}} == 0",
            a.feed_down_for_seconds,
            CRITICAL,
            "feeds",
            "Feed {{ $labels.feed }} is down: every line lost",
            "No line of the feed delivers data; its symbols go stale and orders in them are refused.",
            "feed-failover.md",
        ),
        Alert(
            "StaleSymbols",
            f"tradingdesk_market_stale_symbols{{{sel}}} > 0",
            a.stale_symbols_for_seconds,
            WARNING,
            "feeds",
            "{{ $value }} symbols of desk {{ $labels.desk }} have stale market data",
            "Orders in stale symbols are refused (reject code STALE_REFERENCE) until data returns.",
            "feed-failover.md",
        ),
        Alert(
            "OrderLatencySLOFastBurn",
            burn(a.order_latency_fast_burn_rate, "1h", "5m"),
            0,
            CRITICAL,
            "routing",
            f"Order latency SLO ({slo}) burning fast",
            f"Over 1 h and 5 m the error budget burns over {a.order_latency_fast_burn_rate} times too fast.",
            "order-latency.md",
        ),
        Alert(
            "OrderLatencySLOSlowBurn",
            burn(a.order_latency_slow_burn_rate, "6h", "30m"),
            0,
            WARNING,
            "routing",
            f"Order latency SLO ({slo}) burning",
            f"Over 6 h and 30 m the error budget burns over {a.order_latency_slow_burn_rate} times too fast.",
            "order-latency.md",
        ),
        Alert(
            "RejectRateSpike",
            f"({refused} / {requests}) > {_ratio(a.reject_rate_percent)} "
            f"and {requests} > {format(a.reject_rate_min_per_second, 'f')}",
            a.reject_rate_for_seconds,
            WARNING,
            "routing",
            "{{ $value | humanizePercentage }} of order requests on desk {{ $labels.desk }} are refused",
            f"Over 5 minutes the share of submits, replaces and cancels refused is above {a.reject_rate_percent}%.",
            "reject-rate.md",
        ),
        Alert(
            "VenueDisconnected",
            f"tradingdesk_venue_connected{{{sel}}} == 0",
            0,
            CRITICAL,
            "routing",
            "Venue {{ $labels.venue }} of desk {{ $labels.desk }} is away (disconnected)",
            "Smart routing sends it nothing new; orders only it can take are refused UNAVAILABLE (VENUE_AWAY), and "
            "the orders resting there can be neither cancelled nor replaced until it is back.",
            "venue-fault.md",
        ),
        Alert(
            "VenueRejecting",
            f"increase(tradingdesk_venue_rejects_total{{{sel}}}[1m]) >= {a.venue_rejects_per_minute}",
            0,
            WARNING,
            "routing",
            "Venue {{ $labels.venue }} of desk {{ $labels.desk }} rejects new orders",
            f"At least {a.venue_rejects_per_minute} new orders rejected by the venue within a minute "
            "(spec.monitoring.alerts.venueRejectsPerMinute); the risk service's venue-error breaker halts the desk "
            "if spec.risk.circuitBreakers.maxVenueErrors is reached.",
            "venue-fault.md",
        ),
        Alert(
            "VenueNotAcknowledging",
            f"increase(tradingdesk_venue_ack_timeouts_total{{{sel}}}[5m]) > 0",
            0,
            WARNING,
            "routing",
            "Venue {{ $labels.venue }} does not acknowledge new orders on desk {{ $labels.desk }}",
            "Orders it left unacknowledged past spec.routing.venueAckTimeoutMs were cancelled by the desk; they stay "
            "PENDING_CANCEL, counting against limits, until the venue answers.",
            "venue-fault.md",
        ),
        Alert(
            "JournalWriteFailing",
            f"tradingdesk_journal_healthy{{{sel}}} == 0",
            5,
            CRITICAL,
            "routing",
            "The order journal of desk {{ $labels.desk }} cannot write",
            "Routing keeps retrying; nothing new is acknowledged until the database takes writes again, unless "
            "spec.routing.outageSpool acknowledges from the local spool meanwhile.",
            "journal.md",
        ),
        Alert(
            "TradingHalted",
            f"{halted}}} == 1",
            a.trading_halted_for_seconds,
            WARNING,
            "risk",
            "Trading is halted for {{ $labels.scope }} ({{ $labels.cause }})",
            "No new orders are accepted for the scope until a person resumes it.",
            "trading-halted.md",
        ),
        Alert(
            "KillSwitchFired",
            f'{halted},cause="kill_switch"}} == 1',
            0,
            CRITICAL,
            "risk",
            "Kill switch pulled for {{ $labels.scope }}",
            "Trading is halted and every open order of the scope was cancelled.",
            "kill-switch.md",
        ),
        Alert(
            "CircuitBreakerOpen",
            f'{halted},cause="circuit_breaker"}} == 1',
            0,
            CRITICAL,
            "risk",
            "A circuit breaker halted {{ $labels.scope }}",
            "Consecutive losses, venue errors or slippage spikes tripped a breaker; the scope is halted.",
            "trading-halted.md",
        ),
        Alert(
            "DailyLossNearLimit",
            f'{limit_use},limit="daily_loss"}} >= {near}',
            0,
            WARNING,
            "risk",
            "{{ $labels.scope }} has lost {{ $value | humanizePercentage }} of its daily loss limit",
            "At 100% the risk service halts the scope.",
            "loss-limits.md",
        ),
        Alert(
            "DailyLossLimitBreached",
            f'{limit_use},limit="daily_loss"}} >= 1',
            0,
            CRITICAL,
            "risk",
            "{{ $labels.scope }} is over its daily loss limit",
            "The risk service halts the scope; it stays halted until a person resumes it.",
            "loss-limits.md",
        ),
        Alert(
            "DrawdownNearLimit",
            f'{limit_use},limit="drawdown"}} >= {near}',
            0,
            WARNING,
            "risk",
            "{{ $labels.scope }} has drawn down {{ $value | humanizePercentage }} of its limit",
            "At 100% the risk service halts the scope.",
            "loss-limits.md",
        ),
        Alert(
            "DrawdownLimitBreached",
            f'{limit_use},limit="drawdown"}} >= 1',
            0,
            CRITICAL,
            "risk",
            "{{ $labels.scope }} is over its drawdown limit",
            "The risk service halts the scope; it stays halted until a person resumes it.",
            "loss-limits.md",
        ),
        Alert(
            "ComplianceLagging",
            f"max by (desk) (tradingdesk_journal_last_seq{{{sel}}}) "
            f"- max by (desk) (tradingdesk_compliance_mirrored_seq{{{sel}}}) > {a.compliance_lag_records}",
            a.compliance_lag_for_seconds,
            WARNING,
            "compliance",
            "Compliance trails the order journal of desk {{ $labels.desk }} by {{ $value }} records",
            "The audit mirror is behind; it catches up by itself unless it stays behind.",
            "compliance.md",
        ),
        Alert(
            "ComplianceRefusing",
            f'tradingdesk_service_serving{{{sel},target_service="compliance"}} == 0 '
            f'and on (desk) up{{{sel},service="compliance"}} == 1',
            a.compliance_refusing_for_seconds,
            CRITICAL,
            "compliance",
            "Compliance of desk {{ $labels.desk }} is up but refuses to serve",
            "Compliance reports NOT_SERVING: it is not recording the audit trail.",
            "compliance.md",
        ),
        Alert(
            "ClockSkew",
            f"label_replace(abs(tradingdesk_clock_skew_seconds{{{sel}}}) > {skew.threshold_ms / 1000:g}, "
            '"service", "$1", "target_service", "(.+)")',
            skew.for_seconds,
            CRITICAL,
            "",  # the skewed service (the series' target_service)
            "The clock of {{ $labels.service }} on desk {{ $labels.desk }} is off by {{ $value }} s",
            f"Its desk clock is more than {skew.threshold_ms} ms off the other services'; its timestamps and "
            "staleness judgements are wrong.",
            "clock-skew.md",
        ),
        Alert(
            "AuditSealFailing",
            f"increase(tradingdesk_audit_seal_failures_total{{{sel}}}[10m]) > 0",
            0,
            CRITICAL,
            "compliance",
            "Sealing audit segments fails on desk {{ $labels.desk }} ({{ $labels.reason }})",
            "Audit segments are not reaching the audit bucket; they wait in compliance's spool.",
            "audit-seal.md",
        ),
        Alert(
            "CertificateExpiringSoon",
            f"{cert} < {a.certificate_expiry_warning_days * 86_400}",
            0,
            WARNING,
            "",
            "The certificate of {{ $labels.service }} expires in {{ $value | humanizeDuration }}",
            f"Renew it before it is within {a.certificate_expiry_critical_days} days of expiry.",
            "certificate-expiry.md",
        ),
        Alert(
            "CertificateExpiryImminent",
            f"{cert} < {a.certificate_expiry_critical_days * 86_400}",
            0,
            CRITICAL,
            "",
            "The certificate of {{ $labels.service }} expires in {{ $value | humanizeDuration }}",
            "When it expires its peers refuse its connections.",
            "certificate-expiry.md",
        ),
    ]


def _duration(seconds: int) -> str:
    return f"{seconds}s"


def rule_groups(desk: TradingDesk) -> dict[str, Any]:
    """The Prometheus rule file (``groups:``), one group per desk."""
    a = desk.spec.monitoring.alerts
    rules = []
    for alert in alerts(desk):
        labels = {"severity": alert.severity, "desk": desk.name}
        if alert.service:
            labels["service"] = alert.service
        rules.append(
            {
                "alert": alert.name,
                "expr": alert.expr,
                "for": _duration(alert.for_s),
                "labels": labels,
                "annotations": {
                    "summary": alert.summary,
                    "description": alert.description,
                    "runbook_url": a.runbook_base_url + alert.runbook,
                },
            }
        )
    return {
        "groups": [
            {"name": f"tradingdesk-{desk.name}", "interval": _duration(a.evaluation_interval_seconds), "rules": rules}
        ]
    }


def scrape_tls(*, ca_file: str, cert_file: str, key_file: str, server_name: str = "") -> dict[str, Any]:
    """How Prometheus scrapes a desk whose TLS is on: HTTPS, the desk's CA as trust anchor, and the client
    certificate of ``svc:prometheus`` (the one identity with the scraper role). ``server_name`` when the target
    address is not a name in the services' certificates (pod IPs on Kubernetes)."""
    tls = {"ca_file": ca_file, "cert_file": cert_file, "key_file": key_file}
    if server_name:
        tls["server_name"] = server_name
    return {"scheme": "https", "tls_config": tls}


def scrape_config(desk: TradingDesk, *, host: str = "127.0.0.1", tls: dict[str, Any] | None = None) -> dict[str, Any]:
    """Prometheus scrape job for an embedded desk: each service's /metrics, labelled with desk and service;
    ``tls`` (``scrape_tls``) when the desk's TLS is on."""
    a = desk.spec.monitoring.alerts
    every = _duration(a.scrape_interval_seconds)
    ports = desk.spec.monitoring.metrics_ports()
    return {
        "job_name": f"tradingdesk-{desk.name}",
        "scrape_interval": every,
        "scrape_timeout": every,
        **(tls or {}),
        "static_configs": [
            {"targets": [f"{host}:{ports[name]}"], "labels": {"desk": desk.name, "service": name}}
            for name in SERVICE_NAMES
        ],
    }


def prometheus_config(
    desk: TradingDesk,
    *,
    rule_files: list[str],
    alertmanager: str | None,
    host: str = "127.0.0.1",
    tls: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A whole prometheus.yml for an embedded desk: its scrape job, its rule file, its Alertmanager."""
    a = desk.spec.monitoring.alerts
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": _duration(a.scrape_interval_seconds),
            "evaluation_interval": _duration(a.evaluation_interval_seconds),
        },
        "rule_files": rule_files,
        "scrape_configs": [scrape_config(desk, host=host, tls=tls)],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return config


def receiver_names(desk: TradingDesk) -> dict[str, str]:
    return {CRITICAL: f"{desk.name}-pagerduty", WARNING: f"{desk.name}-notify"}


def routing_key_file(desk: TradingDesk) -> str:
    ref = desk.spec.monitoring.paging.pagerduty_routing_key
    return f"{PAGERDUTY_SECRETS_DIR}/{ref.name}/{ref.key}"


def alertmanager_config(desk: TradingDesk, *, routing_key_file_path: str | None = None) -> dict[str, Any]:
    """Alertmanager's configuration: a tree desk -> severity -> service, inhibitions, and the receivers.

    Critical alerts page through PagerDuty's Events API v2 (Alertmanager sends trigger and resolve with a stable
    dedup_key per group, and retries on 429 and 5xx with backoff); warnings go to the webhook, if any.
    ``routing_key_file_path`` overrides where the PagerDuty routing key is read from (default: where the
    Prometheus Operator mounts the Secret named by ``paging.pagerdutyRoutingKey``).
    """
    paging = desk.spec.monitoring.paging
    names = receiver_names(desk)
    d = desk.name

    def service_routes() -> list[dict[str, Any]]:
        return [{"matchers": [f'service="{s}"'], "group_by": GROUP_BY.get(s, DEFAULT_GROUP_BY)} for s in ROUTE_SERVICES]

    critical = {
        "matchers": [f'severity="{CRITICAL}"'],
        "receiver": names[CRITICAL],
        "group_wait": _duration(paging.critical_group_wait_seconds),
        "group_interval": _duration(paging.critical_group_interval_seconds),
        "routes": service_routes(),
    }
    other = {
        "matchers": [f'severity!="{CRITICAL}"'],
        "receiver": names[WARNING],
        "group_wait": _duration(paging.group_wait_seconds),
        "group_interval": _duration(paging.group_interval_seconds),
        "routes": service_routes(),
    }
    pagerduty = {
        "url": paging.pagerduty_url,
        "routing_key_file": routing_key_file_path or routing_key_file(desk),
        "send_resolved": True,
        "severity": "{{ .CommonLabels.severity }}",
        "client": f"tradingdesk {d}",
        "class": "{{ .CommonLabels.alertname }}",
        "component": "{{ .CommonLabels.service }}",
        "group": d,
        "description": "{{ .CommonAnnotations.summary }}",
        "details": {
            "firing": "{{ .Alerts.Firing | len }}",
            "description": "{{ .CommonAnnotations.description }}",
            "runbook_url": "{{ .CommonAnnotations.runbook_url }}",
        },
    }
    notify: dict[str, Any] = {"name": names[WARNING]}
    if paging.webhook_url:
        notify["webhook_configs"] = [{"url": paging.webhook_url, "send_resolved": True}]
    return {
        "route": {
            "receiver": "unrouted",
            "group_by": DEFAULT_GROUP_BY,
            "routes": [
                {
                    "matchers": [f'desk="{d}"'],
                    "receiver": names[WARNING],
                    "group_by": DEFAULT_GROUP_BY,
                    "repeat_interval": f"{paging.repeat_interval_minutes}m",
                    "routes": [critical, other],
                }
            ],
        },
        "inhibit_rules": inhibit_rules(d),
        "receivers": [{"name": "unrouted"}, {"name": names[CRITICAL], "pagerduty_configs": [pagerduty]}, notify],
    }


def inhibit_rules(desk_name: str) -> list[dict[str, Any]]:
    """Quiet the alerts a bigger one already explains, within one desk."""
    d = f'desk="{desk_name}"'

    def rule(source: list[str], target: list[str], equal: list[str]) -> dict[str, Any]:
        return {"source_matchers": [d, *source], "target_matchers": [d, *target], "equal": equal}

    return [
        # the whole desk is down: its per-service alerts add nothing
        rule(['alertname="DeskDown"'], ['alertname!="DeskDown"'], ["desk"]),
        # a service down explains the desk not being ready
        rule(['alertname="ServiceDown"'], ['alertname="DeskNotReady"'], ["desk"]),
        # every line of a feed down: its line alerts and the stale symbols follow from it
        rule(['alertname="FeedDown"'], ['alertname="FeedLineDown"'], ["desk", "feed"]),
        rule(['alertname="FeedDown"'], ['alertname="StaleSymbols"'], ["desk"]),
        # a halt with a known cause pages by that cause; the generic halt warning is redundant
        rule(
            ['alertname=~"KillSwitchFired|CircuitBreakerOpen|DailyLossLimitBreached|DrawdownLimitBreached"'],
            ['alertname="TradingHalted"'],
            ["desk", "scope"],
        ),
        rule(['alertname="DailyLossLimitBreached"'], ['alertname="DailyLossNearLimit"'], ["desk", "scope"]),
        rule(['alertname="DrawdownLimitBreached"'], ['alertname="DrawdownNearLimit"'], ["desk", "scope"]),
        rule(['alertname="CertificateExpiryImminent"'], ['alertname="CertificateExpiringSoon"'], ["desk", "service"]),
        rule(['alertname="OrderLatencySLOFastBurn"'], ['alertname="OrderLatencySLOSlowBurn"'], ["desk"]),
    ]
