from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SymbolStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SYMBOL_STATUS_UNSPECIFIED: _ClassVar[SymbolStatus]
    SYMBOL_STATUS_TRADING: _ClassVar[SymbolStatus]
    SYMBOL_STATUS_HALTED: _ClassVar[SymbolStatus]
    SYMBOL_STATUS_PAUSED: _ClassVar[SymbolStatus]

class FeedHealth(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEED_HEALTH_UNSPECIFIED: _ClassVar[FeedHealth]
    FEED_HEALTH_LIVE: _ClassVar[FeedHealth]
    FEED_HEALTH_DEGRADED: _ClassVar[FeedHealth]
    FEED_HEALTH_DOWN: _ClassVar[FeedHealth]

class LineState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINE_STATE_UNSPECIFIED: _ClassVar[LineState]
    LINE_STATE_LIVE: _ClassVar[LineState]
    LINE_STATE_LAGGING: _ClassVar[LineState]
    LINE_STATE_SILENT: _ClassVar[LineState]
    LINE_STATE_DOWN: _ClassVar[LineState]
    LINE_STATE_DISABLED: _ClassVar[LineState]
SYMBOL_STATUS_UNSPECIFIED: SymbolStatus
SYMBOL_STATUS_TRADING: SymbolStatus
SYMBOL_STATUS_HALTED: SymbolStatus
SYMBOL_STATUS_PAUSED: SymbolStatus
FEED_HEALTH_UNSPECIFIED: FeedHealth
FEED_HEALTH_LIVE: FeedHealth
FEED_HEALTH_DEGRADED: FeedHealth
FEED_HEALTH_DOWN: FeedHealth
LINE_STATE_UNSPECIFIED: LineState
LINE_STATE_LIVE: LineState
LINE_STATE_LAGGING: LineState
LINE_STATE_SILENT: LineState
LINE_STATE_DOWN: LineState
LINE_STATE_DISABLED: LineState

class StreamLineSwitchesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FeedLineSwitch(_message.Message):
    __slots__ = ("feed", "line_switch", "history")
    FEED_FIELD_NUMBER: _ClassVar[int]
    LINE_SWITCH_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    feed: str
    line_switch: LineSwitch
    history: bool
    def __init__(self, feed: _Optional[str] = ..., line_switch: _Optional[_Union[LineSwitch, _Mapping]] = ..., history: _Optional[bool] = ...) -> None: ...

class GetQuoteRequest(_message.Message):
    __slots__ = ("symbol",)
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    def __init__(self, symbol: _Optional[str] = ...) -> None: ...

class GetSnapshotRequest(_message.Message):
    __slots__ = ("symbols",)
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbols: _Optional[_Iterable[str]] = ...) -> None: ...

class Quote(_message.Message):
    __slots__ = ("symbol", "bid_price", "bid_quantity", "ask_price", "ask_quantity", "last_price", "last_quantity", "seq", "vendor_time_ns", "receive_time_ns", "feed", "stale", "status", "status_reason")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    BID_PRICE_FIELD_NUMBER: _ClassVar[int]
    BID_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ASK_PRICE_FIELD_NUMBER: _ClassVar[int]
    ASK_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_FIELD_NUMBER: _ClassVar[int]
    LAST_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    VENDOR_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    RECEIVE_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    bid_price: str
    bid_quantity: str
    ask_price: str
    ask_quantity: str
    last_price: str
    last_quantity: str
    seq: int
    vendor_time_ns: int
    receive_time_ns: int
    feed: str
    stale: bool
    status: SymbolStatus
    status_reason: str
    def __init__(self, symbol: _Optional[str] = ..., bid_price: _Optional[str] = ..., bid_quantity: _Optional[str] = ..., ask_price: _Optional[str] = ..., ask_quantity: _Optional[str] = ..., last_price: _Optional[str] = ..., last_quantity: _Optional[str] = ..., seq: _Optional[int] = ..., vendor_time_ns: _Optional[int] = ..., receive_time_ns: _Optional[int] = ..., feed: _Optional[str] = ..., stale: _Optional[bool] = ..., status: _Optional[_Union[SymbolStatus, str]] = ..., status_reason: _Optional[str] = ...) -> None: ...

