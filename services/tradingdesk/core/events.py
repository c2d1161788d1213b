"""The events of the order journal: one frozen dataclass per kind of record.

The order engine decides, then emits one of these; everything that keeps state (the engine's own order book,
the risk gate's exposure, the positions) changes only by applying them, and the journal writer stores them.
Recovery after a restart decodes the journal and applies the same events through the same handlers, so the
live path and the replay cannot drift apart. Risk's real-time monitor and compliance read the same types
(``core/event_codec.py`` turns them into journal payloads and back).

Every order event carries the order's reportable state *after* the change (status, filled quantity, fees...),
so an execution report is built from one event and a consumer never has to remember earlier ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, ClassVar

from tradingdesk.core.enums import TERMINAL_STATUSES, ExecType, OrderStatus, OrderType, Side, TimeInForce, TradingState
from tradingdesk.core.fixed import div
from tradingdesk.core.frozen_build import positional_builder


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTerms:
    """What the order is: fixed for its whole life, so one object is shared by all of its events."""

    order_id: str
    client_order_id: str
    account: str
    strategy: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: int
    price: int  # limit price; 0 for a market order
    tif: TimeInForce
    expire_ns: int
    created_ns: int
    replaces_order_id: str = ""  # set on the order a replace created
    parent_order_id: str = ""
    encoded: dict | None = field(default=None, compare=False, repr=False)
    """The codec's rendering of these fields, kept while the order is being worked (``event_codec`` fills it in
    and drops it when the order rests or ends)."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (a journal snapshot) as its values, without the codec's cache: smaller and faster."""
        return (_terms_from_values, (_terms_values(self),))


_TERMS_FIELDS = tuple(f.name for f in fields(OrderTerms) if f.name != "encoded")
_terms_values = attrgetter(*_TERMS_FIELDS)


_build_terms = positional_builder(OrderTerms)
assert tuple(f.name for f in fields(OrderTerms)) == (*_TERMS_FIELDS, "encoded")  # the cache is the last field


