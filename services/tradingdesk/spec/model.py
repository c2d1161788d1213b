"""The TradingDesk custom resource as one pydantic model.

The operator renders Kubernetes objects from it, the embedded runtime starts services from it, and the CRD's
OpenAPI schema is generated from it, so the three can never disagree about what a field means. Field
names are camelCase on the wire (Kubernetes convention) and snake_case in Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from tradingdesk.spec.access import AccessSpec
from tradingdesk.spec.base import Model
from tradingdesk.spec.conduct import ConductSpec, ListingSpec
from tradingdesk.spec.monitoring import MonitoringSpec
from tradingdesk.spec.supervision import SupervisionSpec
from tradingdesk.spec.types import DecimalStr, units

API_GROUP = "tradingdesk.io"
API_VERSION = "v1alpha1"
KIND = "TradingDesk"

SERVICE_NAMES = ("feeds", "routing", "risk", "compliance", "monitoring")
DEFAULT_PORTS = {"feeds": 50051, "routing": 50052, "risk": 50053, "compliance": 50054, "monitoring": 50055}

SYMBOL_PATTERN = r"^[A-Z][A-Z0-9.\-]{0,15}$"
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
ACCOUNT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

TradingStateName = Literal["Active", "ReduceOnly", "Halted"]
TimeInForceName = Literal["DAY", "GTC", "IOC", "FOK", "GTD"]


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
    listing: ListingSpec = Field(default_factory=ListingSpec)
    """Where the instrument is listed: the exchange whose calendar governs its session, and its LULD tier."""

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
    outlier_band_bps: int = Field(default=1_000, ge=1, le=100_000)
    """A price this far (in basis points) from the symbol's last accepted price is held, not published."""
    outlier_confirmations: int = Field(default=3, ge=1, le=100)
    """Consecutive updates at a new level that make it the new reference (a real move, not a bad print)."""


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


class SnapshotSpec(Model):
    """Snapshots of a service's state built from the journal (routing's OMS and gate, risk's real-time monitor), so
    a restart replays only the journal after the newest one."""

    every_records: int = Field(default=25_000, ge=0, le=100_000_000)
    """Take a snapshot once this many journal records were written since the last one; 0: never by count. A
    restart replays at most this many records after the snapshot (about 0.5 s for 25,000 on a busy desk)."""
    every_seconds: int = Field(default=600, ge=0, le=86_400)
    """Take a snapshot this often while records are written; 0: never by time. Both 0: no snapshots."""


class RiskSnapshotSpec(SnapshotSpec):
    """Risk's snapshots come more often than routing's: one is small (the monitor's positions and open orders,
    milliseconds to pickle), and a restarted risk service asks routing for every record after the newest, which
    routing reads and sends while it serves orders (docs/architecture.md, Recovery)."""

    every_records: int = Field(default=10_000, ge=0, le=100_000_000)
    """Take a snapshot once this many journal records were written since the last one; 0: never by count. A
    restarted risk service asks routing for at most this many records after it (0.25-0.4 s of routing's time
    for 7,400-10,000 at 100x speed; 28,000 took 1.1-1.3 s, and order acknowledgements ran past a second)."""


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
    venue_ack_timeout_ms: int = Field(default=2_000, ge=50, le=60_000)
    """A new order its venue has not acknowledged within this is cancelled (PENDING_CANCEL, reason on its report)."""
    venue_answers_max_backlog: int = Field(default=1_000, ge=1, le=100_000)
    """Routing takes the next venue answer (acknowledgement, fill, cancel) only while at most this many journal
    records wait to be committed; later answers wait, in order. A new order is acknowledged once every record
    before its own is durable, so this bounds what it waits for when a venue sends thousands of answers at once
    (one that speaks again after a silence): a commit or two of about this many records, not the whole backlog.
    A commit's cost is mostly its fsync, so a smaller bound saves a new order little and slows the backlog down."""
    finished_orders_kept: int = Field(default=10_000, ge=1, le=10_000_000)
    """Finished orders kept in memory, the newest. Older ones are retired: their client order ids stay taken, and
    GetOrder, CancelOrder and a repeated SubmitOrder or ReplaceOrder read them back from the journal; ListOrders
    lists only the orders in memory. Bounds routing's memory and snapshots on a busy day (docs/architecture.md).
    The default is ListOrders' largest page."""
    snapshots: SnapshotSpec = Field(default_factory=SnapshotSpec)
    """Journal snapshots that bound the time a restart takes (docs/architecture.md, Recovery)."""
    outage_spool: bool = False
    """While the journal's database cannot write, keep acknowledging orders from records fsynced to a local spool
    file under the desk's data directory, copied into the journal once the database is back (otherwise new orders
    are refused JOURNAL_UNAVAILABLE for the outage). Needs one routing process that comes back to the same disk:
    the embedded desk with services.routing.replicas 1. On Kubernetes: not yet (refused)."""


