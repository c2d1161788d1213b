from tradingdesk.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VenueFaultMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VENUE_FAULT_MODE_UNSPECIFIED: _ClassVar[VenueFaultMode]
    VENUE_FAULT_MODE_NONE: _ClassVar[VenueFaultMode]
    VENUE_FAULT_MODE_REJECT_ALL: _ClassVar[VenueFaultMode]
    VENUE_FAULT_MODE_AWAY: _ClassVar[VenueFaultMode]
    VENUE_FAULT_MODE_TIMEOUT: _ClassVar[VenueFaultMode]
VENUE_FAULT_MODE_UNSPECIFIED: VenueFaultMode
VENUE_FAULT_MODE_NONE: VenueFaultMode
VENUE_FAULT_MODE_REJECT_ALL: VenueFaultMode
VENUE_FAULT_MODE_AWAY: VenueFaultMode
VENUE_FAULT_MODE_TIMEOUT: VenueFaultMode

class SetVenueFaultRequest(_message.Message):
    __slots__ = ("venue", "mode", "reason", "actor")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    venue: str
    mode: VenueFaultMode
    reason: str
    actor: str
    def __init__(self, venue: _Optional[str] = ..., mode: _Optional[_Union[VenueFaultMode, str]] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class VenueFault(_message.Message):
    __slots__ = ("venue", "mode", "reason", "since_ns")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SINCE_NS_FIELD_NUMBER: _ClassVar[int]
    venue: str
    mode: VenueFaultMode
    reason: str
    since_ns: int
    def __init__(self, venue: _Optional[str] = ..., mode: _Optional[_Union[VenueFaultMode, str]] = ..., reason: _Optional[str] = ..., since_ns: _Optional[int] = ...) -> None: ...

class VenueFaults(_message.Message):
    __slots__ = ("venues",)
    VENUES_FIELD_NUMBER: _ClassVar[int]
    venues: _containers.RepeatedCompositeFieldContainer[VenueFault]
    def __init__(self, venues: _Optional[_Iterable[_Union[VenueFault, _Mapping]]] = ...) -> None: ...

class GetRoutingStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VenueStatus(_message.Message):
    __slots__ = ("venue", "connected", "fault", "rejects", "ack_timeouts", "silent")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    FAULT_FIELD_NUMBER: _ClassVar[int]
    REJECTS_FIELD_NUMBER: _ClassVar[int]
    ACK_TIMEOUTS_FIELD_NUMBER: _ClassVar[int]
    SILENT_FIELD_NUMBER: _ClassVar[int]
    venue: str
    connected: bool
    fault: VenueFaultMode
    rejects: int
    ack_timeouts: int
    silent: bool
    def __init__(self, venue: _Optional[str] = ..., connected: _Optional[bool] = ..., fault: _Optional[_Union[VenueFaultMode, str]] = ..., rejects: _Optional[int] = ..., ack_timeouts: _Optional[int] = ..., silent: _Optional[bool] = ...) -> None: ...

class JournalHealth(_message.Message):
    __slots__ = ("writable", "error", "backlog_records", "write_failures")
    WRITABLE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    BACKLOG_RECORDS_FIELD_NUMBER: _ClassVar[int]
    WRITE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    writable: bool
    error: str
    backlog_records: int
    write_failures: int
    def __init__(self, writable: _Optional[bool] = ..., error: _Optional[str] = ..., backlog_records: _Optional[int] = ..., write_failures: _Optional[int] = ...) -> None: ...

class RoutingStatus(_message.Message):
    __slots__ = ("venues", "journal", "took_over_ns")
    VENUES_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_FIELD_NUMBER: _ClassVar[int]
    TOOK_OVER_NS_FIELD_NUMBER: _ClassVar[int]
    venues: _containers.RepeatedCompositeFieldContainer[VenueStatus]
    journal: JournalHealth
    took_over_ns: int
    def __init__(self, venues: _Optional[_Iterable[_Union[VenueStatus, _Mapping]]] = ..., journal: _Optional[_Union[JournalHealth, _Mapping]] = ..., took_over_ns: _Optional[int] = ...) -> None: ...

class SubmitOrderRequest(_message.Message):
    __slots__ = ("client_order_id", "account", "strategy", "symbol", "side", "order_type", "quantity", "limit_price", "time_in_force", "expire_time_ns", "venue")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    TIME_IN_FORCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    account: str
    strategy: str
    symbol: str
    side: _common_pb2.Side
    order_type: _common_pb2.OrderType
    quantity: str
    limit_price: str
    time_in_force: _common_pb2.TimeInForce
    expire_time_ns: int
    venue: str
    def __init__(self, client_order_id: _Optional[str] = ..., account: _Optional[str] = ..., strategy: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[_common_pb2.Side, str]] = ..., order_type: _Optional[_Union[_common_pb2.OrderType, str]] = ..., quantity: _Optional[str] = ..., limit_price: _Optional[str] = ..., time_in_force: _Optional[_Union[_common_pb2.TimeInForce, str]] = ..., expire_time_ns: _Optional[int] = ..., venue: _Optional[str] = ...) -> None: ...

