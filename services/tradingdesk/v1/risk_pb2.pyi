from tradingdesk.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RiskEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_EVENT_KIND_UNSPECIFIED: _ClassVar[RiskEventKind]
    RISK_EVENT_KIND_BREACH: _ClassVar[RiskEventKind]
    RISK_EVENT_KIND_WARNING: _ClassVar[RiskEventKind]
    RISK_EVENT_KIND_STATE_CHANGE: _ClassVar[RiskEventKind]
    RISK_EVENT_KIND_KILL: _ClassVar[RiskEventKind]
    RISK_EVENT_KIND_LATCH: _ClassVar[RiskEventKind]
    RISK_EVENT_KIND_LIMITS_CHANGE: _ClassVar[RiskEventKind]
    RISK_EVENT_KIND_RECOVERED: _ClassVar[RiskEventKind]
    RISK_EVENT_KIND_GATE_CUT_OFF: _ClassVar[RiskEventKind]
RISK_EVENT_KIND_UNSPECIFIED: RiskEventKind
RISK_EVENT_KIND_BREACH: RiskEventKind
RISK_EVENT_KIND_WARNING: RiskEventKind
RISK_EVENT_KIND_STATE_CHANGE: RiskEventKind
RISK_EVENT_KIND_KILL: RiskEventKind
RISK_EVENT_KIND_LATCH: RiskEventKind
RISK_EVENT_KIND_LIMITS_CHANGE: RiskEventKind
RISK_EVENT_KIND_RECOVERED: RiskEventKind
RISK_EVENT_KIND_GATE_CUT_OFF: RiskEventKind

class StreamChangesRequest(_message.Message):
    __slots__ = ("from_seq",)
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    from_seq: int
    def __init__(self, from_seq: _Optional[int] = ...) -> None: ...

class RiskChangeRecord(_message.Message):
    __slots__ = ("seq", "ts_ns", "type", "actor", "reason", "scope", "change_json")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_JSON_FIELD_NUMBER: _ClassVar[int]
    seq: int
    ts_ns: int
    type: str
    actor: str
    reason: str
    scope: str
    change_json: str
    def __init__(self, seq: _Optional[int] = ..., ts_ns: _Optional[int] = ..., type: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., scope: _Optional[str] = ..., change_json: _Optional[str] = ...) -> None: ...

class RiskChanges(_message.Message):
    __slots__ = ("changes", "incarnation", "last_seq")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[RiskChangeRecord]
    incarnation: str
    last_seq: int
    def __init__(self, changes: _Optional[_Iterable[_Union[RiskChangeRecord, _Mapping]]] = ..., incarnation: _Optional[str] = ..., last_seq: _Optional[int] = ...) -> None: ...

class GetLimitsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LimitSet(_message.Message):
    __slots__ = ("max_order_quantity", "max_order_notional", "price_collar_bps", "credit_limit", "max_position_quantity", "max_gross_exposure", "max_net_exposure", "max_symbol_concentration_bps", "max_sector_concentration_bps", "max_submits_per_second", "max_modifies_per_second", "max_cancels_per_second", "max_order_to_trade_ratio", "max_repeated_executions", "max_daily_loss", "max_drawdown", "restricted_symbols", "duplicate_window_ms")
    MAX_ORDER_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MAX_ORDER_NOTIONAL_FIELD_NUMBER: _ClassVar[int]
    PRICE_COLLAR_BPS_FIELD_NUMBER: _ClassVar[int]
    CREDIT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_POSITION_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MAX_GROSS_EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    MAX_NET_EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    MAX_SYMBOL_CONCENTRATION_BPS_FIELD_NUMBER: _ClassVar[int]
    MAX_SECTOR_CONCENTRATION_BPS_FIELD_NUMBER: _ClassVar[int]
    MAX_SUBMITS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    MAX_MODIFIES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    MAX_CANCELS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    MAX_ORDER_TO_TRADE_RATIO_FIELD_NUMBER: _ClassVar[int]
    MAX_REPEATED_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_DAILY_LOSS_FIELD_NUMBER: _ClassVar[int]
    MAX_DRAWDOWN_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_WINDOW_MS_FIELD_NUMBER: _ClassVar[int]
    max_order_quantity: str
    max_order_notional: str
    price_collar_bps: int
    credit_limit: str
    max_position_quantity: str
    max_gross_exposure: str
    max_net_exposure: str
    max_symbol_concentration_bps: int
    max_sector_concentration_bps: int
    max_submits_per_second: int
    max_modifies_per_second: int
    max_cancels_per_second: int
    max_order_to_trade_ratio: int
    max_repeated_executions: int
    max_daily_loss: str
    max_drawdown: str
    restricted_symbols: _containers.RepeatedScalarFieldContainer[str]
    duplicate_window_ms: int
    def __init__(self, max_order_quantity: _Optional[str] = ..., max_order_notional: _Optional[str] = ..., price_collar_bps: _Optional[int] = ..., credit_limit: _Optional[str] = ..., max_position_quantity: _Optional[str] = ..., max_gross_exposure: _Optional[str] = ..., max_net_exposure: _Optional[str] = ..., max_symbol_concentration_bps: _Optional[int] = ..., max_sector_concentration_bps: _Optional[int] = ..., max_submits_per_second: _Optional[int] = ..., max_modifies_per_second: _Optional[int] = ..., max_cancels_per_second: _Optional[int] = ..., max_order_to_trade_ratio: _Optional[int] = ..., max_repeated_executions: _Optional[int] = ..., max_daily_loss: _Optional[str] = ..., max_drawdown: _Optional[str] = ..., restricted_symbols: _Optional[_Iterable[str]] = ..., duplicate_window_ms: _Optional[int] = ...) -> None: ...

class ScopeLimits(_message.Message):
    __slots__ = ("scope", "limits")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    scope: _common_pb2.Scope
    limits: LimitSet
    def __init__(self, scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ..., limits: _Optional[_Union[LimitSet, _Mapping]] = ...) -> None: ...

class Locate(_message.Message):
    __slots__ = ("account", "symbol", "quantity")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    account: str
    symbol: str
    quantity: str
    def __init__(self, account: _Optional[str] = ..., symbol: _Optional[str] = ..., quantity: _Optional[str] = ...) -> None: ...

class CircuitBreakers(_message.Message):
    __slots__ = ("max_consecutive_losses", "max_venue_errors", "venue_error_window_ms", "slippage_spike_bps", "max_slippage_spikes", "slippage_window_ms", "var_sample_ms", "var_window", "var_confidence_pct", "max_var", "max_expected_shortfall")
    MAX_CONSECUTIVE_LOSSES_FIELD_NUMBER: _ClassVar[int]
    MAX_VENUE_ERRORS_FIELD_NUMBER: _ClassVar[int]
    VENUE_ERROR_WINDOW_MS_FIELD_NUMBER: _ClassVar[int]
    SLIPPAGE_SPIKE_BPS_FIELD_NUMBER: _ClassVar[int]
    MAX_SLIPPAGE_SPIKES_FIELD_NUMBER: _ClassVar[int]
    SLIPPAGE_WINDOW_MS_FIELD_NUMBER: _ClassVar[int]
    VAR_SAMPLE_MS_FIELD_NUMBER: _ClassVar[int]
    VAR_WINDOW_FIELD_NUMBER: _ClassVar[int]
    VAR_CONFIDENCE_PCT_FIELD_NUMBER: _ClassVar[int]
    MAX_VAR_FIELD_NUMBER: _ClassVar[int]
    MAX_EXPECTED_SHORTFALL_FIELD_NUMBER: _ClassVar[int]
    max_consecutive_losses: int
    max_venue_errors: int
    venue_error_window_ms: int
    slippage_spike_bps: int
    max_slippage_spikes: int
    slippage_window_ms: int
    var_sample_ms: int
    var_window: int
    var_confidence_pct: int
    max_var: str
    max_expected_shortfall: str
    def __init__(self, max_consecutive_losses: _Optional[int] = ..., max_venue_errors: _Optional[int] = ..., venue_error_window_ms: _Optional[int] = ..., slippage_spike_bps: _Optional[int] = ..., max_slippage_spikes: _Optional[int] = ..., slippage_window_ms: _Optional[int] = ..., var_sample_ms: _Optional[int] = ..., var_window: _Optional[int] = ..., var_confidence_pct: _Optional[int] = ..., max_var: _Optional[str] = ..., max_expected_shortfall: _Optional[str] = ...) -> None: ...

