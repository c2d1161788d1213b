"""The servers' ping policy against real gRPC clients over a real socket.

A client may keep a quiet stream open as long as it likes if it pings no more often than every 5 s
(``MIN_PING_INTERVAL_WITHOUT_DATA_MS``); a client that pings faster is sent GOAWAY ``too_many_pings``. Until the
policy's channel argument was spelled the way grpc core reads it, the servers ran grpc's default of 5 minutes:
every quiet stream of the desk (risk events, feed line switches) was cut at its client's third ping too soon,
2 to 3.5 minutes after it opened, and reconnected.

The frames are read on the wire, by a relay between the client and the server: the pings the client sends and
any GOAWAY the server sends. The tests wait for a number of pings, never for a length of time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest

from tests.waiting import wait_for
from tradingdesk.edge.upstream import CHANNEL_OPTIONS
from tradingdesk.security.server import MIN_PING_INTERVAL_WITHOUT_DATA_MS, plaintext

QUIET_METHOD = "/tests.Pings/Quiet"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_HEADER = 9
PING, GOAWAY = 0x6, 0x7
ACK = 0x1
ENHANCE_YOUR_CALM = 0xB


@dataclass
class Wire:
    """What a relay saw: pings from the client (not acks), GOAWAYs from the server (error code, debug data)."""

    client_pings: int = 0
    goaways: list[tuple[int, bytes]] = field(default_factory=list)


class FrameTap:
    """A TCP relay in front of a gRPC server that reads each HTTP/2 frame passing through, unchanged."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.wire = Wire()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        for pipe in (
            self._pipe(client_r, server_w, from_client=True),
            self._pipe(server_r, client_w, from_client=False),
        ):
            task = asyncio.create_task(pipe)
            self._tasks.add(task)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, from_client: bool) -> None:
        try:
            if from_client:
                dst.write(await src.readexactly(len(PREFACE)))
            while True:
                header = await src.readexactly(FRAME_HEADER)
                payload = await src.readexactly(int.from_bytes(header[:3], "big"))
                dst.write(header + payload)
                await dst.drain()
                kind, flags = header[3], header[4]
                if from_client and kind == PING and not flags & ACK:
                    self.wire.client_pings += 1
                elif not from_client and kind == GOAWAY:
                    self.wire.goaways.append((int.from_bytes(payload[4:8], "big"), payload[8:]))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            dst.close()


async def _quiet(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    """One message, then nothing for as long as the client stays: the risk events or line switches of a calm
    day."""
    yield b"hello"
    await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def _desk_server_behind_tap() -> AsyncIterator[tuple[FrameTap, str]]:
    """A server with the desk's options (``server_options``), reached through a ``FrameTap``."""
    server = grpc.aio.server(options=plaintext().options)
    handler = grpc.method_handlers_generic_handler(
        "tests.Pings", {"Quiet": grpc.unary_stream_rpc_method_handler(_quiet)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    tap = FrameTap(port)
    try:
        yield tap, f"127.0.0.1:{await tap.start()}"
    finally:
        await server.stop(None)
        await tap.stop()


def _pinging_every(*, ms: int) -> list[tuple[str, object]]:
    """The desk's client channel options, pinging every ``ms`` whether or not data flows: grpc otherwise allows a
    client two pings without sending data, then one a minute, and the desk's own clients take minutes to meet
    the third strike; these take seconds."""
    options = dict(CHANNEL_OPTIONS) | {"grpc.keepalive_time_ms": ms, "grpc.http2.max_pings_without_data": 0}
    return list(options.items())


def test_the_desks_clients_ping_well_within_the_servers_policy() -> None:
    """The internal streams' keepalive (``edge/upstream.py``) stays at least twice the gap the servers accept, so
    timer slack never turns one of its pings into a strike."""
    assert dict(CHANNEL_OPTIONS)["grpc.keepalive_time_ms"] >= 2 * MIN_PING_INTERVAL_WITHOUT_DATA_MS


@pytest.mark.slow
async def test_a_quiet_stream_pinged_at_the_allowed_pace_is_never_cut() -> None:
    interval_ms = MIN_PING_INTERVAL_WITHOUT_DATA_MS + 1_000
    async with (
        _desk_server_behind_tap() as (tap, address),
        grpc.aio.insecure_channel(address, options=_pinging_every(ms=interval_ms)) as channel,
    ):
        call = channel.unary_stream(QUIET_METHOD)(b"")
        assert await call.read() == b"hello"
        # Under the 5-minute default the third ping too soon was refused: the fifth ping at most.
        await wait_for(
            lambda: tap.wire.client_pings >= 6 or tap.wire.goaways,
            timeout=12 * interval_ms / 1000,
            what="6 client pings, or a GOAWAY",
        )
        assert tap.wire.goaways == []
        assert not call.done()
        call.cancel()


async def test_a_client_flooding_pings_is_sent_goaway() -> None:
    """The protection the policy is for: a client (the order API serves clients we do not run) pinging every
    second on a quiet stream loses its connection after two strikes."""
    async with (
        _desk_server_behind_tap() as (tap, address),
        grpc.aio.insecure_channel(address, options=_pinging_every(ms=1_000)) as channel,
    ):
        call = channel.unary_stream(QUIET_METHOD)(b"")
        assert await call.read() == b"hello"
        await wait_for(lambda: tap.wire.goaways, timeout=30, what="a GOAWAY from the server")
        assert tap.wire.goaways == [(ENHANCE_YOUR_CALM, b"too_many_pings")]
        assert await call.code() == grpc.StatusCode.UNAVAILABLE
