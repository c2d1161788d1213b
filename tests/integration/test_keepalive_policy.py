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

import grpc
import pytest

from tests.http2_relay import ENHANCE_YOUR_CALM, Http2Relay
from tests.waiting import wait_for
from tradingdesk.security.channels import KEEPALIVE
from tradingdesk.security.server import MIN_PING_INTERVAL_WITHOUT_DATA_MS, plaintext

QUIET_METHOD = "/tests.Pings/Quiet"


async def _quiet(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    """One message, then nothing for as long as the client stays: the risk events or line switches of a calm
    day."""
    yield b"hello"
    await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def _desk_server_behind_tap() -> AsyncIterator[tuple[Http2Relay, str]]:
    """A server with the desk's options (``server_options``), reached through an ``Http2Relay``."""
    server = grpc.aio.server(options=plaintext().options)
    handler = grpc.method_handlers_generic_handler(
        "tests.Pings", {"Quiet": grpc.unary_stream_rpc_method_handler(_quiet)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    tap = Http2Relay(port)
    try:
        yield tap, f"127.0.0.1:{await tap.start()}"
    finally:
        await server.stop(None)
        await tap.stop()


def _pinging_every(*, ms: int) -> list[tuple[str, object]]:
    """The desk's client keepalive, pinging every ``ms`` on a quiet stream (the desk's own clients ping every
    10 s, and would take minutes to meet a third strike; these take seconds)."""
    return list((dict(KEEPALIVE) | {"grpc.keepalive_time_ms": ms}).items())


def test_the_desks_clients_ping_well_within_the_servers_policy() -> None:
    """The desk's clients' keepalive (``security/channels.py``) stays at least twice the gap the servers accept, so
    timer slack never turns one of its pings into a strike."""
    assert dict(KEEPALIVE)["grpc.keepalive_time_ms"] >= 2 * MIN_PING_INTERVAL_WITHOUT_DATA_MS


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