def _terms_from_values(values: tuple[Any, ...]) -> OrderTerms:
    """An unpickled ``OrderTerms`` (a snapshot holds one per order in memory): its values and no codec cache,
    built positionally (``core/frozen_build.py``), three times quicker than ``OrderTerms(**values)``."""
    return _build_terms(*values, None)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent:
    """Something happened to one order. The fields after ``terms`` are the order's state after it."""

    kind: ClassVar[str]
    exec_type: ClassVar[ExecType]

    ts_ns: int
    terms: OrderTerms
    status: OrderStatus
    cum_qty: int = 0
    cum_notional: int = 0
    fees: int = 0
    venue: str = ""
    text: str = ""
    replaced_by_order_id: str = ""

    @property
    def order_id(self) -> str:
        return self.terms.order_id

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL_STATUSES

    @property
    def leaves_qty(self) -> int:
        return self.terms.qty - self.cum_qty if self.status not in TERMINAL_STATUSES else 0

    @property
    def avg_price(self) -> int:
        return div(self.cum_notional, self.cum_qty) if self.cum_qty else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPending(OrderEvent):
    """Accepted by the desk (validated, through the risk gate) and sent to ``venue``; not yet acknowledged."""

    kind = "pending_new"
    exec_type = ExecType.PENDING_NEW
    requested_venue: str = ""  # what the client asked for ("": the router chose); part of idempotency
    reference_ns: int = 0
    """The desk's time (the feeds service's stamp) of the market data the risk gate checked the order's reference
    price against; 0: not known (a reference no feeds service stamped). The evidence ``accepted_against_stale_data``
    judges by (``simulate/market_data.py``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAccepted(OrderEvent):
    """The venue acknowledged the order."""

    kind = "new"
    exec_type = ExecType.NEW


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRejected(OrderEvent):
    """The venue refused the order (``text`` says why)."""

    kind = "rejected"
    exec_type = ExecType.REJECTED


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFilled(OrderEvent):
    """One execution at a venue."""

    kind = "trade"
    exec_type = ExecType.TRADE
    exec_id: str
    last_qty: int
    last_price: int
    fee: int
    liquidity: str  # "M" maker (rested) or "T" taker (crossed)
    fill_venue: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRequested(OrderEvent):
    kind = "pending_cancel"
    exec_type = ExecType.PENDING_CANCEL


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueAckTimedOut(OrderEvent):
    """The venue did not acknowledge the new order within ``routing.venueAckTimeoutMs``: the desk sent it a
    cancel and the order is PENDING_CANCEL (``text`` names the venue and the timeout; ``oms/ack_timeout.py``)."""

    kind = "venue_ack_timeout"
    exec_type = ExecType.PENDING_CANCEL


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCanceled(OrderEvent):
    """Gone from the venue: on request, the kill switch, or an IOC/FOK remainder (``text`` says which)."""

    kind = "canceled"
    exec_type = ExecType.CANCELED


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRejected(OrderEvent):
    kind = "cancel_rejected"
    exec_type = ExecType.CANCEL_REJECTED
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceRequested(OrderEvent):
    """A replace is in flight: until the venue answers, the replacement counts against exposure too."""

    kind = "pending_replace"
    exec_type = ExecType.PENDING_REPLACE
    new_order_id: str
    new_client_order_id: str
    new_qty: int
    new_price: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderReplaced(OrderEvent):
    """The replacement is working. ``terms`` are the new order's; ``terms.replaces_order_id`` names the old one,
    which is REPLACED from here on."""

    kind = "replaced"
    exec_type = ExecType.REPLACED


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceRejected(OrderEvent):
    kind = "replace_rejected"
    exec_type = ExecType.REPLACE_REJECTED
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRestated(OrderEvent):
    """The venue reduced the order on its own (self-match prevention: decrement and cancel). ``terms`` are the
    order's with the reduced quantity (same order id); ``text`` says why."""

    kind = "restated"
    exec_type = ExecType.RESTATED


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderExpired(OrderEvent):
    """A DAY order reached its session's close, or a GTD order its expiry time."""

    kind = "expired"
    exec_type = ExecType.EXPIRED


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskEvent:
    """Something about a scope of the desk rather than one order (no exec type: not an execution)."""

    kind: ClassVar[str]
    ts_ns: int
    account: str = ""  # "" with strategy "": the whole desk
    strategy: str = ""

    @property
    def order_id(self) -> str:
        return ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskLatched(DeskEvent):
    """The repeated-execution throttle latched a scope off until a person re-enables it."""

    kind = "risk_latch"
    symbol: str
    reason: str
    tripped_ns: int
    control: str = "repeated_execution"


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionReport:
    """One position at the moment of an incident."""

    account: str
    symbol: str
    qty: int
    avg_cost: int
    mark: int
    realized_pnl: int
    unrealized_pnl: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Incident(DeskEvent):
    """A scope went HALTED: what was cancelled, the positions and P&L at that moment, who and why."""

    kind = "incident"
    actor: str
    reason: str
    state_changed_ns: int  # the trading state change this report answers (one report per change)
    kill_id: str = ""
    open_orders: int = 0
    cancelled: tuple[str, ...] = ()
    positions: tuple[PositionReport, ...] = ()
    realized_pnl: int = 0
    unrealized_pnl: int = 0
    flatten: bool = False
    flatten_orders: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """A request the desk refused, as the audit trail keeps it: what was asked, through which door, and the
    answer. ``request`` holds the request's fields as the client sent them (strings cut to a bounded length), so
    a refusal of a malformed request is on record too; ``account`` and ``strategy`` (of the event carrying it)
    are set only when they name ones the desk has."""

    method: str  # SubmitOrder, CancelOrder, ReplaceOrder, KillSwitch, SetLimits, POST /v1/kill, ...
    door: str  # unary, session (routing); grpc, cli, operator, http (risk)
    reject_kind: str  # core.reject.RejectKind value: invalid, refused, throttled, ...
    code: str  # the stable reject code clients switch on (PRICE_COLLAR, INVALID_ARGUMENT, ...)
    status: str  # what the client was answered: a gRPC status name, or an HTTP status
    message: str
    request: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessDecision:
    """One access decision: who called what, how they proved it, and whether the desk let them. The security
    layer reports every denied and every privileged call this way (``audit.access.AccessAudit``); ``count``
    folds a flood of identical denials into one record."""

    ts_ns: int
    identity: str  # who called ("anonymous" when nothing could be verified)
    via: str  # certificate, token, jwt or none
    method: str  # the RPC (/tradingdesk.v1.RiskService/KillSwitch) or HTTP route (POST /v1/kill)
    allowed: bool
    code: str  # the status answered: OK, PERMISSION_DENIED, UNAUTHENTICATED, RESOURCE_EXHAUSTED, ...
    detail: str = ""
    privileged: bool = False
    peer: str = ""
    request: Mapping[str, Any] = field(default_factory=dict)  # scope, actor and reason; never a credential
    count: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRefused(DeskEvent):
    """Routing refused a client's order request (unary or in a session); nothing changed. Journaled only for
    the audit trail: no handler changes state for it."""

    kind = "refused"
    refusal: Refusal
    symbol: str = ""  # the request's symbol, when it is one of the desk's


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedSwitched(DeskEvent):
    """A feed's active line changed (a failover, or the failback to the preferred line), as routing heard it
    from the feeds service: the desk's record of which line its market data came from."""

    kind = "feed_switch"
    feed: str
    from_line: str
    to_line: str
    reason: str
    failback: bool
    took_ns: int  # failover: from the old line's last sign of life to the switch
    switched_ns: int  # when the feeds service switched (ts_ns is when routing journaled it)


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueFaultSet(DeskEvent):
    """An operator switched a simulated venue's fault (``venues/faults.py``) on or off. Replayed after a restart,
    so a venue stays faulted until someone sets it back to ``none``."""

    kind = "venue_fault"
    venue: str
    mode: str  # VenueFaultMode value: none, reject_all, away, timeout
    reason: str
    actor: str
    door: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRecorded(DeskEvent):
    """An access decision about a call to routing, journaled for the audit trail."""

    kind = "access"
    decision: AccessDecision


