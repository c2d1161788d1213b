"""A peer that goes silent is noticed within seconds, and the subscription reconnects to a live one.

A dead node or a network partition sends no reset: the connection stays open and nothing comes. Only gRPC's
keepalive pings can tell, and only if a ping that gets no answer ends the connection soon. grpc core waits
``grpc.http2.ping_timeout_ms`` (60 s by default) for any ping; it does not apply ``grpc.keepalive_timeout_ms``
to the ping, and the desk's subscriptions, which set only the latter, noticed such a peer 60-70 s after it
went silent, while the risk gate failed closed or routing's market data went stale. The desk's channels now
ping after 10 s without a frame and give up 5 s later (``security/channels.py`` ``KEEPALIVE``).

The silence is made by a real relay between real gRPC peers (``tests/http2_relay.py``): it stops forwarding and
keeps the sockets open, and its kernel still acknowledges every byte, so nothing below gRPC notices: the case
of a hung or stopped peer process, or a proxy in between. (When the peer's host is gone, the socket's
``TCP_USER_TIMEOUT``, which grpc sets from ``grpc.keepalive_timeout_ms``, ends the connection about as soon.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from tests.http2_relay import Http2Relay
from tests.waiting import wait_for
from tradingdesk.edge.upstream import Upstream
from tradingdesk.security import channels
from tradingdesk.security.server import plaintext

SERVICE = "tests.Silence"
TICKS_METHOD = f"/{SERVICE}/Ticks"
QUIET_METHOD = f"/{SERVICE}/Quiet"
NOTICED_WITHIN_S = 20.0
"""The bound the tests hold the desk's channels to: a ping 10 s after the last frame, 5 s for its answer, and
slack for a loaded machine. Before, the subscription took 70 s; the quiet stream never pinged."""
GIVE_UP_S = 90.0
"""How long a test waits at most, so that a channel noticing late fails with the time it took."""


def _ticking(name: bytes) -> Callable[[bytes, grpc.aio.ServicerContext], AsyncIterator[bytes]]:
    async def ticks(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        """A message every 100 ms, naming the server: market data on a live feed."""
        while True:
            yield name
            await asyncio.sleep(0.1)

    return ticks


async def _quiet(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    """One message, then nothing: risk events or feed line switches on a calm day."""
    yield b"hello"
    await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def _desk_server(name: bytes) -> AsyncIterator[int]:
    """A server with the desk's server options (ping policy, keepalive); yields its port."""
    server = grpc.aio.server(options=plaintext().options)
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Ticks": grpc.unary_stream_rpc_method_handler(_ticking(name)),
            "Quiet": grpc.unary_stream_rpc_method_handler(_quiet),
        },
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port
    finally:
        await server.stop(None)


@contextlib.asynccontextmanager
async def _relay_to(port: int) -> AsyncIterator[tuple[Http2Relay, str]]:
    relay = Http2Relay(port)
    try:
        yield relay, f"127.0.0.1:{await relay.start()}"
    finally:
        await relay.stop()


@pytest.mark.slow
async def test_a_subscription_notices_a_silent_peer_and_reconnects_to_a_live_one() -> None:
    """``edge/upstream.py``'s subscription, as routing follows feeds: the peer goes silent mid-stream (its node
    died); the subscription fails and dials again, and the address now leads to a live server (the replacement
    pod)."""
    received: list[bytes] = []

    async def consume(channel: grpc.aio.Channel) -> None:
        async for message in channel.unary_stream(TICKS_METHOD)(b""):
            received.append(message)

    async with (
        _desk_server(b"dead") as dead_port,
        _desk_server(b"live") as live_port,
        _relay_to(dead_port) as (relay, address),
    ):
        upstream = Upstream("ticks", address, consume)
        upstream.start()
        try:
            await wait_for(lambda: b"dead" in received, what="ticks from the first server")
            relay.upstream_port = live_port
            relay.go_silent()
            silent_at = time.monotonic()
            await wait_for(lambda: b"live" in received, timeout=GIVE_UP_S, what="ticks from the live server")
            took = time.monotonic() - silent_at
        finally:
            await upstream.stop()
    assert took < NOTICED_WITHIN_S, f"the subscription took {took:.1f} s to notice its silent peer and reconnect"
    assert upstream.failures == 1
    assert relay.connections == 2