def limit_contradictions(values: dict[str, int], name: Callable[[str], str] = str) -> list[tuple[str, str]]:
    """Limits of one scope that contradict each other, as ``(snake_case field, problem)`` pairs.

    Shared by the spec model and ``RiskService.SetLimits``, so a contradiction is refused the same way whichever
    door it comes through. ``values`` holds fixed-point units for amounts and plain ints for counts and basis
    points; 0 means "no limit at this scope". ``name`` spells other fields in the messages (camelCase for the
    spec, snake_case for the API).
    """
    out: list[tuple[str, str]] = []
    gross = values.get("max_gross_exposure", 0)
    for field in ("max_symbol_concentration_bps", "max_sector_concentration_bps"):
        if values.get(field, 0) and not gross:
            out.append((field, f"needs {name('max_gross_exposure')} at the same scope: concentration is a share of it"))
    net = values.get("max_net_exposure", 0)
    if net and gross and net > gross:
        out.append(("max_net_exposure", f"must not exceed {name('max_gross_exposure')} (net is never above gross)"))
    credit, notional = values.get("credit_limit", 0), values.get("max_order_notional", 0)
    if credit and notional and notional > credit:
        out.append(("credit_limit", f"must be at least {name('max_order_notional')}: larger orders could never pass"))
    if values.get("max_repeated_executions", 0) and not values.get("repeated_execution_window_ms", 1):
        out.append(("repeated_execution_window_ms", f"must be > 0 when {name('max_repeated_executions')} is set"))
    if values.get("max_order_to_trade_ratio", 0) and not values.get("order_to_trade_window_s", 1):
        out.append(("order_to_trade_window_s", f"must be > 0 when {name('max_order_to_trade_ratio')} is set"))
    return out


def _camel_problems(model: BaseModel, prefix: str = "") -> list[str]:
    problems = limit_contradictions(_limit_values(model), to_camel)
    return [f"{prefix}{to_camel(field)}: {problem}" for field, problem in problems]


class ScopeLimitFields(Model):
    """Limits every scope can set (desk, account, account+strategy). 0 means no limit at this scope; the
    desk's value applies to everyone, so an account or strategy entry can only tighten it."""

    credit_limit: DecimalStr = Decimal("0")
    """Credit/capital limit: notional of open orders plus the absolute value of positions at the mark
    (SEC 15c3-5 credit threshold). Counted over the scope's own orders and positions."""
    max_position_quantity: DecimalStr = Decimal("0")
    """Largest absolute position in one symbol, counting the open orders on the same side (worst case)."""
    max_gross_exposure: DecimalStr = Decimal("0")
    """Largest sum over symbols of the worst-case absolute position (with open orders) at the mark."""
    max_net_exposure: DecimalStr = Decimal("0")
    """Largest absolute signed sum of positions at the mark, open orders counted on their side."""
    max_symbol_concentration_bps: int = Field(default=0, ge=0, le=10_000)
    """Largest share of maxGrossExposure one symbol's worst-case exposure may take, in basis points."""
    max_sector_concentration_bps: int = Field(default=0, ge=0, le=10_000)
    """Largest share of maxGrossExposure one sector's worst-case exposure may take, in basis points."""
    max_modifies_per_second: int = Field(default=0, ge=0, le=1_000_000)
    """Replace (modify) throttle; counted per account at desk and account scope, per strategy at strategy scope."""
    max_cancels_per_second: int = Field(default=0, ge=0, le=1_000_000)
    """Cancel throttle; counted like the submit throttle. The kill switch is never throttled."""
    max_order_to_trade_ratio: int = Field(default=0, ge=0, le=1_000_000)
    """Most messages (submits, replaces, cancels) per trade in the order-to-trade window (MiFID II RTS 9)."""
    max_repeated_executions: int = Field(default=0, ge=0, le=1_000_000)
    """Fills of one strategy in one symbol within repeatedExecutionWindowMs that latch the strategy off until
    a person re-enables it (FIA repeated automated execution throttle)."""
    max_daily_loss: DecimalStr = Decimal("0")
    """Loss (realized plus unrealized, after fees) since the start of the UTC day that halts the scope."""
    max_drawdown: DecimalStr = Decimal("0")
    """Fall of the day's P&L from its intraday high that halts the scope."""


