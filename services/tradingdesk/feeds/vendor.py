"""A simulated market data vendor on WebSocket: one session published on A/B lines, with real faults.

Tests, benchmarks and failover drills need a vendor to connect to that behaves like one: sequenced lines,
heartbeats when idle, resend on resume, snapshots, and the ways lines fail. ``VendorServer`` publishes a
session (paced like a replay, or message by message with ``publish``) to every line at ``/<line>`` and
keeps a bounded history so a client can resume (``{"op": "subscribe", "fromSeq": N}``).

Faults, per line: ``pause`` (the connection stays open and says nothing, not even heartbeats: a stall),
``down`` (connections closed, new ones refused with HTTP 503), ``drop`` (chosen messages never sent on
this line, their numbers used up), ``inject`` (raw frames, garbage included) and ``forget`` (history
dropped, so only a snapshot can repair a loss).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tradingdesk.feeds import wire
from tradingdesk.feeds.events import TRADE, FeedMessage, MarketEvent
from tradingdesk.feeds.replay import EARLY_S, NS, EventSource, numbered

FIRST_REQUEST_TIMEOUT_S = 2.0


class _Line:
    def __init__(self, name: str) -> None:
        self.name = name
        self.paused = False
        self.refused = False
        self.drop: Callable[[int], bool] | None = None
        self.connections: set[ServerConnection] = set()
        self.resumed = asyncio.Event()
        self.resumed.set()
        self.sent = 0


class VendorServer:
    """Serves one session on WebSocket lines; ``start`` it, connect to ``url(line)``, ``stop`` it."""

    def __init__(
        self,
        source: EventSource | None,
        *,
        lines: Iterable[str] = ("A", "B"),
        speed: float = 100,
        start_ns: int | None = None,
        loop: bool = False,
        period_ns: int = 0,
        heartbeat_ms: int = 50,
        history: int = 500_000,
        max_batch: int = 256,
    ) -> None:
        self.source = source
        self.speed = float(speed)
        self.start_ns = time.time_ns() if start_ns is None else start_ns
        self.loop = loop
        self.period_ns = period_ns
        self.heartbeat_s = heartbeat_ms / 1000
        self.max_batch = max_batch
        self.lines = {name: _Line(name) for name in lines}
        self.seq = 0
        """Last sequence number published."""
        self.done = False
        """The session has been published to the end."""
        self._history: deque[FeedMessage] = deque(maxlen=history)
        self._quotes: dict[tuple[str, str], FeedMessage] = {}  # the last quote and status of each symbol
        self._new = asyncio.Event()
        self._server: Server | None = None
        self._producer: asyncio.Task[None] | None = None
        self.port = 0

    # lifecycle ----------------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> VendorServer:
        self._server = await serve(
            self._serve,
            host,
            port,
            process_request=self._admit,
            compression=None,
            max_size=1 << 16,
            ping_interval=None,
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        if self.source is not None:
            self._producer = asyncio.create_task(self._produce(), name="vendor-producer")
        return self

    async def stop(self) -> None:
        if self._producer is not None:
            self._producer.cancel()
            await asyncio.gather(self._producer, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def url(self, line: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{line}"

    # publishing ---------------------------------------------------------------------------------------------

    def publish(self, event: MarketEvent, vendor_ts_ns: int | None = None) -> FeedMessage:
        """Publish one event on every line with the next sequence number."""
        self.seq += 1
        ts = vendor_ts_ns if vendor_ts_ns is not None else self.start_ns + event.ts_ns
        msg = FeedMessage("", self.seq, ts, event)
        self._history.append(msg)
        if event.kind != TRADE:
            self._quotes[event.symbol, event.kind] = msg
        self._wake()
        return msg

    async def _produce(self) -> None:
        assert self.source is not None
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        per_ns = 1.0 / (self.speed * NS) if self.speed else 0.0
        burst = 0
        for _, _, offset, event in numbered(self.source, loop=self.loop, period_ns=self.period_ns):
            if per_ns:
                delay = t0 + offset * per_ns - loop.time()
                if delay > EARLY_S:
                    await asyncio.sleep(delay)
                    burst = 0
            burst += 1
            if burst >= self.max_batch:
                await asyncio.sleep(0)
                burst = 0
            self.publish(event, self.start_ns + offset)
        self.done = True

    def _wake(self) -> None:
        self._new.set()
        self._new = asyncio.Event()

    # faults -------------------------------------------------------------------------------------------------

    def pause(self, line: str) -> None:
        """The line goes silent without closing: no data, no heartbeats (a stalled connection)."""
        self.lines[line].paused = True
        self.lines[line].resumed.clear()

    def resume(self, line: str) -> None:
        self.lines[line].paused = False
        self.lines[line].resumed.set()

    async def down(self, line: str) -> None:
        """Close the line's connections and refuse new ones until ``up``."""
        state = self.lines[line]
        state.refused = True
        for ws in list(state.connections):
            await ws.close(1001, "line down")

    def up(self, line: str) -> None:
        self.lines[line].refused = False

    def drop(self, line: str, predicate: Callable[[int], bool] | None) -> None:
        """Lose the messages whose sequence number ``predicate`` accepts on this line (None: lose nothing)."""
        self.lines[line].drop = predicate

    async def inject(self, line: str, frame: str | bytes) -> None:
        """Send a raw frame (anything at all) to every connection of the line."""
        for ws in list(self.lines[line].connections):
            with contextlib.suppress(ConnectionClosed):
                await ws.send(frame)

    def forget(self) -> None:
        """Drop the history: a client resuming from an older number now gets a gap only a snapshot repairs."""
        self._history.clear()

    def connections(self, line: str) -> int:
        return len(self.lines[line].connections)

    # serving ------------------------------------------------------------------------------------------------

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        state = self.lines.get(request.path.strip("/"))
        if state is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "no such line\n")
        if state.refused:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "line down\n")
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        state = self.lines[ws.request.path.strip("/")] if ws.request else None
        if state is None:
            return
        try:
            async with asyncio.timeout(FIRST_REQUEST_TIMEOUT_S):
                first = await ws.recv()
            request = json.loads(first)
        except (TimeoutError, ValueError, ConnectionClosed):
            await ws.close(1008, "send a subscribe or snapshot request first")
            return
        if not isinstance(request, dict):
            await ws.close(1008, "bad request")
            return
        if request.get("op") == "snapshot":
            await ws.send(self._snapshot_frame())
            return
        from_seq = request.get("fromSeq", 1)
        cursor = max(1, from_seq if isinstance(from_seq, int) else 1)
        state.connections.add(ws)
        try:
            await self._stream(ws, state, cursor)
        except ConnectionClosed:
            pass
        finally:
            state.connections.discard(ws)

    async def _stream(self, ws: ServerConnection, state: _Line, cursor: int) -> None:
        oldest = self._history[0].seq if self._history else self.seq + 1
        cursor = min(max(cursor, oldest), self.seq + 1)
        quiet_since = time.monotonic()
        while True:
            if state.paused:
                await state.resumed.wait()
                continue
            if cursor <= self.seq and self._history:
                first = self._history[0].seq
                cursor = max(cursor, first)
                start = cursor - first
                end = min(self.seq - first + 1, start + self.max_batch)
                batch = [self._history[i] for i in range(start, end)]
                cursor += len(batch)
                drop = state.drop
                if drop is not None:
                    batch = [m for m in batch if not drop(m.seq)]
                if batch:
                    await ws.send(wire.encode_frame(batch))
                    state.sent += len(batch)
                    quiet_since = time.monotonic()
                continue
            wait = self.heartbeat_s - (time.monotonic() - quiet_since)
            if wait <= 0:
                await ws.send(wire.heartbeat_frame(cursor - 1, time.time_ns()))
                quiet_since = time.monotonic()
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._new.wait()

    def _snapshot_frame(self) -> str:
        quotes = [wire.encode(m) for m in self._quotes.values()]
        return json.dumps({"type": "snapshot", "seq": self.seq, "ts": time.time_ns(), "quotes": quotes})
