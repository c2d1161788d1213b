"""The vendor wire format of WebSocket feeds: JSON text frames, one message or an array of them per frame.

Messages (prices and sizes are decimal strings, exact to 1e-9; ``seq`` counts per line from 1; ``ts`` is
the vendor timestamp in ns since the Unix epoch)::

    {"type": "quote", "seq": 12, "ts": 1700000000000000000, "symbol": "AAPL",
     "bid": "189.51", "bidSize": "300", "ask": "189.52", "askSize": "200"}
    {"type": "trade", "seq": 13, "ts": 1700000000000500000, "symbol": "AAPL", "price": "189.52", "size": "100"}
    {"type": "status", "seq": 14, "ts": 1700000000600000000, "symbol": "AAPL", "status": "halted", "reason": "T1"}
    {"type": "heartbeat", "seq": 14, "ts": 1700000000050000000}
    {"type": "snapshot", "seq": 14, "ts": ..., "quotes": [<quote or status>, ...]}   (answer to the snapshot request)

A status message is a symbol's trading status changing (``trading``, ``halted`` or ``paused``, with an
optional reason code); a snapshot carries each symbol's last quote and, once it has had one, its last status.

Requests from the client: ``{"op": "subscribe", "fromSeq": N}`` first on a connection (the vendor resends
from N if it still has it, then goes live) and ``{"op": "snapshot"}`` (one snapshot frame, then close).

Decoding never raises: each message that is not exactly right becomes a ``Malformed`` item naming the
problem (the feed handler counts and drops it), and the rest of the frame is still used. A vendor that
sends garbage costs a counter, never the service.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from tradingdesk.core.fixed import DecimalFormatError, format_fixed, parse_fixed
from tradingdesk.feeds.events import QUOTE, STATUS, TRADE, FeedMessage, Heartbeat, LineItem, Malformed, MarketEvent
from tradingdesk.markets.status import MAX_REASON_LEN, parse_status, status_name

MAX_SYMBOL_LEN = 16
MAX_SEQ = (1 << 63) - 1

_decoder = json.JSONDecoder()


class WireError(ValueError):
    """One message is not valid; the text says which field and why."""


def encode(msg: FeedMessage) -> dict[str, Any]:
    """The wire form of one message."""
    e = msg.event
    if e.kind == QUOTE:
        return {
            "type": "quote",
            "seq": msg.seq,
            "ts": msg.vendor_ts_ns,
            "symbol": e.symbol,
            "bid": format_fixed(e.bid_price),
            "bidSize": format_fixed(e.bid_qty),
            "ask": format_fixed(e.ask_price),
            "askSize": format_fixed(e.ask_qty),
        }
    if e.kind == STATUS:
        return {
            "type": "status",
            "seq": msg.seq,
            "ts": msg.vendor_ts_ns,
            "symbol": e.symbol,
            "status": status_name(e.status),
            "reason": e.reason,
        }
    return {
        "type": "trade",
        "seq": msg.seq,
        "ts": msg.vendor_ts_ns,
        "symbol": e.symbol,
        "price": format_fixed(e.price),
        "size": format_fixed(e.qty),
    }


def encode_frame(msgs: list[FeedMessage]) -> str:
    """One text frame carrying ``msgs`` (a bare object for one message, an array for several)."""
    if len(msgs) == 1:
        return json.dumps(encode(msgs[0]), separators=(",", ":"))
    return json.dumps([encode(m) for m in msgs], separators=(",", ":"))


def heartbeat_frame(seq: int, ts_ns: int) -> str:
    return json.dumps({"type": "heartbeat", "seq": seq, "ts": ts_ns}, separators=(",", ":"))


def _int(obj: dict[str, Any], key: str, low: int) -> int:
    value = obj.get(key)
    if type(value) is not int:  # bool is an int subclass; floats lose ns
        raise WireError(f"{key}: must be an integer, got {type(value).__name__}")
    if not low <= value <= MAX_SEQ:
        raise WireError(f"{key}: {value} is out of range")
    return value


@lru_cache(maxsize=1 << 16)
def _positive_units(text: str) -> int:
    """Prices on a tick grid and sizes in round lots repeat endlessly: parse each string once (bounded)."""
    return parse_fixed(text)


def _amount(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if type(value) is not str:
        raise WireError(f"{key}: must be a decimal string, got {type(value).__name__}")
    try:
        units = _positive_units(value)
    except DecimalFormatError as exc:
        raise WireError(f"{key}: {exc}") from None
    if units <= 0:
        raise WireError(f"{key}: must be > 0")
    return units


def _symbol(obj: dict[str, Any]) -> str:
    symbol = obj.get("symbol")
    if not isinstance(symbol, str) or not symbol or len(symbol) > MAX_SYMBOL_LEN or not symbol.isprintable():
        raise WireError("symbol: must be a short non-empty string")
    return symbol


def _status(obj: dict[str, Any]) -> int:
    value = obj.get("status")
    if type(value) is not str:
        raise WireError(f"status: must be a string, got {type(value).__name__}")
    try:
        return parse_status(value)
    except ValueError as exc:
        raise WireError(str(exc)) from None


def _reason(obj: dict[str, Any]) -> str:
    value = obj.get("reason", "")
    if type(value) is not str or len(value) > MAX_REASON_LEN or not value.isprintable():
        raise WireError(f"reason: must be a string of at most {MAX_REASON_LEN} printable characters")
    return value


def decode_message(obj: Any, line: str) -> FeedMessage | Heartbeat:
    """One decoded message; raises WireError naming the problem."""
    if not isinstance(obj, dict):
        raise WireError(f"a message must be a JSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    seq = _int(obj, "seq", 0 if kind == "heartbeat" else 1)
    ts = _int(obj, "ts", 1)
    if kind == "quote":
        bid, ask = _amount(obj, "bid"), _amount(obj, "ask")
        if bid >= ask:
            raise WireError(f"bid {format_fixed(bid)} is not below ask {format_fixed(ask)} (crossed or locked)")
        event = MarketEvent(ts, _symbol(obj), QUOTE, bid, _amount(obj, "bidSize"), ask, _amount(obj, "askSize"))
        return FeedMessage(line, seq, ts, event)
    if kind == "trade":
        event = MarketEvent(ts, _symbol(obj), TRADE, price=_amount(obj, "price"), qty=_amount(obj, "size"))
        return FeedMessage(line, seq, ts, event)
    if kind == "status":
        event = MarketEvent(ts, _symbol(obj), STATUS, status=_status(obj), reason=_reason(obj))
        return FeedMessage(line, seq, ts, event)
    if kind == "heartbeat":
        return Heartbeat(line, seq, ts)
    raise WireError(f"type: unknown message type {kind!r}")


def decode_frame(frame: str | bytes, line: str) -> list[LineItem]:
    """The items of one frame, in order; anything wrong becomes a ``Malformed`` item."""
    if isinstance(frame, bytes):
        return [Malformed(line, f"binary frame of {len(frame)} bytes (the feed sends JSON text)")]
    try:
        doc = _decoder.decode(frame)
    except (ValueError, RecursionError) as exc:
        return [Malformed(line, f"not JSON: {str(exc)[:80]}")]
    items: list[LineItem] = []
    for obj in doc if isinstance(doc, list) else (doc,):
        try:
            items.append(decode_message(obj, line))
        except WireError as exc:
            items.append(Malformed(line, str(exc)))
    return items


def decode_snapshot(frame: str | bytes, line: str) -> tuple[int, list[FeedMessage]]:
    """A snapshot answer: its sequence number and one quote per symbol; raises WireError."""
    if isinstance(frame, bytes):
        raise WireError("binary snapshot frame")
    try:
        doc = _decoder.decode(frame)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"snapshot is not JSON: {str(exc)[:80]}") from None
    if not isinstance(doc, dict) or doc.get("type") != "snapshot" or not isinstance(doc.get("quotes"), list):
        raise WireError("not a snapshot answer")
    seq = _int(doc, "seq", 0)
    quotes = []
    for obj in doc["quotes"]:
        msg = decode_message(obj, line)
        if isinstance(msg, FeedMessage) and msg.event.kind != TRADE:
            quotes.append(FeedMessage(line, seq, msg.vendor_ts_ns, msg.event))
    return seq, quotes
