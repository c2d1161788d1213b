"""The TradingDesk custom resource as one pydantic model.

The operator renders Kubernetes objects from it, the embedded runtime starts services from it, and the CRD's
OpenAPI schema is generated from it, so the three can never disagree about what a field means. Field
names are camelCase on the wire (Kubernetes convention) and snake_case in Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from tradingdesk.spec.types import DecimalStr

API_GROUP = "tradingdesk.io"
API_VERSION = "v1alpha1"
KIND = "TradingDesk"

SERVICE_NAMES = ("feeds", "routing", "risk", "compliance", "monitoring")
DEFAULT_PORTS = {"feeds": 50051, "routing": 50052, "risk": 50053, "compliance": 50054, "monitoring": 50055}

SYMBOL_PATTERN = r"^[A-Z][A-Z0-9.\-]{0,15}$"
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
ACCOUNT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"

TradingStateName = Literal["Active", "ReduceOnly", "Halted"]
TimeInForceName = Literal["DAY", "GTC", "IOC", "FOK", "GTD"]


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, use_attribute_docstrings=True
    )


class InstrumentSpec(Model):
    symbol: str = Field(pattern=SYMBOL_PATTERN)
    """Ticker as the desk trades it, e.g. AAPL."""
    tick_size: DecimalStr = Decimal("0.01")
    """Smallest price increment; every limit price must be a multiple of it."""
    lot_size: DecimalStr = Decimal("1")
    """Smallest quantity increment; every order quantity must be a multiple of it."""
    sector: str = Field(default="", max_length=64)
    """Sector for concentration limits and exposure reports."""
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    """ISO 4217 currency of prices."""
    reference_price: DecimalStr = Decimal("100")
    """Opening price used to generate synthetic replay data; never used as a live risk reference."""

    @model_validator(mode="after")
    def _positive_grid(self) -> InstrumentSpec:
        for name, value in (("tickSize", self.tick_size), ("lotSize", self.lot_size)):
            if value <= 0:
                raise ValueError(f"{name} must be > 0")
        return self


class AccountSpec(Model):
    name: str = Field(pattern=ACCOUNT_PATTERN)
    """Account identifier that clients put on orders."""
    strategies: list[str] = Field(default_factory=list, max_length=256)
    """Strategies allowed to trade the account; empty allows any."""


class ReplaySpec(Model):
    path: str = ""
    """Recorded data file (CSV); empty generates a synthetic session from `seed` (documented in docs/feeds.md)."""
    seed: int = Field(default=7, ge=0)
    """Seed of the synthetic session, so every run replays the same prices."""
    speed: DecimalStr = Decimal("1")
    """Replay speed: 1 is real time, 100 is a hundred times faster, 0 is as fast as possible."""
    loop: bool = True
    """Start again from the beginning when the data ends."""
    session_seconds: int = Field(default=23_400, ge=60, le=86_400)
    """Length of a generated session (23,400 s is a US equities day)."""


class FeedLineSpec(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,16}$")
    """Line name, conventionally A and B."""
    url: str = ""
    """WebSocket URL for `websocket` feeds; unused for replay."""


class FeedSpec(Model):
    name: str = Field(pattern=NAME_PATTERN)
    """Vendor feed name."""
    kind: Literal["replay", "websocket"] = "replay"
    """Where the data comes from."""
    lines: list[FeedLineSpec] = Field(default_factory=lambda: [FeedLineSpec(name="A")], min_length=1, max_length=2)
    """One line, or an A/B pair to arbitrate."""
    replay: ReplaySpec = Field(default_factory=ReplaySpec)
    """Replay settings for `replay` feeds."""
    priority: int = Field(default=0, ge=0, le=100)
    """Lower is preferred when several feeds carry a symbol."""
    stale_after_ms: int = Field(default=5_000, ge=10, le=3_600_000)
    """A symbol with no update for this long is stale: orders in it are refused."""
    failover_after_ms: int = Field(default=250, ge=10, le=60_000)
    """A line silent for this long fails over to the other."""


class VenueSpec(Model):
    name: str = Field(pattern=NAME_PATTERN)
    """Venue name, used in routing and reports."""
    kind: Literal["simulated"] = "simulated"
    """Venue adapter; simulated venues match against the desk's market data."""
    latency_us: int = Field(default=150, ge=0, le=10_000_000)
    """One-way latency added to every request and fill."""
    maker_fee_per_unit: DecimalStr = Decimal("0")
    """Fee charged per unit filled passively."""
    maker_rebate_per_unit: DecimalStr = Decimal("0")
    """Rebate paid per unit filled passively (subtracted from the maker fee)."""
    taker_fee_per_unit: DecimalStr = Decimal("0.003")
    """Fee charged per unit filled aggressively."""
    impact_bps: int = Field(default=10, ge=0, le=10_000)
    """Square-root market impact coefficient in basis points."""
    depth_levels: int = Field(default=5, ge=0, le=50)
    """Price levels of liquidity the venue shows beyond the quote."""
    symbols: list[str] = Field(default_factory=list)
    """Symbols the venue trades; empty means all instruments of the desk."""