class ScopeLimitsSpec(ScopeLimitFields):
    """Tighter limits for one account, or one strategy of an account."""

    account: str = Field(pattern=ACCOUNT_PATTERN)
    """Account the limits apply to (one of spec.accounts[].name)."""
    strategy: str = Field(default="", max_length=64)
    """Strategy of the account; empty applies the limits to the whole account."""
    max_order_quantity: DecimalStr = Decimal("0")
    """Largest quantity of one order at this scope (0: the desk's)."""
    max_order_notional: DecimalStr = Decimal("0")
    """Largest price x quantity of one order at this scope (0: the desk's)."""
    price_collar_bps: int = Field(default=0, ge=0, le=10_000)
    """Tighter price collar at this scope, in basis points (0: the desk's)."""
    max_submits_per_second: int = Field(default=0, ge=0, le=1_000_000)
    """Tighter submit throttle at this scope (0: the desk's)."""
    restricted_symbols: list[str] = Field(default_factory=list, max_length=10_000)
    """Symbols this account or strategy may not trade, on top of the desk's restricted list."""
    duplicate_window_ms: int = Field(default=0, ge=0, le=3_600_000)
    """A longer duplicate-order window for this scope (0: the desk's)."""

    @model_validator(mode="after")
    def _consistent(self) -> ScopeLimitsSpec:
        if problems := _camel_problems(self):
            raise ValueError("; ".join(problems))
        return self


class LocateSpec(Model):
    """A borrow located for short sales (SEC Reg SHO Rule 203(b)): how much of a symbol an account may sell short."""

    account: str = Field(pattern=ACCOUNT_PATTERN)
    """Account holding the locate."""
    symbol: str = Field(pattern=SYMBOL_PATTERN)
    """Symbol located."""
    quantity: DecimalStr
    """Shares located: the account's short position plus open short sales may not exceed it."""


class CircuitBreakerSpec(Model):
    """Breakers the risk service trips from the live journal; each halts the scope it concerns. 0 turns one off."""

    max_consecutive_losses: int = Field(default=0, ge=0, le=10_000)
    """Closing fills in a row that realize a loss before the account (or strategy) is halted."""
    max_venue_errors: int = Field(default=0, ge=0, le=1_000_000)
    """Venue rejects within venueErrorWindowSeconds that halt the desk."""
    venue_error_window_seconds: int = Field(default=60, ge=1, le=86_400)
    """Window of the venue-error breaker."""
    slippage_spike_bps: int = Field(default=0, ge=0, le=10_000)
    """A fill this many basis points worse than the mark when its order arrived is a slippage spike."""
    max_slippage_spikes: int = Field(default=3, ge=1, le=10_000)
    """Slippage spikes of one account (or strategy) within slippageWindowSeconds that halt it."""
    slippage_window_seconds: int = Field(default=60, ge=1, le=86_400)
    """Window of the slippage breaker."""


