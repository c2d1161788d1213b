"""The two records every part of the feed pipeline passes along: a market event and its line envelope.

Both are frozen and slotted: they are shared by reference between lines, the arbitrator, the state and
every subscriber, so nobody may change one under another's feet, and they stay small in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

QUOTE: Literal["Q"] = "Q"
TRADE: Literal["T"] = "T"
STATUS: Literal["S"] = "S"


@dataclass(frozen=True, slots=True)
class MarketEvent:
    """One normalized market data event; all prices and quantities are fixed-point ints (1e-9 units).

    A quote (``kind == "Q"``) fills the four ``bid_*``/``ask_*`` fields and leaves ``price``/``qty`` at 0;
    a trade (``kind == "T"``) fills ``price``/``qty`` and leaves the quote fields at 0; a trading status change
    (``kind == "S"``: a halt, a pause, a resumption) fills ``status`` (a ``markets.status.SymbolStatus``) and
    ``reason`` and leaves every price at 0.
    """

    ts_ns: int
    """Nanoseconds since the start of the session (not wall time)."""
    symbol: str
    kind: Literal["Q", "T", "S"]
    bid_price: int = 0
    bid_qty: int = 0
    ask_price: int = 0
    ask_qty: int = 0
    price: int = 0
    qty: int = 0
    status: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FeedMessage:
    """A market event as one line delivered it: A and B lines carry the same ``seq`` for the same event."""

    line: str
    seq: int
    """Per-line sequence number, 1 for the first message, +1 for each following one (also across loops)."""
    vendor_ts_ns: int
    """Vendor timestamp, ns since the Unix epoch: session start wall time + the event's offset."""
    event: MarketEvent


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A line saying it is alive when it has no data to send; ``seq`` is the last number it sent.

    Heartbeats are what tell a quiet line from a dead one, and a lost message at the very end of a burst
    from a complete stream: a heartbeat whose ``seq`` is ahead of what arrived opens a gap like a message.
    """

    line: str
    seq: int
    vendor_ts_ns: int


@dataclass(frozen=True, slots=True)
class Malformed:
    """Input from a line that could not be decoded into messages; counted and dropped, never fatal."""

    line: str
    reason: str


LineItem = FeedMessage | Heartbeat | Malformed
"""What a line adapter yields."""