class RoutingSpec(Model):
    smart_routing: bool = True
    """Route each order to the venue with the best price (fees break ties); off sends all to defaultVenue."""
    default_venue: str = ""
    """Venue used when smart routing is off or finds no price; empty means the first venue."""
    default_time_in_force: TimeInForceName = "DAY"
    """Time in force of orders that do not say."""
    journal_batch_max: int = Field(default=2_000, ge=1, le=100_000)
    """Most journal records written in one group commit."""
    max_open_orders: int = Field(default=100_000, ge=1, le=10_000_000)
    """Open orders the desk accepts at once; more are refused with RESOURCE_EXHAUSTED."""


class RiskSpec(Model):
    max_order_quantity: DecimalStr = Decimal("100000")
    """Largest quantity of one order."""
    max_order_notional: DecimalStr = Decimal("5000000")
    """Largest price x quantity of one order (market orders use the reference price)."""
    price_collar_bps: int = Field(default=500, ge=1, le=10_000)
    """Farthest a limit price may be from the last trade, in basis points."""
    reference_max_age_ms: int = Field(default=5_000, ge=10, le=3_600_000)
    """A reference price older than this is stale and orders in the symbol are refused."""
    restricted_symbols: list[str] = Field(default_factory=list)
    """Symbols nobody may trade."""
    max_submits_per_second: int = Field(default=10_000, ge=1, le=1_000_000)
    """Submit throttle per account."""


class AuditBucketSpec(Model):
    kind: Literal["filesystem", "s3"] = "filesystem"
    """Filesystem (embedded) or S3 with Object Lock (production)."""
    path: str = "var/audit"
    """Directory of a filesystem bucket."""
    bucket: str = ""
    """S3 bucket name."""
    endpoint: str = ""
    """S3 endpoint URL; empty uses the AWS default."""
    retention_days: int = Field(default=2_557, ge=1, le=36_500)
    """Retention of sealed segments (2,557 days = 7 years, SEC 17a-4)."""


class ComplianceSpec(Model):
    audit_bucket: AuditBucketSpec = Field(default_factory=AuditBucketSpec)
    """Where sealed audit segments go."""


class MonitoringSpec(Model):
    metrics_port: int = Field(default=9464, ge=1024, le=65_535)
    """Port of the Prometheus /metrics endpoint."""
    otlp_endpoint: str = ""
    """OpenTelemetry collector endpoint for traces; empty keeps traces in-process."""
    health_check_interval_ms: int = Field(default=1_000, ge=100, le=60_000)
    """How often the monitoring service probes the others."""


class TolerationSpec(Model):
    key: str = ""
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str = ""
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = ""
    toleration_seconds: int | None = None


class PlacementSpec(Model):
    colocation: str = Field(default="", pattern=r"^[a-z0-9\-]{0,32}$")
    """Colocation site whose nodes run the desk (node label tradingdesk.io/colocation)."""
    node_selector: dict[str, str] = Field(default_factory=dict)
    """Extra node labels the desk's pods require."""
    tolerations: list[TolerationSpec] = Field(default_factory=list)
    """Taints of colocated nodes the desk's pods tolerate."""
    anti_affinity: Literal["required", "preferred", "none"] = "required"
    """Whether replicas of one service must run on different nodes."""
    topology_spread: bool = True
    """Spread replicas evenly across nodes of the colocation."""


class StorageSpec(Model):
    dsn: str = ""
    """SQLAlchemy URL of the journal database; empty means SQLite under dataDir."""
    data_dir: str = "var"
    """Directory for local state in the embedded runtime."""


class ResourcesSpec(Model):
    cpu: str = "500m"
    """CPU request (and limit)."""
    memory: str = "512Mi"
    """Memory request (and limit)."""


class ServiceSpec(Model):
    replicas: int = Field(default=1, ge=0, le=16)
    """Pods running this service."""
    port: int = Field(default=0, ge=0, le=65_535)
    """gRPC port; 0 takes the service's default (50051-50055)."""
    host: str = "127.0.0.1"
    """Address the embedded runtime binds."""
    image: str = ""
    """Container image; empty uses the operator's default image."""
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    """Requests and limits of each pod."""


class ServicesSpec(Model):
    feeds: ServiceSpec = Field(default_factory=ServiceSpec)
    routing: ServiceSpec = Field(default_factory=ServiceSpec)
    risk: ServiceSpec = Field(default_factory=ServiceSpec)
    compliance: ServiceSpec = Field(default_factory=ServiceSpec)
    monitoring: ServiceSpec = Field(default_factory=ServiceSpec)

    def port_of(self, service: str) -> int:
        return getattr(self, service).port or DEFAULT_PORTS[service]