class VarSpec(Model):
    """Intraday value at risk and expected shortfall by historical simulation over the replayed returns."""

    sample_ms: int = Field(default=1_000, ge=10, le=3_600_000)
    """Spacing of the mark samples whose returns form the scenarios."""
    window: int = Field(default=500, ge=20, le=100_000)
    """Number of most recent returns used as scenarios."""
    confidence_pct: int = Field(default=99, ge=50, le=99)
    """Confidence level of VaR and ES, in percent."""
    max_var: DecimalStr = Decimal("0")
    """Desk VaR above which the risk service publishes a breach (and a warning at 80%)."""
    max_expected_shortfall: DecimalStr = Decimal("0")
    """Desk expected shortfall above which the risk service publishes a breach (and a warning at 80%)."""


class RiskSpec(ScopeLimitFields):
    """Pre-trade controls, trading-state plumbing and real-time risk. Every amount is a decimal string; 0 turns a
    control off. docs/risk.md lists each control with its reject code and the regulation it answers."""

    max_order_quantity: DecimalStr = Decimal("100000")
    """Largest quantity of one order."""
    max_order_notional: DecimalStr = Decimal("5000000")
    """Largest price x quantity of one order (market orders use the reference price)."""
    price_collar_bps: int = Field(default=500, ge=1, le=10_000)
    """Farthest a limit price may be from the last trade, in basis points."""
    reference_max_age_ms: int = Field(default=5_000, ge=10, le=3_600_000)
    """A reference price older than this is stale and orders in the symbol are refused."""
    restricted_symbols: list[str] = Field(default_factory=list, max_length=10_000)
    """Symbols nobody may trade."""
    max_submits_per_second: int = Field(default=10_000, ge=1, le=1_000_000)
    """Submit throttle per account."""
    order_to_trade_min_messages: int = Field(default=100, ge=1, le=10_000_000)
    """Messages an account sends in the window before the order-to-trade ratio is enforced."""
    order_to_trade_window_s: int = Field(default=3_600, ge=1, le=86_400)
    """Tumbling window of the order-to-trade ratio, in seconds."""
    duplicate_window_ms: int = Field(default=0, ge=0, le=3_600_000)
    """An order with the same account, strategy, symbol, side, type, quantity and price as one sent within this
    window is refused as a duplicate (0: off)."""
    repeated_execution_window_ms: int = Field(default=1_000, ge=1, le=3_600_000)
    """Window of the repeated-execution throttle."""
    short_sale_rule: bool = True
    """Reg SHO: a sale beyond the long position must be marked SELL_SHORT, and a short sale needs a locate (or
    an easy-to-borrow symbol)."""
    easy_to_borrow: list[str] = Field(default_factory=list, max_length=10_000)
    """Symbols that may be sold short without a specific locate."""
    locates: list[LocateSpec] = Field(default_factory=list, max_length=10_000)
    """Borrows located per account and symbol."""
    halted_symbols: list[str] = Field(default_factory=list, max_length=10_000)
    """Symbols in a regulatory or exchange trading halt: no new orders (halts that market data reports apply
    too, without being listed here)."""
    luld_band_bps: int = Field(default=500, ge=0, le=10_000)
    """Limit Up-Limit Down band around the mean price of luldWindowS for a tier-1 instrument above $3 (tier 2:
    twice it), doubled in the first 15 and the last 25 minutes of the session (0: off)."""
    luld_low_price_band_bps: int = Field(default=2_000, ge=0, le=10_000)
    """LULD band from $0.75 to $3 (below $0.75: the lesser of $0.15 and 75%, as the Plan says)."""
    luld_window_s: int = Field(default=300, ge=1, le=3_600)
    """Window of the LULD reference price (the mean of the trades in it)."""
    gate_stream_timeout_ms: int = Field(default=2_000, ge=100, le=600_000)
    """A routing gate that has not heard from the risk service for this long refuses new orders (fail closed)
    until the stream is back."""
    http_port: int = Field(default=0, ge=0, le=65_535)
    """Port of the HTTP kill switch in the risk service process (0: off). The credential comes from the
    environment variable TD_RISK_HTTP_TOKEN or the file named by TD_RISK_HTTP_TOKEN_FILE."""
    circuit_breakers: CircuitBreakerSpec = Field(default_factory=CircuitBreakerSpec)
    """Breakers on consecutive losses, venue errors and slippage spikes."""
    var: VarSpec = Field(default_factory=VarSpec)
    """Intraday VaR and expected shortfall."""
    snapshots: RiskSnapshotSpec = Field(default_factory=RiskSnapshotSpec)
    """Snapshots of real-time risk's state built from the routing journal, so a restart reads only what follows
    the newest one (docs/architecture.md, Recovery)."""
    scopes: list[ScopeLimitsSpec] = Field(default_factory=list, max_length=10_000)
    """Tighter limits per account or per account and strategy."""

    @model_validator(mode="after")
    def _consistent(self) -> RiskSpec:
        problems = _camel_problems(self)
        seen: set[tuple[str, str]] = set()
        for i, scope in enumerate(self.scopes):
            key = (scope.account, scope.strategy)
            if key in seen:
                problems.append(f"scopes[{i}]: repeats account {scope.account!r} strategy {scope.strategy!r}")
            seen.add(key)
        for field, values in (("easyToBorrow", self.easy_to_borrow), ("haltedSymbols", self.halted_symbols)):
            if dups := _duplicates(values):
                problems.append(f"{field}: must be unique, repeated: {', '.join(dups)}")
        if dups := _duplicates(f"{x.account}/{x.symbol}" for x in self.locates):
            problems.append(f"locates: one entry per account and symbol, repeated: {', '.join(dups)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def cross_check(self, symbols: set[str], accounts: dict[str, frozenset[str]]) -> list[str]:
        """Problems against the rest of the desk (instruments, accounts), as ``spec.risk.<field>: ...``.

        TradingDeskSpec calls this from its cross-field rules; the risk service also runs it at start.
        """
        out: list[str] = []
        for field, values in (("easyToBorrow", self.easy_to_borrow), ("haltedSymbols", self.halted_symbols)):
            for i, symbol in enumerate(values):
                if symbol not in symbols:
                    out.append(f"spec.risk.{field}[{i}]: {symbol!r} is not an instrument of the desk")
        for i, loc in enumerate(self.locates):
            if loc.account not in accounts:
                out.append(f"spec.risk.locates[{i}].account: {loc.account!r} is not an account of the desk")
            if loc.symbol not in symbols:
                out.append(f"spec.risk.locates[{i}].symbol: {loc.symbol!r} is not an instrument of the desk")
        for i, scope in enumerate(self.scopes):
            for j, symbol in enumerate(scope.restricted_symbols):
                if symbol not in symbols:
                    out.append(
                        f"spec.risk.scopes[{i}].restrictedSymbols[{j}]: {symbol!r} is not an instrument of the desk"
                    )
            allowed = accounts.get(scope.account)
            if allowed is None:
                out.append(f"spec.risk.scopes[{i}].account: {scope.account!r} is not an account of the desk")
            elif scope.strategy and allowed and scope.strategy not in allowed:
                out.append(
                    f"spec.risk.scopes[{i}].strategy: {scope.strategy!r} may not trade account {scope.account!r}"
                )
        return out


_LIMIT_AMOUNTS = (
    "credit_limit",
    "max_position_quantity",
    "max_gross_exposure",
    "max_net_exposure",
    "max_daily_loss",
    "max_drawdown",
    "max_order_notional",
)


def _limit_values(model: BaseModel) -> dict[str, int]:
    """A scope's limits as plain ints (units for amounts) for ``limit_contradictions``."""
    values = {name: units(getattr(model, name)) for name in _LIMIT_AMOUNTS}
    for name in (
        "max_symbol_concentration_bps",
        "max_sector_concentration_bps",
        "max_repeated_executions",
        "max_order_to_trade_ratio",
    ):
        values[name] = getattr(model, name)
    values["repeated_execution_window_ms"] = getattr(model, "repeated_execution_window_ms", 1)
    values["order_to_trade_window_s"] = getattr(model, "order_to_trade_window_s", 1)
    return values


class AuditBucketSpec(Model):
    kind: Literal["filesystem", "s3"] = "filesystem"
    """Filesystem (embedded) or S3 with Object Lock (production)."""
    path: str = "var/audit"
    """Directory of a filesystem bucket; the desk's segments go under <path>/<desk name>/."""
    bucket: str = ""
    """S3 bucket name (created with Object Lock if missing); the desk's segments go under <desk name>/."""
    endpoint: str = ""
    """S3 endpoint URL; empty uses the AWS default."""
    retention_days: int = Field(default=2_557, ge=1, le=36_500)
    """Retention of sealed segments (2,557 days = 7 years, SEC 17a-4): S3 Object Lock COMPLIANCE until then,
    on every object and as the bucket's default; never shortened."""

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> AuditBucketSpec:
        if self.kind == "s3" and not self.bucket:
            raise ValueError("bucket: required when kind is s3")
        return self


class AuditCheckpointSpec(Model):
    """How often the audit log is checkpointed: each checkpoint is signed and sealed with its records into the
    audit bucket, whichever of the two limits comes first."""

    every_records: int = Field(default=10_000, ge=1, le=10_000_000)
    """Records not yet sealed that trigger a checkpoint."""
    every_seconds: int = Field(default=60, ge=1, le=86_400)
    """Longest time a record waits for its checkpoint (no checkpoint while nothing new was recorded)."""


class ComplianceSpec(Model):
    audit_bucket: AuditBucketSpec = Field(default_factory=AuditBucketSpec)
    """Where sealed audit segments go."""
    checkpoints: AuditCheckpointSpec = Field(default_factory=AuditCheckpointSpec)
    """Checkpoint cadence of the audit log (docs/audit.md)."""


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


class SecretKeySpec(Model):
    """One key of a Secret in the desk's namespace."""

    name: str = Field(pattern=SECRET_NAME_PATTERN, max_length=253)
    """Name of the Secret."""
    key: str = Field(default="dsn", pattern=r"^[-._a-zA-Z0-9]{1,253}$")
    """Key whose value is used."""


class PostgresSpec(Model):
    """The desk's PostgreSQL database on Kubernetes. Its URL never appears in the spec, the desk's ConfigMap or
    its status: it stays in the Secret, which the operator mounts into the pods that keep state."""

    secret_ref: SecretKeySpec
    """Secret key holding the connection URL, e.g. postgresql://desk:PASSWORD@pg.db.svc:5432/trading."""
    port: int = Field(default=5432, ge=1, le=65_535)
    """Port of the server: the desk's NetworkPolicies open egress to it, and a service refuses a URL that dials
    another port."""


class StorageSpec(Model):
    postgres: PostgresSpec | None = None
    """Where routing's journal, risk's halts and limits and compliance's audit index live on Kubernetes, one
    schema per service (<desk>_<service>). Unset: SQLite files, which the operator accepts only with
    ephemeral: true. The embedded runtime uses SQLite unless TD_DSN or TD_DSN_FILE names a database."""
    ephemeral: bool = False
    """Accept state on the pods' emptyDir, lost whenever a pod moves or restarts: for throwaway desks in tests,
    never for trading."""
    data_dir: str = "var"
    """Directory for local state in the embedded runtime."""


class ResourcesSpec(Model):
    cpu: str = "500m"
    """CPU request (and limit)."""
    memory: str = "512Mi"
    """Memory request (and limit)."""


class ServiceSpec(Model):
    replicas: int = Field(default=1, ge=0, le=16)
    """Pods running this service. The embedded runtime runs one process of each service, and for routing with 2 or
    more a hot standby beside it (PostgreSQL only)."""
    port: int = Field(default=0, ge=0, le=65_535)
    """gRPC port; 0 takes the service's default (50051-50055)."""
    host: str = "127.0.0.1"
    """Address the embedded runtime binds."""
    image: str = ""
    """Container image; empty uses the operator's default image."""
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    """Requests and limits of each pod."""
    startup_grace_seconds: int = Field(default=120, ge=0, le=3_600)
    """After a scale-up, new replicas that are not ready yet count as starting, not as lost, for this long."""
    nice: int | None = Field(default=None, ge=0, le=19)
    """The embedded runtime's CPU priority for this service's processes: a nice value added to the runtime's own
    (0 to 19; higher yields the CPU to the others when the host is busy). Unset: 5 for compliance and monitoring,
    so that on a loaded host the order path (feeds, routing, risk) is served first, and 0 for the others.
    Kubernetes does not use it: there each pod's ``resources`` decide."""


BACKGROUND_SERVICES = ("compliance", "monitoring")
"""The services off the order path: each records or watches what the others did, and none needs the CPU within
milliseconds (compliance catches up from the journal; monitoring's detection bounds are seconds)."""
BACKGROUND_NICENESS = 5
"""Their default ``nice``: a CPU weight about a third of the order path's when both want the CPU (Linux's weights
for nice 0 and 5 are 1024 and 335)."""


class ServicesSpec(Model):
    feeds: ServiceSpec = Field(default_factory=ServiceSpec)
    routing: ServiceSpec = Field(default_factory=ServiceSpec)
    risk: ServiceSpec = Field(default_factory=ServiceSpec)
    compliance: ServiceSpec = Field(default_factory=ServiceSpec)
    monitoring: ServiceSpec = Field(default_factory=ServiceSpec)

    def port_of(self, service: str) -> int:
        return getattr(self, service).port or DEFAULT_PORTS[service]

    def nice_of(self, service: str) -> int:
        """The nice value the embedded runtime runs ``service`` at: its own, or the default for its kind."""
        nice = getattr(self, service).nice
        if nice is not None:
            return nice
        return BACKGROUND_NICENESS if service in BACKGROUND_SERVICES else 0


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
    conduct: ConductSpec = Field(default_factory=ConductSpec)
    """Market conduct: market hours, market-wide circuit breakers, surveillance thresholds, CAT reporting."""
    access: AccessSpec = Field(default_factory=AccessSpec)
    """Mutual TLS, identities with roles and entitlements, rate limits (docs/security.md)."""
    supervision: SupervisionSpec = Field(default_factory=SupervisionSpec)
    """How the embedded runtime restarts crashed services (ignored on Kubernetes, where the kubelet does)."""

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
        if self.routing.outage_spool and self.services.routing.replicas > 1:
            problems.append(
                "spec.routing.outageSpool: needs spec.services.routing.replicas 1 (a routing standby would take over "
                "without the records in the active process's spool)"
            )
        if self.routing.default_venue and self.routing.default_venue not in venue_names:
            problems.append(f"spec.routing.defaultVenue: {self.routing.default_venue!r} is not a venue of the desk")
        ports = {name: self.services.port_of(name) for name in SERVICE_NAMES}
        if dups := _duplicates(str(p) for p in ports.values()):
            problems.append(f"spec.services[].port: must be distinct, repeated: {', '.join(dups)}")
        for field, taken in (
            ("metricsPort", set(self.monitoring.metrics_ports().values())),
            ("dashboardPort", {self.monitoring.dashboard_port} - {0}),
        ):
            if taken & set(ports.values()):
                problems.append(f"spec.monitoring.{field}: collides with a service's gRPC port")
        if self.monitoring.dashboard_port in self.monitoring.metrics_ports().values():
            problems.append("spec.monitoring.dashboardPort: collides with metricsPort + 0..4 (the embedded /metrics)")
        problems += self.risk.cross_check(known, {a.name: frozenset(a.strategies) for a in self.accounts})
        problems += self.conduct.cross_check(known, {a.name for a in self.accounts})
        problems += self.access.cross_check({a.name for a in self.accounts}, set(ports.values()))
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


def clock_source(desk: TradingDesk) -> str:
    """``wall`` or ``replay``: what ``spec.conduct.clock.source`` comes to for this desk (here, in the spec, so that
    the operator, which renders a replay desk's clock origin into its pods, reads it as the services do)."""
    source = desk.spec.conduct.clock.source
    if source == "auto":
        return "replay" if all(f.kind == "replay" for f in desk.spec.feeds) else "wall"
    return source
