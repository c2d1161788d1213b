"""Protobuf messages of the market data API, built from the state: quotes, trades and trading status changes.

Each live event is built and encoded once and shared by every subscriber. Prices on the tick grid repeat
endlessly, so their decimal strings are cached (bounded) instead of formatted on every event.
"""

from __future__ import annotations

from functools import lru_cache

from tradingdesk.core.fixed import format_fixed
from tradingdesk.feeds.events import FeedMessage
from tradingdesk.feeds.state import SymbolSnapshot, SymbolState
from tradingdesk.v1 import market_data_pb2 as pb

fmt = lru_cache(maxsize=1 << 16)(format_fixed)


def _fill_quote(q: pb.Quote, sym: SymbolState | SymbolSnapshot, feed: str, stale: bool) -> None:
    msg = sym.quote
    q.symbol = sym.symbol
    q.feed = feed
    q.stale = stale
    if msg is not None:
        e = msg.event
        q.bid_price = fmt(e.bid_price)
        q.bid_quantity = fmt(e.bid_qty)
        q.ask_price = fmt(e.ask_price)
        q.ask_quantity = fmt(e.ask_qty)
        q.seq = msg.seq
        q.vendor_time_ns = msg.vendor_ts_ns
        q.receive_time_ns = sym.quote_rx_ns
    last = sym.trade
    if last is not None:
        q.last_price = fmt(last.event.price)
        q.last_quantity = fmt(last.event.qty)
    status = sym.status
    if status is not None:
        q.status = status.event.status  # type: ignore[assignment]
        q.status_reason = status.event.reason


def data_time(desk_time_ns: int, now_ns: int) -> int:
    """When a market event happened on the desk's timeline, for a subscriber that read it at ``now_ns``: the feeds
    service's receipt of it (``MarketDataEvent.desk_time_ns``), never later than the reader's own receipt. Routing's
    risk gate ages its reference prices from it, and compliance stamps its market tape with it.

    Routing reads market data late whenever its loop is busy: on a loaded desk its subscription fell up to 140
    market seconds (7 wall seconds at 20x) behind the feeds service, which kept the rest (its bounded buffer, the
    stream's flow-control window). Stamped with routing's receipt, every such batch looked fresh and the gate
    accepted orders against prices minutes old. Aged from feeds' receipt, the backlog counts. The later of the
    two never wins: a feeds clock ahead of the reader's cannot make data look younger than its arrival there (only
    up to the skew younger than it is), and one behind makes references look older (refused, never accepted).
    0 (a feeds service that does not stamp): the reader's receipt, all there is."""
    return desk_time_ns if 0 < desk_time_ns < now_ns else now_ns


def quote(view: SymbolSnapshot) -> pb.Quote:
    """The Quote of a symbol as a snapshot saw it (GetQuote, GetSnapshot)."""
    q = pb.Quote()
    _fill_quote(q, view, view.quote_feed or view.feed, view.stale)
    return q


def snapshot_event(view: SymbolSnapshot) -> pb.MarketDataEvent:
    """The first message of a subscription for one symbol (``snapshot=true``)."""
    ev = pb.MarketDataEvent(snapshot=True, desk_time_ns=view.desk_updated_ns)
    _fill_quote(ev.quote, view, view.quote_feed or view.feed, view.stale)
    return ev


def live_quote_event(sym: SymbolState, feed: str) -> pb.MarketDataEvent:
    """A quote update just applied to the state (fresh by definition, so never stale), with the desk's time of its
    receipt."""
    ev = pb.MarketDataEvent(desk_time_ns=sym.desk_updated_ns)
    _fill_quote(ev.quote, sym, feed, False)
    return ev


def encode_batch(events: list[bytes]) -> bytes:
    """A ``MarketDataBatch`` from events already encoded, without decoding or copying them.

    A repeated message field is each element as a length-delimited field: tag (field 1, wire type 2 = 0x0A),
    the length as a varint, the bytes. So a batch of shared encoded events is their concatenation, framed.
    """
    parts: list[bytes] = []
    for event in events:
        parts.append(_BATCH_EVENT_TAG)
        parts.append(_varint(len(event)))
        parts.append(event)
    return b"".join(parts)


_BATCH_EVENT_TAG = bytes([pb.MarketDataBatch.EVENTS_FIELD_NUMBER << 3 | 2])


@lru_cache(maxsize=1024)
def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def trade_event(msg: FeedMessage, feed: str, *, desk_time_ns: int = 0) -> pb.MarketDataEvent:
    """A print on the tape; ``desk_time_ns``: the desk's clock when feeds took it in."""
    ev = pb.MarketDataEvent(desk_time_ns=desk_time_ns)
    t = ev.trade
    e = msg.event
    t.symbol = e.symbol
    t.price = fmt(e.price)
    t.quantity = fmt(e.qty)
    t.seq = msg.seq
    t.vendor_time_ns = msg.vendor_ts_ns
    t.feed = feed
    return ev


def status_event(msg: FeedMessage, feed: str, *, snapshot: bool = False) -> pb.MarketDataEvent:
    """A trading status change (halt, pause, resumption), or a symbol's current status in a snapshot."""
    ev = pb.MarketDataEvent(snapshot=snapshot)
    s = ev.status
    e = msg.event
    s.symbol = e.symbol
    s.status = e.status  # type: ignore[assignment]
    s.reason = e.reason
    s.seq = msg.seq
    s.vendor_time_ns = msg.vendor_ts_ns
    s.feed = feed
    return ev
