from tradingdesk.v1 import market_data_pb2 as _market_data_pb2
from tradingdesk.v1 import orders_pb2 as _orders_pb2
from tradingdesk.v1 import risk_pb2 as _risk_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetHealthSummaryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServiceHealth(_message.Message):
    __slots__ = ("service", "address", "status", "detail", "checked_ns", "restarts", "last_restart_ns", "clock_offset_ns", "clock_uncertainty_ns", "clock_read")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CHECKED_NS_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    LAST_RESTART_NS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_OFFSET_NS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_UNCERTAINTY_NS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_READ_FIELD_NUMBER: _ClassVar[int]
    service: str
    address: str
    status: str
    detail: str
    checked_ns: int
    restarts: int
    last_restart_ns: int
    clock_offset_ns: int
    clock_uncertainty_ns: int
    clock_read: bool
    def __init__(self, service: _Optional[str] = ..., address: _Optional[str] = ..., status: _Optional[str] = ..., detail: _Optional[str] = ..., checked_ns: _Optional[int] = ..., restarts: _Optional[int] = ..., last_restart_ns: _Optional[int] = ..., clock_offset_ns: _Optional[int] = ..., clock_uncertainty_ns: _Optional[int] = ..., clock_read: _Optional[bool] = ...) -> None: ...