JournalEvent = OrderEvent | DeskEvent

ORDER_EVENTS: tuple[type[OrderEvent], ...] = (
    OrderPending,
    OrderAccepted,
    OrderRejected,
    OrderFilled,
    CancelRequested,
    OrderCanceled,
    CancelRejected,
    ReplaceRequested,
    OrderReplaced,
    ReplaceRejected,
    OrderExpired,
    OrderRestated,
    VenueAckTimedOut,
)
DESK_EVENTS: tuple[type[DeskEvent], ...] = (
    RiskLatched,
    Incident,
    RequestRefused,
    FeedSwitched,
    VenueFaultSet,
    AccessRecorded,
)


# -- the risk service's change journal: who changed what, when, why, and through which door -------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class RiskChange:
    """A decision of the risk service, journaled before anyone hears of it; restored from at start."""

    type: ClassVar[str]
    ts_ns: int
    actor: str
    reason: str
    account: str = ""  # "" with strategy "": the whole desk
    strategy: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingStateChanged(RiskChange):
    """A scope's trading state changed (a person, the spec, a breaker, or the kill switch with ``kill_id``)."""

    type = "trading_state"
    state: TradingState
    kill_id: str = ""
    flatten: bool = False
    door: str = ""  # grpc, cli, operator, http, risk (a breaker) or spec


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitsChanged(RiskChange):
    """The desk's limits changed (``SetLimits``, or the spec's risk section changed since the last start)."""

    type = "limits"
    version: int
    spec_hash: str
    limits: Mapping[str, Any]  # the limits in their API form (RiskLimits as JSON, snake_case names)
    door: str = ""  # grpc, cli, operator or spec


@dataclass(frozen=True, slots=True, kw_only=True)
class LatchReleased(RiskChange):
    """A person re-enabled a scope the repeated-execution throttle had latched off."""

    type = "latch_release"
    control: str = "repeated_execution"
    door: str = ""  # grpc, cli or operator


@dataclass(frozen=True, slots=True, kw_only=True)
class BreachHalted(RiskChange):
    """A breach of ``metric`` halted the scope (once per scope, metric and day)."""

    type = "breach"
    metric: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeRefused(RiskChange):
    """The risk service refused a request to change something (``actor`` and ``reason`` as the request gave
    them); nothing changed. Journaled for the audit trail; restoring skips it."""

    type = "refused"
    refusal: Refusal


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeAccess(RiskChange):
    """An access decision about a call to the risk service (``actor`` is the caller's identity)."""

    type = "access"
    decision: AccessDecision


RISK_CHANGES: tuple[type[RiskChange], ...] = (
    TradingStateChanged,
    LimitsChanged,
    LatchReleased,
    BreachHalted,
    ChangeRefused,
    ChangeAccess,
)