class TradingStatus(_message.Message):
    __slots__ = ("symbol", "status", "reason", "seq", "vendor_time_ns", "feed")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    VENDOR_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    status: SymbolStatus
    reason: str
    seq: int
    vendor_time_ns: int
    feed: str
    def __init__(self, symbol: _Optional[str] = ..., status: _Optional[_Union[SymbolStatus, str]] = ..., reason: _Optional[str] = ..., seq: _Optional[int] = ..., vendor_time_ns: _Optional[int] = ..., feed: _Optional[str] = ...) -> None: ...

class Trade(_message.Message):
    __slots__ = ("symbol", "price", "quantity", "seq", "vendor_time_ns", "feed")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    VENDOR_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    FEED_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    price: str
    quantity: str
    seq: int
    vendor_time_ns: int
    feed: str
    def __init__(self, symbol: _Optional[str] = ..., price: _Optional[str] = ..., quantity: _Optional[str] = ..., seq: _Optional[int] = ..., vendor_time_ns: _Optional[int] = ..., feed: _Optional[str] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("quotes",)
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    quotes: _containers.RepeatedCompositeFieldContainer[Quote]
    def __init__(self, quotes: _Optional[_Iterable[_Union[Quote, _Mapping]]] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("symbols",)
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbols: _Optional[_Iterable[str]] = ...) -> None: ...

class MarketDataEvent(_message.Message):
    __slots__ = ("quote", "trade", "status", "snapshot", "desk_time_ns")
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    TRADE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    DESK_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    trade: Trade
    status: TradingStatus
    snapshot: bool
    desk_time_ns: int
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ..., trade: _Optional[_Union[Trade, _Mapping]] = ..., status: _Optional[_Union[TradingStatus, _Mapping]] = ..., snapshot: _Optional[bool] = ..., desk_time_ns: _Optional[int] = ...) -> None: ...

class MarketDataBatch(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[MarketDataEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[MarketDataEvent, _Mapping]]] = ...) -> None: ...

class GetFeedStatusRequest(_message.Message):
    __slots__ = ("feeds",)
    FEEDS_FIELD_NUMBER: _ClassVar[int]
    feeds: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, feeds: _Optional[_Iterable[str]] = ...) -> None: ...

class LineStatus(_message.Message):
    __slots__ = ("name", "state", "active", "last_seq", "lag_ms", "silent_ms", "received", "first_copies", "heartbeats", "malformed", "out_of_order", "duplicates", "disconnects", "detail", "last_malformed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAG_MS_FIELD_NUMBER: _ClassVar[int]
    SILENT_MS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    FIRST_COPIES_FIELD_NUMBER: _ClassVar[int]
    HEARTBEATS_FIELD_NUMBER: _ClassVar[int]
    MALFORMED_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_ORDER_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    DISCONNECTS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    LAST_MALFORMED_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: LineState
    active: bool
    last_seq: int
    lag_ms: int
    silent_ms: int
    received: int
    first_copies: int
    heartbeats: int
    malformed: int
    out_of_order: int
    duplicates: int
    disconnects: int
    detail: str
    last_malformed: str
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[LineState, str]] = ..., active: _Optional[bool] = ..., last_seq: _Optional[int] = ..., lag_ms: _Optional[int] = ..., silent_ms: _Optional[int] = ..., received: _Optional[int] = ..., first_copies: _Optional[int] = ..., heartbeats: _Optional[int] = ..., malformed: _Optional[int] = ..., out_of_order: _Optional[int] = ..., duplicates: _Optional[int] = ..., disconnects: _Optional[int] = ..., detail: _Optional[str] = ..., last_malformed: _Optional[str] = ...) -> None: ...

class HeldOutlier(_message.Message):
    __slots__ = ("symbol", "kind", "price", "reference", "seq", "vendor_time_ns")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    VENDOR_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    kind: str
    price: str
    reference: str
    seq: int
    vendor_time_ns: int
    def __init__(self, symbol: _Optional[str] = ..., kind: _Optional[str] = ..., price: _Optional[str] = ..., reference: _Optional[str] = ..., seq: _Optional[int] = ..., vendor_time_ns: _Optional[int] = ...) -> None: ...