class HealthSummary(_message.Message):
    __slots__ = ("services", "healthy")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[ServiceHealth]
    healthy: bool
    def __init__(self, services: _Optional[_Iterable[_Union[ServiceHealth, _Mapping]]] = ..., healthy: _Optional[bool] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("severity", "include_suppressed")
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    severity: str
    include_suppressed: bool
    def __init__(self, severity: _Optional[str] = ..., include_suppressed: _Optional[bool] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("name", "severity", "service", "summary", "description", "runbook_url", "labels", "starts_ns", "state", "silenced_by", "fingerprint")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RUNBOOK_URL_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    STARTS_NS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SILENCED_BY_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    name: str
    severity: str
    service: str
    summary: str
    description: str
    runbook_url: str
    labels: _containers.ScalarMap[str, str]
    starts_ns: int
    state: str
    silenced_by: _containers.RepeatedScalarFieldContainer[str]
    fingerprint: str
    def __init__(self, name: _Optional[str] = ..., severity: _Optional[str] = ..., service: _Optional[str] = ..., summary: _Optional[str] = ..., description: _Optional[str] = ..., runbook_url: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., starts_ns: _Optional[int] = ..., state: _Optional[str] = ..., silenced_by: _Optional[_Iterable[str]] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts", "source")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    source: str
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., source: _Optional[str] = ...) -> None: ...

class SilenceAlertRequest(_message.Message):
    __slots__ = ("matchers", "duration_s", "author", "comment")
    class MatchersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MATCHERS_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    matchers: _containers.ScalarMap[str, str]
    duration_s: int
    author: str
    comment: str
    def __init__(self, matchers: _Optional[_Mapping[str, str]] = ..., duration_s: _Optional[int] = ..., author: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class Silence(_message.Message):
    __slots__ = ("silence_id", "matchers", "starts_ns", "ends_ns", "author", "comment")
    class MatchersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SILENCE_ID_FIELD_NUMBER: _ClassVar[int]
    MATCHERS_FIELD_NUMBER: _ClassVar[int]
    STARTS_NS_FIELD_NUMBER: _ClassVar[int]
    ENDS_NS_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    silence_id: str
    matchers: _containers.ScalarMap[str, str]
    starts_ns: int
    ends_ns: int
    author: str
    comment: str
    def __init__(self, silence_id: _Optional[str] = ..., matchers: _Optional[_Mapping[str, str]] = ..., starts_ns: _Optional[int] = ..., ends_ns: _Optional[int] = ..., author: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class StreamDeskStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LatencySummary(_message.Message):
    __slots__ = ("name", "p50_ms", "p99_ms", "count", "window_s")
    NAME_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    name: str
    p50_ms: float
    p99_ms: float
    count: int
    window_s: int
    def __init__(self, name: _Optional[str] = ..., p50_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ..., count: _Optional[int] = ..., window_s: _Optional[int] = ...) -> None: ...

class DeskStatus(_message.Message):
    __slots__ = ("desk", "time_ns", "healthy", "services", "trading_states", "feeds", "market_data_serving", "stale_symbols", "risk", "positions", "open_orders", "open_order_count", "alerts", "alert_source", "latencies", "problems", "recent_fills", "venues", "journal", "routing_took_over_ns")
    DESK_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    TRADING_STATES_FIELD_NUMBER: _ClassVar[int]
    FEEDS_FIELD_NUMBER: _ClassVar[int]
    MARKET_DATA_SERVING_FIELD_NUMBER: _ClassVar[int]
    STALE_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    RISK_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    OPEN_ORDERS_FIELD_NUMBER: _ClassVar[int]
    OPEN_ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    ALERT_SOURCE_FIELD_NUMBER: _ClassVar[int]
    LATENCIES_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    RECENT_FILLS_FIELD_NUMBER: _ClassVar[int]
    VENUES_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_FIELD_NUMBER: _ClassVar[int]
    ROUTING_TOOK_OVER_NS_FIELD_NUMBER: _ClassVar[int]
    desk: str
    time_ns: int
    healthy: bool
    services: _containers.RepeatedCompositeFieldContainer[ServiceHealth]
    trading_states: _containers.RepeatedCompositeFieldContainer[ScopeState]
    feeds: _containers.RepeatedCompositeFieldContainer[_market_data_pb2.FeedStatus]
    market_data_serving: bool
    stale_symbols: _containers.RepeatedScalarFieldContainer[str]
    risk: _containers.RepeatedCompositeFieldContainer[_risk_pb2.RiskSnapshot]
    positions: _containers.RepeatedCompositeFieldContainer[_orders_pb2.Position]
    open_orders: _containers.RepeatedCompositeFieldContainer[_orders_pb2.Order]
    open_order_count: int
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    alert_source: str
    latencies: _containers.RepeatedCompositeFieldContainer[LatencySummary]
    problems: _containers.RepeatedScalarFieldContainer[str]
    recent_fills: _containers.RepeatedCompositeFieldContainer[_orders_pb2.ExecutionReport]
    venues: _containers.RepeatedCompositeFieldContainer[_orders_pb2.VenueStatus]
    journal: _orders_pb2.JournalHealth
    routing_took_over_ns: int
    def __init__(self, desk: _Optional[str] = ..., time_ns: _Optional[int] = ..., healthy: _Optional[bool] = ..., services: _Optional[_Iterable[_Union[ServiceHealth, _Mapping]]] = ..., trading_states: _Optional[_Iterable[_Union[ScopeState, _Mapping]]] = ..., feeds: _Optional[_Iterable[_Union[_market_data_pb2.FeedStatus, _Mapping]]] = ..., market_data_serving: _Optional[bool] = ..., stale_symbols: _Optional[_Iterable[str]] = ..., risk: _Optional[_Iterable[_Union[_risk_pb2.RiskSnapshot, _Mapping]]] = ..., positions: _Optional[_Iterable[_Union[_orders_pb2.Position, _Mapping]]] = ..., open_orders: _Optional[_Iterable[_Union[_orders_pb2.Order, _Mapping]]] = ..., open_order_count: _Optional[int] = ..., alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., alert_source: _Optional[str] = ..., latencies: _Optional[_Iterable[_Union[LatencySummary, _Mapping]]] = ..., problems: _Optional[_Iterable[str]] = ..., recent_fills: _Optional[_Iterable[_Union[_orders_pb2.ExecutionReport, _Mapping]]] = ..., venues: _Optional[_Iterable[_Union[_orders_pb2.VenueStatus, _Mapping]]] = ..., journal: _Optional[_Union[_orders_pb2.JournalHealth, _Mapping]] = ..., routing_took_over_ns: _Optional[int] = ...) -> None: ...

class ScopeState(_message.Message):
    __slots__ = ("state", "kill_switch", "cause")
    STATE_FIELD_NUMBER: _ClassVar[int]
    KILL_SWITCH_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    state: _risk_pb2.TradingStateInfo
    kill_switch: bool
    cause: str
    def __init__(self, state: _Optional[_Union[_risk_pb2.TradingStateInfo, _Mapping]] = ..., kill_switch: _Optional[bool] = ..., cause: _Optional[str] = ...) -> None: ...