class CancelOrderRequest(_message.Message):
    __slots__ = ("account", "order_id", "client_order_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    account: str
    order_id: str
    client_order_id: str
    def __init__(self, account: _Optional[str] = ..., order_id: _Optional[str] = ..., client_order_id: _Optional[str] = ...) -> None: ...

class ReplaceOrderRequest(_message.Message):
    __slots__ = ("account", "order_id", "client_order_id", "new_client_order_id", "quantity", "limit_price")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    account: str
    order_id: str
    client_order_id: str
    new_client_order_id: str
    quantity: str
    limit_price: str
    def __init__(self, account: _Optional[str] = ..., order_id: _Optional[str] = ..., client_order_id: _Optional[str] = ..., new_client_order_id: _Optional[str] = ..., quantity: _Optional[str] = ..., limit_price: _Optional[str] = ...) -> None: ...

class OrderAck(_message.Message):
    __slots__ = ("order_id", "client_order_id", "status", "duplicate", "journal_seq", "new_order_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    NEW_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    client_order_id: str
    status: _common_pb2.OrderStatus
    duplicate: bool
    journal_seq: int
    new_order_id: str
    def __init__(self, order_id: _Optional[str] = ..., client_order_id: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.OrderStatus, str]] = ..., duplicate: _Optional[bool] = ..., journal_seq: _Optional[int] = ..., new_order_id: _Optional[str] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("account", "order_id", "client_order_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    account: str
    order_id: str
    client_order_id: str
    def __init__(self, account: _Optional[str] = ..., order_id: _Optional[str] = ..., client_order_id: _Optional[str] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("account", "symbol", "open_only", "limit")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    OPEN_ONLY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    account: str
    symbol: str
    open_only: bool
    limit: int
    def __init__(self, account: _Optional[str] = ..., symbol: _Optional[str] = ..., open_only: _Optional[bool] = ..., limit: _Optional[int] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("order_id", "client_order_id", "account", "strategy", "symbol", "side", "order_type", "quantity", "limit_price", "time_in_force", "expire_time_ns", "status", "cum_quantity", "leaves_quantity", "avg_price", "fees", "venue", "created_ns", "updated_ns", "replaces_order_id", "replaced_by_order_id", "parent_order_id", "text")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    TIME_IN_FORCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CUM_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    CREATED_NS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_NS_FIELD_NUMBER: _ClassVar[int]
    REPLACES_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REPLACED_BY_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    client_order_id: str
    account: str
    strategy: str
    symbol: str
    side: _common_pb2.Side
    order_type: _common_pb2.OrderType
    quantity: str
    limit_price: str
    time_in_force: _common_pb2.TimeInForce
    expire_time_ns: int
    status: _common_pb2.OrderStatus
    cum_quantity: str
    leaves_quantity: str
    avg_price: str
    fees: str
    venue: str
    created_ns: int
    updated_ns: int
    replaces_order_id: str
    replaced_by_order_id: str
    parent_order_id: str
    text: str
    def __init__(self, order_id: _Optional[str] = ..., client_order_id: _Optional[str] = ..., account: _Optional[str] = ..., strategy: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[_common_pb2.Side, str]] = ..., order_type: _Optional[_Union[_common_pb2.OrderType, str]] = ..., quantity: _Optional[str] = ..., limit_price: _Optional[str] = ..., time_in_force: _Optional[_Union[_common_pb2.TimeInForce, str]] = ..., expire_time_ns: _Optional[int] = ..., status: _Optional[_Union[_common_pb2.OrderStatus, str]] = ..., cum_quantity: _Optional[str] = ..., leaves_quantity: _Optional[str] = ..., avg_price: _Optional[str] = ..., fees: _Optional[str] = ..., venue: _Optional[str] = ..., created_ns: _Optional[int] = ..., updated_ns: _Optional[int] = ..., replaces_order_id: _Optional[str] = ..., replaced_by_order_id: _Optional[str] = ..., parent_order_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class StreamExecutionsRequest(_message.Message):
    __slots__ = ("account", "from_seq", "exec_types")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    EXEC_TYPES_FIELD_NUMBER: _ClassVar[int]
    account: str
    from_seq: int
    exec_types: _containers.RepeatedScalarFieldContainer[_common_pb2.ExecType]
    def __init__(self, account: _Optional[str] = ..., from_seq: _Optional[int] = ..., exec_types: _Optional[_Iterable[_Union[_common_pb2.ExecType, str]]] = ...) -> None: ...

class ExecutionReport(_message.Message):
    __slots__ = ("exec_id", "order_id", "client_order_id", "exec_type", "status", "account", "symbol", "side", "last_quantity", "last_price", "cum_quantity", "leaves_quantity", "avg_price", "fee", "venue", "liquidity", "transact_time_ns", "text", "journal_seq", "order_quantity", "limit_price")
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    LAST_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_FIELD_NUMBER: _ClassVar[int]
    CUM_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    LIQUIDITY_FIELD_NUMBER: _ClassVar[int]
    TRANSACT_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    ORDER_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    exec_id: str
    order_id: str
    client_order_id: str
    exec_type: _common_pb2.ExecType
    status: _common_pb2.OrderStatus
    account: str
    symbol: str
    side: _common_pb2.Side
    last_quantity: str
    last_price: str
    cum_quantity: str
    leaves_quantity: str
    avg_price: str
    fee: str
    venue: str
    liquidity: str
    transact_time_ns: int
    text: str
    journal_seq: int
    order_quantity: str
    limit_price: str
    def __init__(self, exec_id: _Optional[str] = ..., order_id: _Optional[str] = ..., client_order_id: _Optional[str] = ..., exec_type: _Optional[_Union[_common_pb2.ExecType, str]] = ..., status: _Optional[_Union[_common_pb2.OrderStatus, str]] = ..., account: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[_common_pb2.Side, str]] = ..., last_quantity: _Optional[str] = ..., last_price: _Optional[str] = ..., cum_quantity: _Optional[str] = ..., leaves_quantity: _Optional[str] = ..., avg_price: _Optional[str] = ..., fee: _Optional[str] = ..., venue: _Optional[str] = ..., liquidity: _Optional[str] = ..., transact_time_ns: _Optional[int] = ..., text: _Optional[str] = ..., journal_seq: _Optional[int] = ..., order_quantity: _Optional[str] = ..., limit_price: _Optional[str] = ...) -> None: ...

class SessionRequest(_message.Message):
    __slots__ = ("submit", "cancel", "replace", "request_id")
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    submit: SubmitOrderRequest
    cancel: CancelOrderRequest
    replace: ReplaceOrderRequest
    request_id: int
    def __init__(self, submit: _Optional[_Union[SubmitOrderRequest, _Mapping]] = ..., cancel: _Optional[_Union[CancelOrderRequest, _Mapping]] = ..., replace: _Optional[_Union[ReplaceOrderRequest, _Mapping]] = ..., request_id: _Optional[int] = ...) -> None: ...

class SessionRequests(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[SessionRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[SessionRequest, _Mapping]]] = ...) -> None: ...

class SessionError(_message.Message):
    __slots__ = ("code", "message", "reject_code")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REJECT_CODE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    reject_code: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., reject_code: _Optional[str] = ...) -> None: ...

class SessionResponse(_message.Message):
    __slots__ = ("request_id", "ack", "error", "execution")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    ack: OrderAck
    error: SessionError
    execution: ExecutionReport
    def __init__(self, request_id: _Optional[int] = ..., ack: _Optional[_Union[OrderAck, _Mapping]] = ..., error: _Optional[_Union[SessionError, _Mapping]] = ..., execution: _Optional[_Union[ExecutionReport, _Mapping]] = ...) -> None: ...

class SessionResponses(_message.Message):
    __slots__ = ("responses",)
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    responses: _containers.RepeatedCompositeFieldContainer[SessionResponse]
    def __init__(self, responses: _Optional[_Iterable[_Union[SessionResponse, _Mapping]]] = ...) -> None: ...

class GetPositionsRequest(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: str
    def __init__(self, account: _Optional[str] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ("account", "symbol", "quantity", "avg_cost", "realized_pnl", "unrealized_pnl", "mark_price", "fees")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AVG_COST_FIELD_NUMBER: _ClassVar[int]
    REALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    UNREALIZED_PNL_FIELD_NUMBER: _ClassVar[int]
    MARK_PRICE_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    account: str
    symbol: str
    quantity: str
    avg_cost: str
    realized_pnl: str
    unrealized_pnl: str
    mark_price: str
    fees: str
    def __init__(self, account: _Optional[str] = ..., symbol: _Optional[str] = ..., quantity: _Optional[str] = ..., avg_cost: _Optional[str] = ..., realized_pnl: _Optional[str] = ..., unrealized_pnl: _Optional[str] = ..., mark_price: _Optional[str] = ..., fees: _Optional[str] = ...) -> None: ...

class GetPositionsResponse(_message.Message):
    __slots__ = ("positions",)
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedCompositeFieldContainer[Position]
    def __init__(self, positions: _Optional[_Iterable[_Union[Position, _Mapping]]] = ...) -> None: ...

class StreamJournalRequest(_message.Message):
    __slots__ = ("from_seq",)
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    from_seq: int
    def __init__(self, from_seq: _Optional[int] = ...) -> None: ...

class JournalEvents(_message.Message):
    __slots__ = ("events", "incarnation", "durable_seq")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    DURABLE_SEQ_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[JournalEvent]
    incarnation: str
    durable_seq: int
    def __init__(self, events: _Optional[_Iterable[_Union[JournalEvent, _Mapping]]] = ..., incarnation: _Optional[str] = ..., durable_seq: _Optional[int] = ...) -> None: ...

class JournalEvent(_message.Message):
    __slots__ = ("seq", "ts_ns", "kind", "order_id", "payload_json", "account", "symbol", "traceparent")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    ts_ns: int
    kind: str
    order_id: str
    payload_json: str
    account: str
    symbol: str
    traceparent: str
    def __init__(self, seq: _Optional[int] = ..., ts_ns: _Optional[int] = ..., kind: _Optional[str] = ..., order_id: _Optional[str] = ..., payload_json: _Optional[str] = ..., account: _Optional[str] = ..., symbol: _Optional[str] = ..., traceparent: _Optional[str] = ...) -> None: ...
