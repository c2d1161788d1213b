"""``spec.monitoring``: metrics, traces, the dashboard, alert rules and paging.

Its own module so the parts SREs tune (thresholds, ``for`` durations, routing) read in one place. The rule file
and the Alertmanager configuration generated from these fields live in ``tradingdesk.spec.alerting``.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, model_validator

from tradingdesk.spec.base import Model
from tradingdesk.spec.types import DecimalStr

# Bucket bounds (seconds) of every latency histogram the desk exports. An SLO threshold must be one of them:
# a histogram can only tell how many observations fell under a bucket bound.
LATENCY_BUCKETS_S = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
SLO_THRESHOLDS_MS = (1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000)
"""The whole-millisecond bounds among LATENCY_BUCKETS_S: the order latency SLO threshold is one of them."""
EMBEDDED_METRICS_OFFSETS = {"feeds": 0, "routing": 1, "risk": 2, "compliance": 3, "monitoring": 4}
"""In the embedded runtime five processes share one host: service ``s`` serves /metrics on metricsPort + offset."""


class AlertsSpec(Model):
    """Thresholds and ``for`` durations of the desk's Prometheus alert rules (docs/monitoring.md lists each alert).

    A ``for`` of 0 fires at the first evaluation that sees the condition. Time to page is about one scrape
    interval, plus ``for``, plus one evaluation interval, plus Alertmanager's group wait."""

    scrape_interval_seconds: int = Field(default=1, ge=1, le=300)
    """How often Prometheus scrapes each service's /metrics (also its scrape timeout)."""
    evaluation_interval_seconds: int = Field(default=1, ge=1, le=300)
    """How often Prometheus evaluates the desk's rules."""
    runbook_base_url: str = Field(
        default="https://github.com/tradingdesk/tradingdesk/blob/main/docs/runbooks/", pattern=r"^https?://\S+/$"
    )
    """Where docs/runbooks/ is published; every alert's runbook_url is this plus the runbook's file name."""
    desk_down_for_seconds: int = Field(default=2, ge=0, le=3_600)
    """Every service of the desk unreachable this long: DeskDown (critical)."""
    service_down_for_seconds: int = Field(default=2, ge=0, le=3_600)
    """One service's /metrics unreachable this long: ServiceDown (critical)."""
    desk_not_ready_for_seconds: int = Field(default=10, ge=0, le=3_600)
    """The monitoring service sees a service not SERVING on gRPC health this long: DeskNotReady (warning)."""
    feed_line_down_for_seconds: int = Field(default=5, ge=0, le=3_600)
    """One line of a feed not live this long: FeedLineDown (warning)."""
    feed_down_for_seconds: int = Field(default=0, ge=0, le=3_600)
    """Every line of a feed down this long (the feed already waited failoverAfterMs): FeedDown (critical)."""
    stale_symbols_for_seconds: int = Field(default=5, ge=0, le=3_600)
    """Symbols stale (orders in them refused) this long: StaleSymbols (warning)."""
    order_latency_slo_ms: int = Field(default=10)
    """Submit-to-acknowledgement target of the order latency SLO, in ms (a histogram bucket bound)."""
    order_latency_objective_percent: DecimalStr = Decimal("99.9")
    """Share of SubmitOrder calls that must answer within orderLatencySloMs; 100 minus it is the error budget."""
    order_latency_fast_burn_rate: DecimalStr = Decimal("14.4")
    """Budget burn rate over 5 m and 1 h that pages (14.4: 2% of a 30-day budget in an hour)."""
    order_latency_slow_burn_rate: DecimalStr = Decimal("6")
    """Budget burn rate over 30 m and 6 h that warns (6: 5% of a 30-day budget in six hours)."""
    reject_rate_percent: int = Field(default=25, ge=1, le=100)
    """Share of order requests refused over 5 minutes that raises RejectRateSpike (warning)."""
    reject_rate_min_per_second: DecimalStr = Decimal("0.2")
    """Order requests per second below which the reject share is not judged (a few refusals are no spike)."""
    reject_rate_for_seconds: int = Field(default=60, ge=0, le=3_600)
    """How long the reject share stays high before RejectRateSpike fires."""
    venue_rejects_per_minute: int = Field(default=10, ge=1, le=1_000_000)
    """New orders one venue rejected within a minute that raise VenueRejecting (warning): a venue refusing
    everything. Below it, the odd reject of a normal day (a price outside the venue's band) stays quiet."""
    trading_halted_for_seconds: int = Field(default=0, ge=0, le=3_600)
    """A scope HALTED this long (by a person, the spec or a breaker): TradingHalted (warning)."""
    loss_near_limit_percent: int = Field(default=80, ge=1, le=99)
    """Daily loss or drawdown at this share of its limit: DailyLossNearLimit / DrawdownNearLimit (warning);
    at 100% DailyLossLimitBreached / DrawdownLimitBreached (critical)."""
    compliance_lag_records: int = Field(default=10_000, ge=1, le=100_000_000)
    """Journal records the compliance mirror may trail routing by before ComplianceLagging (warning)."""
    compliance_lag_for_seconds: int = Field(default=30, ge=0, le=3_600)
    """How long compliance trails by more than complianceLagRecords before ComplianceLagging fires."""
    compliance_refusing_for_seconds: int = Field(default=5, ge=0, le=3_600)
    """Compliance up but NOT_SERVING (it refuses to mirror the journal) this long: ComplianceRefusing (critical)."""
    certificate_expiry_warning_days: int = Field(default=14, ge=1, le=365)
    """A service certificate expiring within this many days: CertificateExpiringSoon (warning)."""
    certificate_expiry_critical_days: int = Field(default=3, ge=1, le=365)
    """A service certificate expiring within this many days: CertificateExpiryImminent (critical)."""

    @model_validator(mode="after")
    def _consistent(self) -> AlertsSpec:
        problems = []
        if self.order_latency_slo_ms not in SLO_THRESHOLDS_MS:
            choices = ", ".join(str(ms) for ms in SLO_THRESHOLDS_MS)
            problems.append(f"orderLatencySloMs: must be a latency bucket bound in ms, one of {choices}")
        if not Decimal("50") <= self.order_latency_objective_percent < Decimal("100"):
            problems.append("orderLatencyObjectivePercent: must be at least 50 and below 100")
        if self.order_latency_slow_burn_rate >= self.order_latency_fast_burn_rate:
            problems.append("orderLatencySlowBurnRate: must be below orderLatencyFastBurnRate")
        if self.certificate_expiry_critical_days >= self.certificate_expiry_warning_days:
            problems.append("certificateExpiryCriticalDays: must be fewer than certificateExpiryWarningDays")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class SecretKeyRef(Model):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    """Secret in the desk's namespace."""
    key: str = Field(pattern=r"^[-._a-zA-Z0-9]{1,253}$")
    """Key of the Secret holding the value."""


