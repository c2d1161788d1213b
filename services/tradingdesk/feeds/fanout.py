"""Fan-out of live events to subscribers, each with a bounded buffer that conflates when it overflows.

The publisher must never wait for a subscriber, and a subscriber that reads slowly (or not at all) must not
cost unbounded memory. Each subscriber has a queue of at most ``bound`` events. When a push finds it full,
the subscriber switches to *conflation*: from then on new events go to an ordered pending set where a quote
replaces the pending quote of its symbol (one per symbol at most) and trades are kept only while queue and
pending trades together stay within ``bound`` (beyond it they are dropped and counted). When the reader has
drained both, the subscriber is back to normal delivery. Memory per subscriber: ``bound`` + its symbols.

Ordering: events arrive in publish order, so sequence numbers of one feed only increase; conflation only
removes superseded quotes (a replaced quote moves to the position of its replacement).

An event is an encoded ``MarketDataEvent`` (bytes): the publisher encodes it once and every subscriber holds
the same object, so fanning out costs no encoding per subscriber (the streams send the bytes as they are).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

STATUS_KEY = "status:"
"""Prefix of a symbol's pending status while conflating (symbols never contain a colon)."""


@dataclass(frozen=True, slots=True)
class SubscriberStats:
    """One subscriber as monitoring sees it."""

    peer: str
    symbols: tuple[str, ...]
    """Subscribed symbols; empty means all."""
    queued: int
    pending_quotes: int
    """Conflated quotes waiting (one per symbol at most)."""
    pending_trades: int
    """Trades waiting behind the queue while conflating."""
    conflating: bool
    conflations: int
    """Times the subscriber overflowed and switched to conflation."""
    conflated_quotes: int
    """Quotes replaced by a newer one before the subscriber read them."""
    dropped_trades: int
    delivered: int


class Subscriber:
    """The bounded buffer between the publisher and one subscription stream."""

    __slots__ = (
        "_closed",
        "_pending",
        "_pending_trades",
        "_queue",
        "_trade_key",
        "_waiter",
        "bound",
        "conflated_quotes",
        "conflations",
        "delivered",
        "dropped_trades",
        "peer",
        "symbols",
    )

    def __init__(self, bound: int, symbols: Iterable[str] = (), peer: str = "") -> None:
        if bound < 1:
            raise ValueError("a subscriber's bound must be at least 1")
        self.bound = bound
        self.symbols = tuple(symbols)
        self.peer = peer
        self._queue: deque[bytes] = deque()
        # Not None while conflating: quotes keyed by symbol, trades by a running number, in publish order.
        self._pending: OrderedDict[str | int, bytes] | None = None
        self._pending_trades = 0
        self._trade_key = 0
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.conflations = 0
        self.conflated_quotes = 0
        self.dropped_trades = 0
        self.delivered = 0

    @property
    def conflating(self) -> bool:
        return self._pending is not None

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def closed(self) -> bool:
        return self._closed

    def push_quote(self, symbol: str, event: bytes) -> None:
        """Queue a quote, or make it the symbol's pending quote while conflating (never blocks)."""
        pending = self._pending
        if pending is None:
            if len(self._queue) < self.bound:
                self._queue.append(event)
                self._wake()
                return
            pending = self._start_conflating()
        if symbol in pending:
            self.conflated_quotes += 1
            pending.move_to_end(symbol)
        pending[symbol] = event
        self._wake()

    def push_status(self, symbol: str, event: bytes) -> None:
        """Queue a trading status change; while conflating, it replaces the symbol's pending status (never its
        pending quote): the latest status is the one that counts."""
        self.push_quote(STATUS_KEY + symbol, event)

    def push_trade(self, event: bytes) -> None:
        """Queue a trade while there is room within the bound; otherwise drop and count it (never blocks)."""
        pending = self._pending
        if pending is None:
            if len(self._queue) < self.bound:
                self._queue.append(event)
                self._wake()
                return
            pending = self._start_conflating()
        if len(self._queue) + self._pending_trades < self.bound:
            self._trade_key += 1
            pending[self._trade_key] = event
            self._pending_trades += 1
            self._wake()
        else:
            self.dropped_trades += 1

    async def get(self) -> bytes | None:
        """The next event to send, waiting for one; None once the subscriber is closed."""
        while not self._closed:
            if self._queue:
                self.delivered += 1
                return self._queue.popleft()
            pending = self._pending
            if pending:
                key, event = pending.popitem(last=False)
                if isinstance(key, int):
                    self._pending_trades -= 1
                self.delivered += 1
                return event
            self._pending = None  # caught up: back to normal delivery
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return None

    async def get_batch(self, limit: int) -> list[bytes]:
        """Everything waiting (at most ``limit`` events, in order), waiting for one; empty once closed."""
        while not self._closed:
            queue = self._queue
            pending = self._pending
            if queue or pending:
                out: list[bytes] = []
                while queue and len(out) < limit:
                    out.append(queue.popleft())
                while pending and len(out) < limit:
                    key, event = pending.popitem(last=False)
                    if isinstance(key, int):
                        self._pending_trades -= 1
                    out.append(event)
                self.delivered += len(out)
                return out
            self._pending = None  # caught up: back to normal delivery
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return []

    def close(self) -> None:
        """End the subscription: ``get`` returns None from now on, and the buffers are released."""
        self._closed = True
        self._queue.clear()
        self._pending = None
        self._pending_trades = 0
        self._wake()

    def stats(self) -> SubscriberStats:
        return SubscriberStats(
            peer=self.peer,
            symbols=self.symbols,
            queued=len(self._queue),
            pending_quotes=len(self._pending or ()) - self._pending_trades,
            pending_trades=self._pending_trades,
            conflating=self._pending is not None,
            conflations=self.conflations,
            conflated_quotes=self.conflated_quotes,
            dropped_trades=self.dropped_trades,
            delivered=self.delivered,
        )

    def _start_conflating(self) -> OrderedDict[str | int, bytes]:
        self.conflations += 1
        self._pending = OrderedDict()
        self._pending_trades = 0
        return self._pending

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)


class Fanout:
    """Who listens to which symbol. Lists are replaced, never mutated, so publishing can iterate safely."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self.by_symbol: dict[str, list[Subscriber]] = {s: [] for s in symbols}
        self._subscribers: dict[Subscriber, tuple[str, ...]] = {}

    def add(self, subscriber: Subscriber, symbols: Iterable[str]) -> None:
        chosen = tuple(symbols)
        self._subscribers[subscriber] = chosen
        for s in chosen:
            self.by_symbol[s] = [*self.by_symbol[s], subscriber]

    def remove(self, subscriber: Subscriber) -> None:
        for s in self._subscribers.pop(subscriber, ()):
            self.by_symbol[s] = [x for x in self.by_symbol[s] if x is not subscriber]

    def subscribers(self) -> list[Subscriber]:
        return list(self._subscribers)

    def close_all(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber.close()
            self.remove(subscriber)
