from tradingdesk.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetLimitsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RiskLimits(_message.Message):
    __slots__ = ("max_order_quantity", "max_order_notional", "price_collar_bps", "restricted_symbols", "max_submits_per_second", "version", "reference_max_age_ms")
    MAX_ORDER_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MAX_ORDER_NOTIONAL_FIELD_NUMBER: _ClassVar[int]
    PRICE_COLLAR_BPS_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    MAX_SUBMITS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_MAX_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    max_order_quantity: str
    max_order_notional: str
    price_collar_bps: int
    restricted_symbols: _containers.RepeatedScalarFieldContainer[str]
    max_submits_per_second: int
    version: int
    reference_max_age_ms: int
    def __init__(self, max_order_quantity: _Optional[str] = ..., max_order_notional: _Optional[str] = ..., price_collar_bps: _Optional[int] = ..., restricted_symbols: _Optional[_Iterable[str]] = ..., max_submits_per_second: _Optional[int] = ..., version: _Optional[int] = ..., reference_max_age_ms: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("scope", "state", "actor", "reason", "changed_ns")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_NS_FIELD_NUMBER: _ClassVar[int]
    scope: _common_pb2.Scope
    state: _common_pb2.TradingState
    actor: str
    reason: str
    changed_ns: int
    def __init__(self, scope: _Optional[_Union[_common_pb2.Scope, _Mapping]] = ..., state: _Optional[_Union[_common_pb2.TradingState, str]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., changed_ns: _Optional[int] = ...) -> None: ...

class StreamGateUpdatesRequest(_message.Message):
    __slots__ = ("gate_id",)
    GATE_ID_FIELD_NUMBER: _ClassVar[int]
    gate_id: str
    def __init__(self, gate_id: _Optional[str] = ...) -> None: ...

class GateUpdate(_message.Message):
    __slots__ = ("limits", "states", "full")
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    limits: RiskLimits
    states: _containers.RepeatedCompositeFieldContainer[TradingStateInfo]
    full: bool
    def __init__(self, limits: _Optional[_Union[RiskLimits, _Mapping]] = ..., states: _Optional[_Iterable[_Union[TradingStateInfo, _Mapping]]] = ..., full: _Optional[bool] = ...) -> None: ...