class PagingSpec(Model):
    """Alertmanager routing: critical alerts page through PagerDuty (Events API v2), the rest go to a webhook."""

    pagerduty_url: str = Field(default="https://events.pagerduty.com/v2/enqueue", pattern=r"^https?://\S+$")
    """Events API v2 endpoint."""
    pagerduty_routing_key: SecretKeyRef = Field(
        default_factory=lambda: SecretKeyRef(name="pagerduty", key="routingKey")
    )
    """Secret holding the PagerDuty integration's routing key (the infra program creates it). Alertmanager reads
    it from a file: /etc/alertmanager/secrets/<name>/<key>, where the Prometheus Operator mounts the Secrets
    listed in an Alertmanager's spec.secrets."""
    webhook_url: str = Field(default="", pattern=r"^(https?://\S+)?$")
    """Receiver of warning alerts (a chat bridge, a ticketing system); empty drops them after Alertmanager
    (they still show in ListAlerts and on the dashboard)."""
    critical_group_wait_seconds: int = Field(default=0, ge=0, le=3_600)
    """Wait before the first page of a new critical group, to batch alerts of one fault (0: page at once)."""
    critical_group_interval_seconds: int = Field(default=10, ge=1, le=86_400)
    """Wait before paging again about a critical group that changed (new alerts, or all resolved)."""
    group_wait_seconds: int = Field(default=30, ge=0, le=3_600)
    """Group wait of warnings."""
    group_interval_seconds: int = Field(default=300, ge=1, le=86_400)
    """Group interval of warnings."""
    repeat_interval_minutes: int = Field(default=240, ge=1, le=10_080)
    """Re-send a notification still firing after this long."""


