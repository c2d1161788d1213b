from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
    __slots__ = ("symbol", "bid_price", "bid_quantity", "ask_price", "ask_quantity", "last_price", "last_quantity", "seq", "vendor_time_ns", "receive_time_ns", "feed", "stale")
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
    def __init__(self, symbol: _Optional[str] = ..., bid_price: _Optional[str] = ..., bid_quantity: _Optional[str] = ..., ask_price: _Optional[str] = ..., ask_quantity: _Optional[str] = ..., last_price: _Optional[str] = ..., last_quantity: _Optional[str] = ..., seq: _Optional[int] = ..., vendor_time_ns: _Optional[int] = ..., receive_time_ns: _Optional[int] = ..., feed: _Optional[str] = ..., stale: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("quote", "trade", "snapshot")
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    TRADE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    trade: Trade
    snapshot: bool
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ..., trade: _Optional[_Union[Trade, _Mapping]] = ..., snapshot: _Optional[bool] = ...) -> None: ...