class RiskLimits(_message.Message):
    __slots__ = ("max_order_quantity", "max_order_notional", "price_collar_bps", "restricted_symbols", "max_submits_per_second", "version", "reference_max_age_ms", "desk", "scopes", "order_to_trade_min_messages", "order_to_trade_window_ms", "duplicate_window_ms", "repeated_execution_window_ms", "short_sale_rule", "easy_to_borrow", "locates", "halted_symbols", "luld_band_bps", "luld_low_price_band_bps", "luld_window_ms", "gate_stream_timeout_ms", "breakers")
    MAX_ORDER_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MAX_ORDER_NOTIONAL_FIELD_NUMBER: _ClassVar[int]
    PRICE_COLLAR_BPS_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    MAX_SUBMITS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_MAX_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    DESK_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    ORDER_TO_TRADE_MIN_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    ORDER_TO_TRADE_WINDOW_MS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_WINDOW_MS_FIELD_NUMBER: _ClassVar[int]
    REPEATED_EXECUTION_WINDOW_MS_FIELD_NUMBER: _ClassVar[int]
    SHORT_SALE_RULE_FIELD_NUMBER: _ClassVar[int]
    EASY_TO_BORROW_FIELD_NUMBER: _ClassVar[int]
    LOCATES_FIELD_NUMBER: _ClassVar[int]
    HALTED_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    LULD_BAND_BPS_FIELD_NUMBER: _ClassVar[int]
    LULD_LOW_PRICE_BAND_BPS_FIELD_NUMBER: _ClassVar[int]
    LULD_WINDOW_MS_FIELD_NUMBER: _ClassVar[int]
    GATE_STREAM_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    BREAKERS_FIELD_NUMBER: _ClassVar[int]
    max_order_quantity: str
    max_order_notional: str
    price_collar_bps: int
    restricted_symbols: _containers.RepeatedScalarFieldContainer[str]
    max_submits_per_second: int
    version: int
    reference_max_age_ms: int
    desk: LimitSet
    scopes: _containers.RepeatedCompositeFieldContainer[ScopeLimits]
    order_to_trade_min_messages: int
    order_to_trade_window_ms: int
    duplicate_window_ms: int
    repeated_execution_window_ms: int
    short_sale_rule: bool
    easy_to_borrow: _containers.RepeatedScalarFieldContainer[str]
    locates: _containers.RepeatedCompositeFieldContainer[Locate]
    halted_symbols: _containers.RepeatedScalarFieldContainer[str]
    luld_band_bps: int
    luld_low_price_band_bps: int
    luld_window_ms: int
    gate_stream_timeout_ms: int
    breakers: CircuitBreakers
    def __init__(self, max_order_quantity: _Optional[str] = ..., max_order_notional: _Optional[str] = ..., price_collar_bps: _Optional[int] = ..., restricted_symbols: _Optional[_Iterable[str]] = ..., max_submits_per_second: _Optional[int] = ..., version: _Optional[int] = ..., reference_max_age_ms: _Optional[int] = ..., desk: _Optional[_Union[LimitSet, _Mapping]] = ..., scopes: _Optional[_Iterable[_Union[ScopeLimits, _Mapping]]] = ..., order_to_trade_min_messages: _Optional[int] = ..., order_to_trade_window_ms: _Optional[int] = ..., duplicate_window_ms: _Optional[int] = ..., repeated_execution_window_ms: _Optional[int] = ..., short_sale_rule: _Optional[bool] = ..., easy_to_borrow: _Optional[_Iterable[str]] = ..., locates: _Optional[_Iterable[_Union[Locate, _Mapping]]] = ..., halted_symbols: _Optional[_Iterable[str]] = ..., luld_band_bps: _Optional[int] = ..., luld_low_price_band_bps: _Optional[int] = ..., luld_window_ms: _Optional[int] = ..., gate_stream_timeout_ms: _Optional[int] = ..., breakers: _Optional[_Union[CircuitBreakers, _Mapping]] = ...) -> None: ...

