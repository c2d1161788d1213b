from tradingdesk.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryAuditRequest(_message.Message):
    __slots__ = ("order_id", "account", "symbol", "since_ns", "until_ns", "after_seq", "limit", "from_index", "incarnation", "source", "kind")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SINCE_NS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_NS_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FROM_INDEX_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    account: str
    symbol: str
    since_ns: int
    until_ns: int
    after_seq: int
    limit: int
    from_index: int
    incarnation: str
    source: str
    kind: str
    def __init__(self, order_id: _Optional[str] = ..., account: _Optional[str] = ..., symbol: _Optional[str] = ..., since_ns: _Optional[int] = ..., until_ns: _Optional[int] = ..., after_seq: _Optional[int] = ..., limit: _Optional[int] = ..., from_index: _Optional[int] = ..., incarnation: _Optional[str] = ..., source: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("seq", "ts_ns", "kind", "order_id", "account", "symbol", "payload_json", "index", "incarnation", "source", "record")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    seq: int
    ts_ns: int
    kind: str
    order_id: str
    account: str
    symbol: str
    payload_json: str
    index: int
    incarnation: str
    source: str
    record: bytes
    def __init__(self, seq: _Optional[int] = ..., ts_ns: _Optional[int] = ..., kind: _Optional[str] = ..., order_id: _Optional[str] = ..., account: _Optional[str] = ..., symbol: _Optional[str] = ..., payload_json: _Optional[str] = ..., index: _Optional[int] = ..., incarnation: _Optional[str] = ..., source: _Optional[str] = ..., record: _Optional[bytes] = ...) -> None: ...

class QueryAuditResponse(_message.Message):
    __slots__ = ("events", "last_seq", "incarnation")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    last_seq: int
    incarnation: str
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., last_seq: _Optional[int] = ..., incarnation: _Optional[str] = ...) -> None: ...

