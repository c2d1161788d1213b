"""The WebSocket wire format: exact round trips, and every kind of bad input becomes a counted Malformed item."""

from __future__ import annotations

import json
import random

import pytest

from tradingdesk.feeds import wire
from tradingdesk.feeds.events import QUOTE, TRADE, FeedMessage, Heartbeat, Malformed, MarketEvent

U = 10**9
TS = 1_700_000_000 * U
Q = FeedMessage("A", 7, TS, MarketEvent(TS, "AAPL", QUOTE, 189_510_000_000, 300 * U, 189_520_000_000, 200 * U))
T = FeedMessage("A", 8, TS + 1, MarketEvent(TS + 1, "AAPL", TRADE, price=189_515_000_000, qty=100 * U))


def test_quotes_trades_and_heartbeats_round_trip_exactly() -> None:
    assert wire.decode_frame(wire.encode_frame([Q]), "A") == [Q]
    assert wire.decode_frame(wire.encode_frame([Q, T]), "A") == [Q, T]
    assert wire.encode(Q)["bid"] == "189.51" and wire.encode(T)["price"] == "189.515"
    assert wire.decode_frame(wire.heartbeat_frame(8, TS), "B") == [Heartbeat("B", 8, TS)]


def good_quote(**changes: object) -> dict:
    return {**wire.encode(Q), **changes}


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (good_quote(seq="7"), "seq: must be an integer"),
        (good_quote(seq=7.0), "seq: must be an integer"),
        (good_quote(seq=True), "seq: must be an integer"),
        (good_quote(seq=0), "seq: 0 is out of range"),
        (good_quote(seq=-3), "out of range"),
        (good_quote(seq=2**64), "out of range"),
        (good_quote(ts=None), "ts: must be an integer"),
        (good_quote(bid=189.51), "bid: must be a decimal string"),
        (good_quote(bid="1e3"), "bid:"),
        (good_quote(bid="-1"), "negative"),
        (good_quote(bid="0"), "bid: must be > 0"),
        (good_quote(askSize="NaN"), "askSize:"),
        (good_quote(bid=" 189.51"), "bid: ' 189.51' has leading or trailing whitespace"),
        (good_quote(bid="189.51 "), "bid: '189.51 ' has leading or trailing whitespace"),
        (good_quote(bidSize="+300"), "bidSize: '+300' has a '+' sign"),
        (good_quote(askSize=" 100"), "askSize: ' 100' has leading or trailing whitespace"),
        (good_quote(bid="189.53"), "crossed or locked"),
        (good_quote(bid="189.52"), "crossed or locked"),
        (good_quote(symbol=""), "symbol"),
        (good_quote(symbol="X" * 40), "symbol"),
        (good_quote(symbol=["AAPL"]), "symbol"),
        ({k: v for k, v in wire.encode(Q).items() if k != "ask"}, "ask: must be a decimal string"),
        ({**wire.encode(T), "size": "0"}, "size: must be > 0"),
        (good_quote(type="book"), "unknown message type"),
        ("quote", "must be a JSON object"),
        (None, "must be a JSON object"),
    ],
)
def test_a_bad_message_names_its_problem(message: object, problem: str) -> None:
    [item] = wire.decode_frame(json.dumps(message), "A")
    assert isinstance(item, Malformed) and item.line == "A"
    assert problem in item.reason


def test_one_bad_message_in_a_batch_does_not_spoil_the_others() -> None:
    frame = json.dumps([wire.encode(Q), good_quote(seq="x"), wire.encode(T)])
    items = wire.decode_frame(frame, "A")
    assert items[0] == Q and isinstance(items[1], Malformed) and items[2] == T


@pytest.mark.parametrize(
    "frame",
    ["", "{", "not json", "[1, 2", '{"type": "quote"', "\x00\xff", "[" * 100_000 + "]" * 100_000, "[]", "{}", "42"],
)
def test_garbage_frames_never_raise(frame: str) -> None:
    items = wire.decode_frame(frame, "A")
    assert all(isinstance(i, Malformed) for i in items)


def test_binary_frames_are_malformed() -> None:
    [item] = wire.decode_frame(b"\x00\x01binary", "A")
    assert isinstance(item, Malformed) and "binary" in item.reason


def test_random_bytes_and_mutations_never_raise() -> None:
    rng = random.Random(4)
    good = wire.encode_frame([Q, T])
    for _ in range(2_000):
        chars = list(good)
        for _ in range(rng.randint(1, 6)):
            chars[rng.randrange(len(chars))] = chr(rng.randrange(0, 0x250))
        for item in wire.decode_frame("".join(chars), "A"):
            assert isinstance(item, FeedMessage | Heartbeat | Malformed)


def test_snapshot_answers() -> None:
    frame = json.dumps({"type": "snapshot", "seq": 12, "ts": TS, "quotes": [wire.encode(Q)]})
    seq, quotes = wire.decode_snapshot(frame, "A")
    assert seq == 12 and [q.event for q in quotes] == [Q.event] and quotes[0].seq == 12
    for bad in ("", "{}", json.dumps({"type": "snapshot", "seq": 1}), b"\x00"):
        with pytest.raises(wire.WireError):
            wire.decode_snapshot(bad, "A")