class SetLimitsRequest(_message.Message):
    __slots__ = ("limits", "actor", "reason", "expected_version")
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    limits: RiskLimits
    actor: str
    reason: str
    expected_version: int
    def __init__(self, limits: _Optional[_Union[RiskLimits, _Mapping]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class GetTradingStateRequest(_message.Message):
    __slots__ = ("scope",)
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    scope: _common_pb2.Scope
    def __init__(self, scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ...) -> None: ...

class SetTradingStateRequest(_message.Message):
    __slots__ = ("scope", "state", "actor", "reason")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    scope: _common_pb2.Scope
    state: _common_pb2.TradingState
    actor: str
    reason: str
    def __init__(self, scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ..., state: _Optional[_Union[_common_pb2.TradingState, str]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class TradingStateInfo(_message.Message):
    __slots__ = ("scope", "state", "actor", "reason", "changed_ns", "delivery")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_NS_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    scope: _common_pb2.Scope
    state: _common_pb2.TradingState
    actor: str
    reason: str
    changed_ns: int
    delivery: GateDelivery
    def __init__(self, scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ..., state: _Optional[_Union[_common_pb2.TradingState, str]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., changed_ns: _Optional[int] = ..., delivery: _Optional[_Union[GateDelivery, _Mapping]] = ...) -> None: ...

class GateDelivery(_message.Message):
    __slots__ = ("gates", "applied", "cut_off", "cut_off_gates", "ack_deadline_ms")
    GATES_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    CUT_OFF_FIELD_NUMBER: _ClassVar[int]
    CUT_OFF_GATES_FIELD_NUMBER: _ClassVar[int]
    ACK_DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    gates: int
    applied: int
    cut_off: int
    cut_off_gates: _containers.RepeatedScalarFieldContainer[str]
    ack_deadline_ms: int
    def __init__(self, gates: _Optional[int] = ..., applied: _Optional[int] = ..., cut_off: _Optional[int] = ..., cut_off_gates: _Optional[_Iterable[str]] = ..., ack_deadline_ms: _Optional[int] = ...) -> None: ...

class KillSwitchRequest(_message.Message):
    __slots__ = ("scope", "actor", "reason", "flatten")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FLATTEN_FIELD_NUMBER: _ClassVar[int]
    scope: _common_pb2.Scope
    actor: str
    reason: str
    flatten: bool
    def __init__(self, scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., flatten: _Optional[bool] = ...) -> None: ...

class KillSwitchResponse(_message.Message):
    __slots__ = ("kill_id", "state", "gates")
    KILL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    GATES_FIELD_NUMBER: _ClassVar[int]
    kill_id: str
    state: TradingStateInfo
    gates: int
    def __init__(self, kill_id: _Optional[str] = ..., state: _Optional[_Union[TradingStateInfo, _Mapping]] = ..., gates: _Optional[int] = ...) -> None: ...

class ResumeRequest(_message.Message):
    __slots__ = ("scope", "actor", "reason")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    scope: _common_pb2.Scope
    actor: str
    reason: str
    def __init__(self, scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReleaseLatchRequest(_message.Message):
    __slots__ = ("scope", "actor", "reason")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    scope: _common_pb2.Scope
    actor: str
    reason: str
    def __init__(self, scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReleaseLatchResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: bool
    def __init__(self, released: _Optional[bool] = ...) -> None: ...

class LatchInfo(_message.Message):
    __slots__ = ("scope", "control", "reason", "changed_ns", "actor")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_NS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    scope: _common_pb2.Scope
    control: str
    reason: str
    changed_ns: int
    actor: str
    def __init__(self, scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ..., control: _Optional[str] = ..., reason: _Optional[str] = ..., changed_ns: _Optional[int] = ..., actor: _Optional[str] = ...) -> None: ...

class KillOrder(_message.Message):
    __slots__ = ("kill_id", "scope", "flatten", "actor", "reason", "changed_ns")
    KILL_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    FLATTEN_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_NS_FIELD_NUMBER: _ClassVar[int]
    kill_id: str
    scope: _common_pb2.Scope
    flatten: bool
    actor: str
    reason: str
    changed_ns: int
    def __init__(self, kill_id: _Optional[str] = ..., scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ..., flatten: _Optional[bool] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., changed_ns: _Optional[int] = ...) -> None: ...

class StreamGateUpdatesRequest(_message.Message):
    __slots__ = ("gate_id", "ack_seq")
    GATE_ID_FIELD_NUMBER: _ClassVar[int]
    ACK_SEQ_FIELD_NUMBER: _ClassVar[int]
    gate_id: str
    ack_seq: int
    def __init__(self, gate_id: _Optional[str] = ..., ack_seq: _Optional[int] = ...) -> None: ...

class GateUpdate(_message.Message):
    __slots__ = ("limits", "states", "full", "heartbeat", "kills", "latches", "released", "sent_ns", "seq")
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    KILLS_FIELD_NUMBER: _ClassVar[int]
    LATCHES_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    SENT_NS_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    limits: RiskLimits
    states: _containers.RepeatedCompositeFieldContainer[TradingStateInfo]
    full: bool
    heartbeat: bool
    kills: _containers.RepeatedCompositeFieldContainer[KillOrder]
    latches: _containers.RepeatedCompositeFieldContainer[LatchInfo]
    released: _containers.RepeatedCompositeFieldContainer[LatchInfo]
    sent_ns: int
    seq: int
    def __init__(self, limits: _Optional[_Union[RiskLimits, _Mapping]] = ..., states: _Optional[_Iterable[_Union[TradingStateInfo, _Mapping]]] = ..., full: _Optional[bool] = ..., heartbeat: _Optional[bool] = ..., kills: _Optional[_Iterable[_Union[KillOrder, _Mapping]]] = ..., latches: _Optional[_Iterable[_Union[LatchInfo, _Mapping]]] = ..., released: _Optional[_Iterable[_Union[LatchInfo, _Mapping]]] = ..., sent_ns: _Optional[int] = ..., seq: _Optional[int] = ...) -> None: ...

class StreamRiskEventsRequest(_message.Message):
    __slots__ = ("exclude_warnings", "from_seq")
    EXCLUDE_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    exclude_warnings: bool
    from_seq: int
    def __init__(self, exclude_warnings: _Optional[bool] = ..., from_seq: _Optional[int] = ...) -> None: ...

class RiskEvent(_message.Message):
    __slots__ = ("seq", "ts_ns", "kind", "scope", "metric", "value", "limit", "message", "actor", "state")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    ts_ns: int
    kind: RiskEventKind
    scope: _common_pb2.Scope
    metric: str
    value: str
    limit: str
    message: str
    actor: str
    state: _common_pb2.TradingState
    def __init__(self, seq: _Optional[int] = ..., ts_ns: _Optional[int] = ..., kind: _Optional[_Union[RiskEventKind, str]] = ..., scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ..., metric: _Optional[str] = ..., value: _Optional[str] = ..., limit: _Optional[str] = ..., message: _Optional[str] = ..., actor: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.TradingState, str]] = ...) -> None: ...

class GetRiskSnapshotRequest(_message.Message):
    __slots__ = ("scope",)
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    scope: _common_pb2.Scope
    def __init__(self, scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ...) -> None: ...

class SymbolExposure(_message.Message):
    __slots__ = ("symbol", "sector", "quantity", "mark", "gross", "net")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SECTOR_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MARK_FIELD_NUMBER: _ClassVar[int]
    GROSS_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    sector: str
    quantity: str
    mark: str
    gross: str
    net: str
    def __init__(self, symbol: _Optional[str] = ..., sector: _Optional[str] = ..., quantity: _Optional[str] = ..., mark: _Optional[str] = ..., gross: _Optional[str] = ..., net: _Optional[str] = ...) -> None: ...

class SectorExposure(_message.Message):
    __slots__ = ("sector", "gross", "net")
    SECTOR_FIELD_NUMBER: _ClassVar[int]
    GROSS_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    sector: str
    gross: str
    net: str
    def __init__(self, sector: _Optional[str] = ..., gross: _Optional[str] = ..., net: _Optional[str] = ...) -> None: ...

class RiskSnapshot(_message.Message):
    __slots__ = ("scope", "realized_pnl", "unrealized_pnl", "daily_pnl", "peak_daily_pnl", "drawdown", "gross_exposure", "net_exposure", "open_order_notional", "symbols", "sectors", "var", "expected_shortfall", "var_scenarios", "var_confidence_pct", "state", "journal_seq", "ts_ns")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    REALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    DAILY_PNL_FIELD_NUMBER: _ClassVar[int]
    PEAK_DAILY_PNL_FIELD_NUMBER: _ClassVar[int]
    DRAWDOWN_FIELD_NUMBER: _ClassVar[int]
    GROSS_EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    NET_EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    OPEN_ORDER_NOTIONAL_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    SECTORS_FIELD_NUMBER: _ClassVar[int]
    VAR_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SHORTFALL_FIELD_NUMBER: _ClassVar[int]
    VAR_SCENARIOS_FIELD_NUMBER: _ClassVar[int]
    VAR_CONFIDENCE_PCT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    scope: _common_pb2.Scope
    realized_pnl: str
    unrealized_pnl: str
    daily_pnl: str
    peak_daily_pnl: str
    drawdown: str
    gross_exposure: str
    net_exposure: str
    open_order_notional: str
    symbols: _containers.RepeatedCompositeFieldContainer[SymbolExposure]
    sectors: _containers.RepeatedCompositeFieldContainer[SectorExposure]
    var: float
    expected_shortfall: float
    var_scenarios: int
    var_confidence_pct: int
    state: _common_pb2.TradingState
    journal_seq: int
    ts_ns: int
    def __init__(self, scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ..., realized_pnl: _Optional[str] = ..., unrealized_pnl: _Optional[str] = ..., daily_pnl: _Optional[str] = ..., peak_daily_pnl: _Optional[str] = ..., drawdown: _Optional[str] = ..., gross_exposure: _Optional[str] = ..., net_exposure: _Optional[str] = ..., open_order_notional: _Optional[str] = ..., symbols: _Optional[_Iterable[_Union[SymbolExposure, _Mapping]]] = ..., sectors: _Optional[_Iterable[_Union[SectorExposure, _Mapping]]] = ..., var: _Optional[float] = ..., expected_shortfall: _Optional[float] = ..., var_scenarios: _Optional[int] = ..., var_confidence_pct: _Optional[int] = ..., state: _Optional[_Union[_common_pb2.TradingState, str]] = ..., journal_seq: _Optional[int] = ..., ts_ns: _Optional[int] = ...) -> None: ...

class SuggestPositionSizeRequest(_message.Message):
    __slots__ = ("symbol", "risk_budget", "horizon_seconds")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    RISK_BUDGET_FIELD_NUMBER: _ClassVar[int]
    HORIZON_SECONDS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    risk_budget: str
    horizon_seconds: int
    def __init__(self, symbol: _Optional[str] = ..., risk_budget: _Optional[str] = ..., horizon_seconds: _Optional[int] = ...) -> None: ...

class SuggestPositionSizeResponse(_message.Message):
    __slots__ = ("quantity", "volatility", "horizon_volatility", "price", "samples")
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    HORIZON_VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    quantity: str
    volatility: float
    horizon_volatility: float
    price: str
    samples: int
    def __init__(self, quantity: _Optional[str] = ..., volatility: _Optional[float] = ..., horizon_volatility: _Optional[float] = ..., price: _Optional[str] = ..., samples: _Optional[int] = ...) -> None: ...