class SealRequest(_message.Message):
    __slots__ = ("actor", "reason")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    actor: str
    reason: str
    def __init__(self, actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SealResponse(_message.Message):
    __slots__ = ("checkpoint", "tree_size", "root_hash", "journal_seq")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    checkpoint: str
    tree_size: int
    root_hash: bytes
    journal_seq: int
    def __init__(self, checkpoint: _Optional[str] = ..., tree_size: _Optional[int] = ..., root_hash: _Optional[bytes] = ..., journal_seq: _Optional[int] = ...) -> None: ...

class GetCheckpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCheckpointResponse(_message.Message):
    __slots__ = ("checkpoint", "tree_size", "root_hash", "public_key", "log_size", "pending_segments", "bucket", "refusing", "last_upload_error")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    LOG_SIZE_FIELD_NUMBER: _ClassVar[int]
    PENDING_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    REFUSING_FIELD_NUMBER: _ClassVar[int]
    LAST_UPLOAD_ERROR_FIELD_NUMBER: _ClassVar[int]
    checkpoint: str
    tree_size: int
    root_hash: bytes
    public_key: str
    log_size: int
    pending_segments: int
    bucket: str
    refusing: str
    last_upload_error: str
    def __init__(self, checkpoint: _Optional[str] = ..., tree_size: _Optional[int] = ..., root_hash: _Optional[bytes] = ..., public_key: _Optional[str] = ..., log_size: _Optional[int] = ..., pending_segments: _Optional[int] = ..., bucket: _Optional[str] = ..., refusing: _Optional[str] = ..., last_upload_error: _Optional[str] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("index", "journal_seq", "incarnation", "tree_size")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    index: int
    journal_seq: int
    incarnation: str
    tree_size: int
    def __init__(self, index: _Optional[int] = ..., journal_seq: _Optional[int] = ..., incarnation: _Optional[str] = ..., tree_size: _Optional[int] = ...) -> None: ...

class InclusionProof(_message.Message):
    __slots__ = ("index", "tree_size", "hashes", "root_hash", "leaf_hash", "record", "checkpoint")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    index: int
    tree_size: int
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    root_hash: bytes
    leaf_hash: bytes
    record: bytes
    checkpoint: str
    def __init__(self, index: _Optional[int] = ..., tree_size: _Optional[int] = ..., hashes: _Optional[_Iterable[bytes]] = ..., root_hash: _Optional[bytes] = ..., leaf_hash: _Optional[bytes] = ..., record: _Optional[bytes] = ..., checkpoint: _Optional[str] = ...) -> None: ...

class GetConsistencyProofRequest(_message.Message):
    __slots__ = ("old_size", "new_size")
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    old_size: int
    new_size: int
    def __init__(self, old_size: _Optional[int] = ..., new_size: _Optional[int] = ...) -> None: ...

class ConsistencyProof(_message.Message):
    __slots__ = ("old_size", "new_size", "hashes", "old_root_hash", "new_root_hash", "old_checkpoint", "new_checkpoint")
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    OLD_ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    NEW_ROOT_HASH_FIELD_NUMBER: _ClassVar[int]
    OLD_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    NEW_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    old_size: int
    new_size: int
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    old_root_hash: bytes
    new_root_hash: bytes
    old_checkpoint: str
    new_checkpoint: str
    def __init__(self, old_size: _Optional[int] = ..., new_size: _Optional[int] = ..., hashes: _Optional[_Iterable[bytes]] = ..., old_root_hash: _Optional[bytes] = ..., new_root_hash: _Optional[bytes] = ..., old_checkpoint: _Optional[str] = ..., new_checkpoint: _Optional[str] = ...) -> None: ...

class OperatorActionRequest(_message.Message):
    __slots__ = ("actor", "action", "generation", "spec_hash", "detail", "namespace", "desk", "acted_ns", "action_id")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    SPEC_HASH_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    DESK_FIELD_NUMBER: _ClassVar[int]
    ACTED_NS_FIELD_NUMBER: _ClassVar[int]
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    actor: str
    action: str
    generation: int
    spec_hash: str
    detail: str
    namespace: str
    desk: str
    acted_ns: int
    action_id: str
    def __init__(self, actor: _Optional[str] = ..., action: _Optional[str] = ..., generation: _Optional[int] = ..., spec_hash: _Optional[str] = ..., detail: _Optional[str] = ..., namespace: _Optional[str] = ..., desk: _Optional[str] = ..., acted_ns: _Optional[int] = ..., action_id: _Optional[str] = ...) -> None: ...

class AccessDecisionRecord(_message.Message):
    __slots__ = ("ts_ns", "identity", "via", "method", "allowed", "code", "detail", "privileged", "peer", "request_json", "count", "service")
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    PRIVILEGED_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_JSON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ts_ns: int
    identity: str
    via: str
    method: str
    allowed: bool
    code: str
    detail: str
    privileged: bool
    peer: str
    request_json: str
    count: int
    service: str
    def __init__(self, ts_ns: _Optional[int] = ..., identity: _Optional[str] = ..., via: _Optional[str] = ..., method: _Optional[str] = ..., allowed: _Optional[bool] = ..., code: _Optional[str] = ..., detail: _Optional[str] = ..., privileged: _Optional[bool] = ..., peer: _Optional[str] = ..., request_json: _Optional[str] = ..., count: _Optional[int] = ..., service: _Optional[str] = ...) -> None: ...

class RecordAccessRequest(_message.Message):
    __slots__ = ("decisions",)
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[AccessDecisionRecord]
    def __init__(self, decisions: _Optional[_Iterable[_Union[AccessDecisionRecord, _Mapping]]] = ...) -> None: ...

class LineEnabledRecord(_message.Message):
    __slots__ = ("feed", "line", "enabled", "actor", "reason", "door", "peer", "line_state")
    FEED_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DOOR_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    LINE_STATE_FIELD_NUMBER: _ClassVar[int]
    feed: str
    line: str
    enabled: bool
    actor: str
    reason: str
    door: str
    peer: str
    line_state: str
    def __init__(self, feed: _Optional[str] = ..., line: _Optional[str] = ..., enabled: _Optional[bool] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., door: _Optional[str] = ..., peer: _Optional[str] = ..., line_state: _Optional[str] = ...) -> None: ...

class RefusalRecord(_message.Message):
    __slots__ = ("method", "door", "reject_kind", "code", "status", "message", "request_json", "actor", "reason", "peer")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    DOOR_FIELD_NUMBER: _ClassVar[int]
    REJECT_KIND_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_JSON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    method: str
    door: str
    reject_kind: str
    code: str
    status: str
    message: str
    request_json: str
    actor: str
    reason: str
    peer: str
    def __init__(self, method: _Optional[str] = ..., door: _Optional[str] = ..., reject_kind: _Optional[str] = ..., code: _Optional[str] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., request_json: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., peer: _Optional[str] = ...) -> None: ...

class ServiceEventRecord(_message.Message):
    __slots__ = ("ts_ns", "service", "line_enabled", "refused")
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    LINE_ENABLED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    ts_ns: int
    service: str
    line_enabled: LineEnabledRecord
    refused: RefusalRecord
    def __init__(self, ts_ns: _Optional[int] = ..., service: _Optional[str] = ..., line_enabled: _Optional[_Union[LineEnabledRecord, _Mapping]] = ..., refused: _Optional[_Union[RefusalRecord, _Mapping]] = ...) -> None: ...

class RecordServiceEventsRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ServiceEventRecord]
    def __init__(self, events: _Optional[_Iterable[_Union[ServiceEventRecord, _Mapping]]] = ...) -> None: ...

class RecordedResponse(_message.Message):
    __slots__ = ("first_index", "records")
    FIRST_INDEX_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    first_index: int
    records: int
    def __init__(self, first_index: _Optional[int] = ..., records: _Optional[int] = ...) -> None: ...

class ListSurveillanceAlertsRequest(_message.Message):
    __slots__ = ("detector", "account", "symbol", "since_ns", "until_ns", "after_id", "limit")
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SINCE_NS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_NS_FIELD_NUMBER: _ClassVar[int]
    AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    detector: str
    account: str
    symbol: str
    since_ns: int
    until_ns: int
    after_id: int
    limit: int
    def __init__(self, detector: _Optional[str] = ..., account: _Optional[str] = ..., symbol: _Optional[str] = ..., since_ns: _Optional[int] = ..., until_ns: _Optional[int] = ..., after_id: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class SurveillanceAlert(_message.Message):
    __slots__ = ("id", "detector", "ts_ns", "owner", "accounts", "symbol", "order_ids", "summary", "rule", "figures", "recorded_ns", "log_index")
    class FiguresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    ORDER_IDS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    RECORDED_NS_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    id: int
    detector: str
    ts_ns: int
    owner: str
    accounts: _containers.RepeatedScalarFieldContainer[str]
    symbol: str
    order_ids: _containers.RepeatedScalarFieldContainer[str]
    summary: str
    rule: str
    figures: _containers.ScalarMap[str, str]
    recorded_ns: int
    log_index: int
    def __init__(self, id: _Optional[int] = ..., detector: _Optional[str] = ..., ts_ns: _Optional[int] = ..., owner: _Optional[str] = ..., accounts: _Optional[_Iterable[str]] = ..., symbol: _Optional[str] = ..., order_ids: _Optional[_Iterable[str]] = ..., summary: _Optional[str] = ..., rule: _Optional[str] = ..., figures: _Optional[_Mapping[str, str]] = ..., recorded_ns: _Optional[int] = ..., log_index: _Optional[int] = ...) -> None: ...

class ListSurveillanceAlertsResponse(_message.Message):
    __slots__ = ("alerts",)
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[SurveillanceAlert]
    def __init__(self, alerts: _Optional[_Iterable[_Union[SurveillanceAlert, _Mapping]]] = ...) -> None: ...

class GetExecutionQualityRequest(_message.Message):
    __slots__ = ("trade_date", "order_id", "account")
    TRADE_DATE_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    trade_date: str
    order_id: str
    account: str
    def __init__(self, trade_date: _Optional[str] = ..., order_id: _Optional[str] = ..., account: _Optional[str] = ...) -> None: ...

class OrderExecutionQuality(_message.Message):
    __slots__ = ("order_id", "account", "symbol", "side", "venue", "arrival_ns", "end_ns", "quantity", "filled_quantity", "cancelled_quantity", "avg_price", "fees", "arrival_bid", "arrival_ask", "arrival_mid", "end_mid", "execution_cost", "opportunity_cost", "implementation_shortfall", "implementation_shortfall_bps", "interval_vwap", "vs_vwap_bps", "effective_spread", "first_fill_ns")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    FILLED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_BID_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_ASK_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_MID_FIELD_NUMBER: _ClassVar[int]
    END_MID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_COST_FIELD_NUMBER: _ClassVar[int]
    OPPORTUNITY_COST_FIELD_NUMBER: _ClassVar[int]
    IMPLEMENTATION_SHORTFALL_FIELD_NUMBER: _ClassVar[int]
    IMPLEMENTATION_SHORTFALL_BPS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_VWAP_FIELD_NUMBER: _ClassVar[int]
    VS_VWAP_BPS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_SPREAD_FIELD_NUMBER: _ClassVar[int]
    FIRST_FILL_NS_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    account: str
    symbol: str
    side: _common_pb2.Side
    venue: str
    arrival_ns: int
    end_ns: int
    quantity: str
    filled_quantity: str
    cancelled_quantity: str
    avg_price: str
    fees: str
    arrival_bid: str
    arrival_ask: str
    arrival_mid: str
    end_mid: str
    execution_cost: str
    opportunity_cost: str
    implementation_shortfall: str
    implementation_shortfall_bps: str
    interval_vwap: str
    vs_vwap_bps: str
    effective_spread: str
    first_fill_ns: int
    def __init__(self, order_id: _Optional[str] = ..., account: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[_common_pb2.Side, str]] = ..., venue: _Optional[str] = ..., arrival_ns: _Optional[int] = ..., end_ns: _Optional[int] = ..., quantity: _Optional[str] = ..., filled_quantity: _Optional[str] = ..., cancelled_quantity: _Optional[str] = ..., avg_price: _Optional[str] = ..., fees: _Optional[str] = ..., arrival_bid: _Optional[str] = ..., arrival_ask: _Optional[str] = ..., arrival_mid: _Optional[str] = ..., end_mid: _Optional[str] = ..., execution_cost: _Optional[str] = ..., opportunity_cost: _Optional[str] = ..., implementation_shortfall: _Optional[str] = ..., implementation_shortfall_bps: _Optional[str] = ..., interval_vwap: _Optional[str] = ..., vs_vwap_bps: _Optional[str] = ..., effective_spread: _Optional[str] = ..., first_fill_ns: _Optional[int] = ...) -> None: ...

class VenueExecutionQuality(_message.Message):
    __slots__ = ("venue", "orders", "shares_ordered", "shares_executed", "shares_cancelled", "fill_rate_bps", "avg_effective_spread", "avg_quoted_spread", "effective_over_quoted_bps", "shares_price_improved", "avg_price_improvement", "shares_at_quote", "shares_outside_quote", "avg_outside_amount", "avg_time_to_fill_ms")
    VENUE_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    SHARES_ORDERED_FIELD_NUMBER: _ClassVar[int]
    SHARES_EXECUTED_FIELD_NUMBER: _ClassVar[int]
    SHARES_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    FILL_RATE_BPS_FIELD_NUMBER: _ClassVar[int]
    AVG_EFFECTIVE_SPREAD_FIELD_NUMBER: _ClassVar[int]
    AVG_QUOTED_SPREAD_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_OVER_QUOTED_BPS_FIELD_NUMBER: _ClassVar[int]
    SHARES_PRICE_IMPROVED_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_IMPROVEMENT_FIELD_NUMBER: _ClassVar[int]
    SHARES_AT_QUOTE_FIELD_NUMBER: _ClassVar[int]
    SHARES_OUTSIDE_QUOTE_FIELD_NUMBER: _ClassVar[int]
    AVG_OUTSIDE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AVG_TIME_TO_FILL_MS_FIELD_NUMBER: _ClassVar[int]
    venue: str
    orders: int
    shares_ordered: str
    shares_executed: str
    shares_cancelled: str
    fill_rate_bps: str
    avg_effective_spread: str
    avg_quoted_spread: str
    effective_over_quoted_bps: str
    shares_price_improved: str
    avg_price_improvement: str
    shares_at_quote: str
    shares_outside_quote: str
    avg_outside_amount: str
    avg_time_to_fill_ms: int
    def __init__(self, venue: _Optional[str] = ..., orders: _Optional[int] = ..., shares_ordered: _Optional[str] = ..., shares_executed: _Optional[str] = ..., shares_cancelled: _Optional[str] = ..., fill_rate_bps: _Optional[str] = ..., avg_effective_spread: _Optional[str] = ..., avg_quoted_spread: _Optional[str] = ..., effective_over_quoted_bps: _Optional[str] = ..., shares_price_improved: _Optional[str] = ..., avg_price_improvement: _Optional[str] = ..., shares_at_quote: _Optional[str] = ..., shares_outside_quote: _Optional[str] = ..., avg_outside_amount: _Optional[str] = ..., avg_time_to_fill_ms: _Optional[int] = ...) -> None: ...

class ExecutionQualityReport(_message.Message):
    __slots__ = ("trade_date", "orders", "venues")
    TRADE_DATE_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    VENUES_FIELD_NUMBER: _ClassVar[int]
    trade_date: str
    orders: _containers.RepeatedCompositeFieldContainer[OrderExecutionQuality]
    venues: _containers.RepeatedCompositeFieldContainer[VenueExecutionQuality]
    def __init__(self, trade_date: _Optional[str] = ..., orders: _Optional[_Iterable[_Union[OrderExecutionQuality, _Mapping]]] = ..., venues: _Optional[_Iterable[_Union[VenueExecutionQuality, _Mapping]]] = ...) -> None: ...

class ExportCatEventsRequest(_message.Message):
    __slots__ = ("trade_date",)
    TRADE_DATE_FIELD_NUMBER: _ClassVar[int]
    trade_date: str
    def __init__(self, trade_date: _Optional[str] = ...) -> None: ...

class CatRecords(_message.Message):
    __slots__ = ("records_json",)
    RECORDS_JSON_FIELD_NUMBER: _ClassVar[int]
    records_json: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, records_json: _Optional[_Iterable[str]] = ...) -> None: ...