class LineSwitch(_message.Message):
    __slots__ = ("time_ns", "from_line", "to_line", "failback", "took_ms", "reason")
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    FROM_LINE_FIELD_NUMBER: _ClassVar[int]
    TO_LINE_FIELD_NUMBER: _ClassVar[int]
    FAILBACK_FIELD_NUMBER: _ClassVar[int]
    TOOK_MS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    time_ns: int
    from_line: str
    to_line: str
    failback: bool
    took_ms: int
    reason: str
    def __init__(self, time_ns: _Optional[int] = ..., from_line: _Optional[str] = ..., to_line: _Optional[str] = ..., failback: _Optional[bool] = ..., took_ms: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class FeedStatus(_message.Message):
    __slots__ = ("feed", "kind", "health", "active_line", "lines", "next_seq", "published", "duplicates", "gaps", "missing", "recovered", "lost", "held", "failovers", "failbacks", "recent_switches", "stale_symbols", "outliers", "recent_outliers", "snapshot_recoveries", "failover_after_ms", "stale_after_ms", "lag_ms", "gap_age_ms")
    FEED_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_LINE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_SEQ_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    GAPS_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    FAILOVERS_FIELD_NUMBER: _ClassVar[int]
    FAILBACKS_FIELD_NUMBER: _ClassVar[int]
    RECENT_SWITCHES_FIELD_NUMBER: _ClassVar[int]
    STALE_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    OUTLIERS_FIELD_NUMBER: _ClassVar[int]
    RECENT_OUTLIERS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_RECOVERIES_FIELD_NUMBER: _ClassVar[int]
    FAILOVER_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    STALE_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    LAG_MS_FIELD_NUMBER: _ClassVar[int]
    GAP_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    feed: str
    kind: str
    health: FeedHealth
    active_line: str
    lines: _containers.RepeatedCompositeFieldContainer[LineStatus]
    next_seq: int
    published: int
    duplicates: int
    gaps: int
    missing: int
    recovered: int
    lost: int
    held: int
    failovers: int
    failbacks: int
    recent_switches: _containers.RepeatedCompositeFieldContainer[LineSwitch]
    stale_symbols: _containers.RepeatedScalarFieldContainer[str]
    outliers: int
    recent_outliers: _containers.RepeatedCompositeFieldContainer[HeldOutlier]
    snapshot_recoveries: int
    failover_after_ms: int
    stale_after_ms: int
    lag_ms: int
    gap_age_ms: int
    def __init__(self, feed: _Optional[str] = ..., kind: _Optional[str] = ..., health: _Optional[_Union[FeedHealth, str]] = ..., active_line: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[LineStatus, _Mapping]]] = ..., next_seq: _Optional[int] = ..., published: _Optional[int] = ..., duplicates: _Optional[int] = ..., gaps: _Optional[int] = ..., missing: _Optional[int] = ..., recovered: _Optional[int] = ..., lost: _Optional[int] = ..., held: _Optional[int] = ..., failovers: _Optional[int] = ..., failbacks: _Optional[int] = ..., recent_switches: _Optional[_Iterable[_Union[LineSwitch, _Mapping]]] = ..., stale_symbols: _Optional[_Iterable[str]] = ..., outliers: _Optional[int] = ..., recent_outliers: _Optional[_Iterable[_Union[HeldOutlier, _Mapping]]] = ..., snapshot_recoveries: _Optional[int] = ..., failover_after_ms: _Optional[int] = ..., stale_after_ms: _Optional[int] = ..., lag_ms: _Optional[int] = ..., gap_age_ms: _Optional[int] = ...) -> None: ...

class FeedStatusReport(_message.Message):
    __slots__ = ("feeds", "serving", "stale_symbols", "time_ns")
    FEEDS_FIELD_NUMBER: _ClassVar[int]
    SERVING_FIELD_NUMBER: _ClassVar[int]
    STALE_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    feeds: _containers.RepeatedCompositeFieldContainer[FeedStatus]
    serving: bool
    stale_symbols: _containers.RepeatedScalarFieldContainer[str]
    time_ns: int
    def __init__(self, feeds: _Optional[_Iterable[_Union[FeedStatus, _Mapping]]] = ..., serving: _Optional[bool] = ..., stale_symbols: _Optional[_Iterable[str]] = ..., time_ns: _Optional[int] = ...) -> None: ...

class SetLineEnabledRequest(_message.Message):
    __slots__ = ("feed", "line", "enabled", "reason", "actor")
    FEED_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    feed: str
    line: str
    enabled: bool
    reason: str
    actor: str
    def __init__(self, feed: _Optional[str] = ..., line: _Optional[str] = ..., enabled: _Optional[bool] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...