@pytest.mark.slow
async def test_a_quiet_stream_keeps_pinging_and_notices_a_silent_peer() -> None:
    """A plain stream through the desk's channel helper that has been quiet for a while (grpc lets a client
    that sends nothing ping twice, then once a minute, unless told otherwise): its pings go on every 10 s, and
    the silence is noticed as soon as on a busy stream."""
    async with (
        _desk_server(b"quiet") as port,
        _relay_to(port) as (relay, address),
        channels.aio_channel(address) as channel,
    ):
        call = channel.unary_stream(QUIET_METHOD)(b"")
        assert await call.read() == b"hello"
        await wait_for(lambda: relay.wire.client_pings >= 3, timeout=GIVE_UP_S, what="a third ping on the quiet stream")
        assert relay.wire.goaways == []
        relay.go_silent()
        silent_at = time.monotonic()
        await wait_for(call.done, timeout=GIVE_UP_S, what="the stream to fail")
        took = time.monotonic() - silent_at
        assert await call.code() == grpc.StatusCode.UNAVAILABLE
    assert took < NOTICED_WITHIN_S, f"the stream took {took:.1f} s to notice its silent peer"


BUSY_SERVER = """
import asyncio, sys, time
import grpc

async def busy(request, context):
    yield b"hello"
    end = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < end:  # Python busy on the event loop, holding the GIL: nothing else of it runs
        pass
    yield b"after"

async def main():
    server = grpc.aio.server(options=[("grpc.http2.min_ping_interval_without_data_ms", 100)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "tests.Silence", {"Busy": grpc.unary_stream_rpc_method_handler(busy)}),))
    print(server.add_insecure_port("127.0.0.1:0"), flush=True)
    await server.start()
    await server.wait_for_termination()

asyncio.run(main())
"""


@contextlib.asynccontextmanager
async def _busy_server(*, busy_s: float) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """A server in a process of its own (``BUSY_SERVER``); yields the process and its port."""
    env = dict(os.environ, GRPC_ENABLE_FORK_SUPPORT="false")
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BUSY_SERVER, str(busy_s), stdout=asyncio.subprocess.PIPE, env=env
    )
    try:
        assert server.stdout is not None
        yield server, int(await asyncio.wait_for(server.stdout.readline(), timeout=60))
    finally:
        server.kill()
        await server.wait()


def _pinging_fast() -> list[tuple[str, object]]:
    """The desk's client keepalive, sped up: a ping after 0.5 s without a frame (grpc sends one a second at
    most), 0.5 s for its answer."""
    return list((dict(channels.KEEPALIVE) | {"grpc.keepalive_time_ms": 500, "grpc.http2.ping_timeout_ms": 500}).items())


async def test_a_peer_busy_in_python_still_answers_pings() -> None:
    """What makes a short ping timeout safe: grpc core acknowledges a ping on its own threads, not on the
    peer's Python event loop. The server keeps its event loop busy for 3 s; the client's pings, each given
    0.5 s, are answered meanwhile, and the stream goes on."""
    async with (
        _busy_server(busy_s=3.0) as (_, port),
        _relay_to(port) as (relay, address),
        channels.aio_channel(address, options=_pinging_fast()) as channel,
    ):
        call = channel.unary_stream(f"/{SERVICE}/Busy")(b"")
        assert await call.read() == b"hello"
        acks_before = relay.wire.server_ping_acks
        assert await call.read() == b"after"
        assert relay.wire.server_ping_acks - acks_before >= 2


async def test_a_stopped_peer_is_dropped_at_its_first_unanswered_ping() -> None:
    """The same server, stopped (SIGSTOP: its kernel still acknowledges the bytes, nothing of it runs): the
    first ping goes unanswered and the stream fails within the ping timeout, so the test above can tell."""
    async with (
        _busy_server(busy_s=3.0) as (server, port),
        channels.aio_channel(f"127.0.0.1:{port}", options=_pinging_fast()) as channel,
    ):
        call = channel.unary_stream(f"/{SERVICE}/Busy")(b"")
        assert await call.read() == b"hello"
        server.send_signal(signal.SIGSTOP)
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call.read()
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "ping timeout" in (failed.value.details() or "")