class ClockSkewSpec(Model):
    """When a service's desk clock counts as skewed: ClockSkew (critical, docs/runbooks/clock-skew.md).

    The monitoring service reads every service's clock on each health check and compares it with the desk's
    consensus (the median reading), counting only what lies beyond half the read's round trip. The default of
    100 ms catches a host whose NTP failed; it is no proof of MiFID II RTS 25 compliance, which asks trading
    clocks to stay within 1 ms (100 us for high-frequency trading) of UTC, measured against a traceable source
    (PTP or GPS) on each host, not by one service reading another over gRPC."""

    threshold_ms: int = Field(default=100, ge=1, le=60_000)
    """A clock off the desk's consensus by more than this (desk time) raises ClockSkew."""
    for_seconds: int = Field(default=5, ge=0, le=3_600)
    """How long the Prometheus rule waits before ClockSkew fires (the desk's own check fires at once)."""


class MonitoringSpec(Model):
    metrics_port: int = Field(default=9464, ge=0, le=65_535)
    """Port of each service's Prometheus /metrics endpoint (0: no metrics). In the embedded runtime the five
    services share one host, so feeds, routing, risk, compliance and monitoring use metricsPort + 0..4."""
    otlp_endpoint: str = Field(default="", pattern=r"^$|^(https?://)?[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}/?$")
    """OTLP/gRPC collector (host:port or http://host:port) that traces go to; empty turns tracing off."""
    trace_sample_percent: int = Field(default=100, ge=0, le=100)
    """Share of new traces recorded (a call that arrives with a sampled parent is always recorded)."""
    health_check_interval_ms: int = Field(default=1_000, ge=100, le=60_000)
    """How often the monitoring service probes the others and refreshes the desk's status."""
    dashboard_port: int = Field(default=8090, ge=0, le=65_535)
    """Port of the live web dashboard the monitoring service serves (0: none)."""
    alertmanager_url: str = Field(default="", pattern=r"^(https?://\S+)?$")
    """Alertmanager that ListAlerts reads and SilenceAlert writes (e.g. http://alertmanager:9093); empty lists
    the desk's own health checks and refuses silences. TD_ALERTMANAGER_URL overrides it."""
    alerts: AlertsSpec = Field(default_factory=AlertsSpec)
    """Alert rule thresholds and durations."""
    paging: PagingSpec = Field(default_factory=PagingSpec)
    """Alertmanager routing and receivers."""
    clock_skew: ClockSkewSpec = Field(default_factory=ClockSkewSpec)
    """When a service's clock counts as skewed."""

    @model_validator(mode="after")
    def _ports(self) -> MonitoringSpec:
        for name, port in (("metricsPort", self.metrics_port), ("dashboardPort", self.dashboard_port)):
            if 0 < port < 1024:
                raise ValueError(f"{name}: must be 0 (off) or at least 1024")
        if self.metrics_port > 65_535 - len(EMBEDDED_METRICS_OFFSETS):
            raise ValueError(f"metricsPort: at most {65_535 - len(EMBEDDED_METRICS_OFFSETS)} (five ports follow it)")
        return self

    def metrics_ports(self) -> dict[str, int]:
        """The /metrics port of each service in the embedded runtime (a pod uses metricsPort itself)."""
        if not self.metrics_port:
            return {}
        return {name: self.metrics_port + offset for name, offset in EMBEDDED_METRICS_OFFSETS.items()}