def _duplicates(values: Iterable[str]) -> list[str]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


class TradingDeskSpec(Model):
    trading_state: TradingStateName = "Active"
    """Kill switch: Halted blocks new orders and cancels open ones; ReduceOnly admits only reducing orders."""
    instruments: list[InstrumentSpec] = Field(min_length=1, max_length=10_000)
    """What the desk trades."""
    accounts: list[AccountSpec] = Field(min_length=1, max_length=10_000)
    """Accounts clients trade for."""
    feeds: list[FeedSpec] = Field(min_length=1, max_length=16)
    """Market data vendors."""
    venues: list[VenueSpec] = Field(min_length=1, max_length=64)
    """Where orders execute."""
    routing: RoutingSpec = Field(default_factory=RoutingSpec)
    """Order management and routing settings."""
    risk: RiskSpec = Field(default_factory=RiskSpec)
    """Pre-trade limits."""
    compliance: ComplianceSpec = Field(default_factory=ComplianceSpec)
    """Audit trail settings."""
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    """Metrics, traces and health checks."""
    placement: PlacementSpec = Field(default_factory=PlacementSpec)
    """Where the desk's pods run in Kubernetes."""
    storage: StorageSpec = Field(default_factory=StorageSpec)
    """Journal database."""
    services: ServicesSpec = Field(default_factory=ServicesSpec)
    """Per-service replicas, ports, images and resources."""

    @model_validator(mode="after")
    def _cross_field_rules(self) -> TradingDeskSpec:
        symbols = [i.symbol for i in self.instruments]
        known = set(symbols)
        venue_names = [v.name for v in self.venues]
        problems: list[str] = []
        for field, values in (
            ("instruments[].symbol", symbols),
            ("accounts[].name", [a.name for a in self.accounts]),
            ("feeds[].name", [f.name for f in self.feeds]),
            ("venues[].name", venue_names),
        ):
            if dups := _duplicates(values):
                problems.append(f"spec.{field}: must be unique, repeated: {', '.join(dups)}")
        for i, feed in enumerate(self.feeds):
            if dups := _duplicates(line.name for line in feed.lines):
                problems.append(f"spec.feeds[{i}].lines[].name: must be unique, repeated: {', '.join(dups)}")
            if feed.kind == "websocket" and any(not line.url for line in feed.lines):
                problems.append(f"spec.feeds[{i}].lines[].url: required for websocket feeds")
            if feed.replay.speed > 100:
                problems.append(f"spec.feeds[{i}].replay.speed: must be between 0 and 100")
        for i, symbol in enumerate(self.risk.restricted_symbols):
            if symbol not in known:
                problems.append(f"spec.risk.restrictedSymbols[{i}]: {symbol!r} is not an instrument of the desk")
        for i, venue in enumerate(self.venues):
            for j, symbol in enumerate(venue.symbols):
                if symbol not in known:
                    problems.append(f"spec.venues[{i}].symbols[{j}]: {symbol!r} is not an instrument of the desk")
            if venue.maker_rebate_per_unit > venue.taker_fee_per_unit and venue.maker_rebate_per_unit > 0:
                problems.append(
                    f"spec.venues[{i}].makerRebatePerUnit: must not exceed takerFeePerUnit (the venue would pay "
                    "for its own trades)"
                )
        if self.routing.default_venue and self.routing.default_venue not in venue_names:
            problems.append(f"spec.routing.defaultVenue: {self.routing.default_venue!r} is not a venue of the desk")
        ports = {name: self.services.port_of(name) for name in SERVICE_NAMES}
        if dups := _duplicates(str(p) for p in ports.values()):
            problems.append(f"spec.services[].port: must be distinct, repeated: {', '.join(dups)}")
        if self.monitoring.metrics_port in ports.values():
            problems.append("spec.monitoring.metricsPort: collides with a service's gRPC port")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def instrument(self, symbol: str) -> InstrumentSpec | None:
        return next((i for i in self.instruments if i.symbol == symbol), None)


class ObjectMeta(Model):
    name: str = Field(pattern=NAME_PATTERN)
    namespace: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class TradingDesk(Model):
    """A whole desk as written in YAML: the same document for `kubectl apply` and `tradingdesk up`."""

    api_version: Literal["tradingdesk.io/v1alpha1"] = "tradingdesk.io/v1alpha1"
    kind: Literal["TradingDesk"] = "TradingDesk"
    metadata: ObjectMeta
    spec: TradingDeskSpec

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    @property
    def name(self) -> str:
        return self.metadata.name
